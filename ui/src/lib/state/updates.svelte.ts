// The app's own state: whether calls can work (the call library is
// there), and updates — checked at start and on request, installed only
// when the person asks and never during a call.
import { asAppError, type AppStatus, type Ipc, type UpdateInfo, type Unlisten } from '../ipc/ipc';

export type UpdatePhase =
  | { name: 'idle' }
  | { name: 'off' }
  | { name: 'checking' }
  | { name: 'current' }
  | { name: 'available'; info: UpdateInfo }
  | { name: 'installing'; info: UpdateInfo; downloaded: number; total: number | null }
  | { name: 'failed'; message: string; info: UpdateInfo | null };

export class UpdatesModel {
  status = $state<AppStatus | null>(null);
  phase = $state<UpdatePhase>({ name: 'idle' });
  /// The start-up offer was dismissed (the footer still shows it).
  dismissed = $state(false);
  private unlisten: Unlisten | null = null;

  constructor(
    readonly ipc: Ipc,
    /// Whether a call is running (an update never interrupts one).
    private readonly inCall: () => boolean,
  ) {}

  async start() {
    this.unlisten = await this.ipc.onUpdateProgress((downloaded, total) => {
      if (this.phase.name === 'installing') this.phase = { ...this.phase, downloaded, total };
    });
    try {
      this.status = await this.ipc.appStatus();
    } catch (e) {
      this.status = { version: '', callLibraryProblem: asAppError(e).message, updates: false };
    }
    if (!this.status.updates) {
      this.phase = { name: 'off' };
      return;
    }
    await this.check();
  }

  stop() {
    this.unlisten?.();
  }

  async check() {
    if (this.phase.name === 'checking' || this.phase.name === 'installing') return;
    this.phase = { name: 'checking' };
    try {
      const info = await this.ipc.updateCheck();
      this.phase = info ? { name: 'available', info } : { name: 'current' };
    } catch (e) {
      const err = asAppError(e);
      this.phase = { name: 'failed', message: err.message, info: null };
    }
  }

  async install() {
    const p = this.phase;
    if (p.name !== 'available' && !(p.name === 'failed' && p.info)) return;
    const info = p.info!;
    if (this.inCall()) {
      this.phase = { name: 'failed', message: 'Tandem updates after your call: leave the call first.', info };
      return;
    }
    this.phase = { name: 'installing', info, downloaded: 0, total: null };
    try {
      // On success the app restarts into the new version.
      await this.ipc.updateInstall();
    } catch (e) {
      this.phase = { name: 'failed', message: asAppError(e).message, info };
    }
  }
}

/// "12.3 of 40.0 MB", or just what has arrived when the size is unknown.
export function progressText(downloaded: number, total: number | null): string {
  const mb = (n: number) => (n / 1_000_000).toFixed(1);
  return total ? `${mb(downloaded)} of ${mb(total)} MB` : `${mb(downloaded)} MB`;
}
