// Which screen is shown and the choices carried between them. Screens call
// the IPC interface through here so that transitions live in one place.
import { asAppError, type AppError, type Ipc, type JoinTarget, type Unlisten } from '../ipc/ipc';
import { CallModel, type Ended } from './call.svelte';
import { UpdatesModel } from './updates.svelte';
import type { BackgroundChoice } from '../ipc/ipc';
import type { Reaction } from '../ipc/bindings';

export type Screen =
  | { name: 'connect' }
  | { name: 'prejoin'; target: JoinTarget }
  | { name: 'call'; target: JoinTarget }
  | { name: 'ended'; target: JoinTarget; ended: Ended }
  | { name: 'error'; error: AppError; target: JoinTarget | null };

/// What the user chose on prejoin, remembered between sessions (no secrets).
export interface Choices {
  displayName: string;
  camera: string | null;
  microphone: string | null;
  speaker: string | null;
  cameraOn: boolean;
  micOn: boolean;
  /// Background noise (typing, voices around, hiss) removed from the microphone.
  noiseRemoval: boolean;
  /// What happens behind the person in the camera's pictures.
  background: BackgroundChoice;
  /// A small window on top shows the call while Tandem is in the background.
  floating: boolean;
}

const CHOICES_KEY = 'tandem.choices';

function loadChoices(): Choices {
  const fallback: Choices = { displayName: '', camera: null, microphone: null, speaker: null, cameraOn: true, micOn: true, noiseRemoval: true, background: 'off', floating: true };
  try {
    const raw = localStorage.getItem(CHOICES_KEY);
    if (!raw) return fallback;
    const v = JSON.parse(raw) as Partial<Choices>;
    const str = (x: unknown) => (typeof x === 'string' ? x : null);
    return {
      displayName: str(v.displayName)?.slice(0, 64) ?? '',
      camera: str(v.camera),
      microphone: str(v.microphone),
      speaker: str(v.speaker),
      cameraOn: v.cameraOn !== false,
      micOn: v.micOn !== false,
      noiseRemoval: v.noiseRemoval !== false,
      background: backgroundChoice(v.background),
      floating: v.floating !== false,
    };
  } catch {
    return fallback;
  }
}

export class AppModel {
  screen = $state<Screen>({ name: 'connect' });
  call = $state<CallModel | null>(null);
  choices = $state<Choices>(loadChoices());
  /// The platform selected on the connect screen.
  platformId = $state<string | null>(null);
  micOn = $state(true);
  cameraOn = $state(true);
  /// Something to tell whatever screen is up (a link that could not be opened now).
  notice = $state<string | null>(null);
  /// Why the last background choice could not be applied (shown by the menu).
  backgroundError = $state<string | null>(null);
  private unlisten: Unlisten | null = null;
  private unlistenLinks: Unlisten | null = null;

  /// The app's own state: call library, version, updates.
  readonly updates: UpdatesModel;

  /// A passphrase typed at prejoin for an end-to-end encrypted call: kept
  /// in memory until the call starts, never saved with the choices.
  passphrase = $state('');

  constructor(readonly ipc: Ipc) {
    this.updates = new UpdatesModel(ipc, () => this.screen.name === 'call');
  }

  async start() {
    // In the background: a slow update feed must not hold up a join link.
    void this.updates.start();
    this.unlistenLinks = await this.ipc.onOpenLink((link) => void this.openLink(link));
    this.unlisten = await this.ipc.onCallUpdate((u) => {
      const call = this.call;
      if (!call) return;
      call.apply(u);
      const s = this.screen;
      if (s.name !== 'call') return;
      if (u.type === 'ended') {
        this.screen = { name: 'ended', target: s.target, ended: call.ended! };
      } else if (u.type === 'failed') {
        this.screen = { name: 'error', error: u.error, target: s.target };
      }
    });
  }

  /// Opens the link the app was started with (the demo, links from the OS).
  async openLaunchLink() {
    let opts;
    try {
      opts = await this.ipc.launchOptions();
    } catch {
      return;
    }
    if (opts.name) this.choices.displayName = opts.name;
    if (!opts.link) return;
    try {
      const target = await this.ipc.openJoinLink(opts.link, null);
      this.toPrejoin(target);
      if (opts.joinNow && this.choices.displayName.trim()) {
        // Joining without the prejoin screen: a machine without a camera
        // shows the test pattern rather than nothing.
        const d = await this.ipc.devicesList().catch(() => null);
        if (d && !this.choices.camera && !d.cameras.some((c) => c.id !== 'test-pattern')) {
          this.choices.camera = 'test-pattern';
        }
        await this.join(target);
      }
    } catch (e) {
      this.showError(e, null);
    }
  }

  stop() {
    this.updates.stop();
    this.unlisten?.();
    this.unlistenLinks?.();
  }

  /// A link from another launch: opened at once, except during a call,
  /// which it never interrupts.
  async openLink(link: string) {
    if (this.screen.name === 'call') {
      this.notice = 'A join link was opened. Leave this call to join that session.';
      return;
    }
    try {
      this.notice = null;
      this.toPrejoin(await this.ipc.openJoinLink(link, null));
    } catch (e) {
      this.showError(e, null);
    }
  }

  saveChoices() {
    try {
      localStorage.setItem(CHOICES_KEY, JSON.stringify(this.choices));
    } catch {
      /* private mode: not remembered */
    }
  }

  toConnect() {
    void this.ipc.previewClose().catch(() => {});
    this.call = null;
    this.screen = { name: 'connect' };
  }

  toPrejoin(target: JoinTarget) {
    this.call = null;
    this.platformId = target.platformId;
    this.screen = { name: 'prejoin', target };
  }

  showError(e: unknown, target: JoinTarget | null) {
    this.screen = { name: 'error', error: asAppError(e), target };
  }

  async join(target: JoinTarget) {
    this.saveChoices();
    const c = this.choices;
    // The passphrase is handed to the app for this call and forgotten here.
    const passphrase = this.passphrase.length > 0 ? this.passphrase : null;
    this.passphrase = '';
    const kind = target.kind;
    this.micOn = kind !== 'chat' && c.micOn;
    this.cameraOn = kind === 'video' && c.cameraOn;
    this.call = new CallModel(kind, target.otherName ?? '', target.paidMinutes);
    this.call.encrypted = target.encrypted || passphrase !== null;
    this.screen = { name: 'call', target };
    try {
      await this.ipc.callJoin({
        target,
        displayName: c.displayName,
        camera: c.camera,
        microphone: c.microphone,
        speaker: c.speaker,
        cameraOn: this.cameraOn,
        micOn: this.micOn,
        noiseRemoval: c.noiseRemoval,
        passphrase,
      });
    } catch (e) {
      this.showError(e, target);
    }
  }

  /// Remembers the background choice and applies it to the camera (the
  /// preview's now, the call's once joined); a failure is said by the menu.
  async setBackground(background: BackgroundChoice) {
    this.choices.background = background;
    this.saveChoices();
    try {
      await this.ipc.setBackground(background);
      this.backgroundError = null;
    } catch (e) {
      // A picture that is gone (or a scene no longer offered): nothing
      // behind the person rather than a choice that does not apply.
      this.backgroundError = asAppError(e).message;
      this.choices.background = 'off';
      this.saveChoices();
      await this.ipc.setBackground('off').catch(() => {});
    }
  }

  async toggleMic() {
    if (!this.call || this.call.kind === 'chat') return;
    const on = !this.micOn;
    this.micOn = on;
    try {
      await this.ipc.callSetMic(on);
    } catch (e) {
      // The microphone stays as it was; say why.
      this.micOn = !on;
      this.call?.deviceProblem('microphone', asAppError(e).message);
    }
  }

  async toggleCamera() {
    if (!this.call || this.call.kind !== 'video') return;
    const on = !this.cameraOn;
    this.cameraOn = on;
    try {
      await this.ipc.callSetCamera(on);
    } catch (e) {
      // The camera stays as it was; say why.
      this.cameraOn = !on;
      this.call?.deviceProblem('camera', asAppError(e).message);
    }
  }

  /// Runs `command` on the call in progress; why it could not, or null.
  private async inCall(command: () => Promise<unknown>): Promise<string | null> {
    if (!this.call) return 'The call has already ended.';
    try {
      await command();
      return null;
    } catch (e) {
      return asAppError(e).message;
    }
  }

  /// Shares a screen or window (`null`: stops); why it could not, or null.
  share(id: string | null): Promise<string | null> {
    return this.inCall(() => this.ipc.callShare(id));
  }

  /// Raises or lowers our hand; why it could not, or null.
  /// Lowers someone's hand (as the session's host); why not, or null.
  lowerHand(identity: string): Promise<string | null> {
    return this.inCall(() => this.ipc.callLowerHand(identity));
  }

  raiseHand(raise: boolean): Promise<string | null> {
    return this.inCall(() => this.ipc.callRaiseHand(raise));
  }

  /// Sends a reaction; why it could not, or null.
  react(reaction: Reaction): Promise<string | null> {
    return this.inCall(() => this.ipc.callReact(reaction));
  }

  /// Opens the system's file picker and sends what is chosen; why it
  /// could not, or null.
  sendFiles(): Promise<string | null> {
    return this.inCall(() => this.ipc.fileSendPick());
  }

  /// Stops sending or receiving a file; why it could not, or null.
  cancelFile(id: string): Promise<string | null> {
    return this.inCall(() => this.ipc.fileCancel(id));
  }

  /// Saves a received file where the person chooses; why it could not, or null.
  async saveFile(id: string): Promise<string | null> {
    try {
      const path = await this.ipc.fileSave(id);
      if (path !== null && this.call) this.call.savedFiles = { ...this.call.savedFiles, [id]: path };
      return null;
    } catch (e) {
      return asAppError(e).message;
    }
  }

  /// Changes the encrypted call's passphrase; why it could not, or null.
  async changePassphrase(passphrase: string): Promise<string | null> {
    if (passphrase === '' && this.call) return 'Type the new passphrase first.';
    return this.inCall(async () => {
      await this.ipc.callChangePassphrase(passphrase);
      if (this.call) this.call.keyChangedBy = [];
    });
  }

  async sendChat(text: string) {
    const call = this.call;
    if (!call) return;
    const entry = call.addOutgoing(text);
    try {
      call.sending(entry, await this.ipc.callSendChat(text));
    } catch (e) {
      call.refused(entry, asAppError(e).message);
    }
  }
}

/// A remembered background choice, as far as it is one (else none).
function backgroundChoice(v: unknown): BackgroundChoice {
  if (v === 'blur' || v === 'blurStrong' || v === 'picture') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { scene?: unknown }).scene === 'string') {
    return { scene: (v as { scene: string }).scene.slice(0, 64) };
  }
  return 'off';
}
