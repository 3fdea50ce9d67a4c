// A scripted Ipc for browser tests and UI work without the app: one
// platform, a few sessions, devices, and a call with one remote person
// whose video is generated here. Tests drive it further through
// `window.__fake` (emit updates, make the next join fail).
import {
  IpcError,
  type AppError,
  type AppStatus,
  type BackgroundChoice,
  type Ipc,
  type VideoLayout,
  type ViewStats,
  type CallUpdate,
  type DeviceList,
  type FileLine,
  type FrameResult,
  type JoinRequest,
  type JoinTarget,
  type NetworkChange,
  type Note,
  type NoteKey,
  type NewPlatform,
  type Reaction,
  type FloatAction,
  type FloatView,
  type Platform,
  type SignIn,
  type UpdateInfo,
} from './ipc';
import { ORANGE, PAPER, TEAL, synthFrame } from './fakeVideo';

type Listener<T> = (v: T) => void;

const NO_NETWORK: Platform['network'] = {
  stun: [],
  turnUrl: null,
  turnUsername: null,
  hasTurnCredential: false,
  relayOnly: false,
};

/// Colours as YUV (BT.601 limited range).

export interface FakeOptions {
  /// Start signed out with no platforms.
  empty?: boolean;
  /// The next join fails with this error.
  failJoin?: AppError;
  /// Milliseconds per join stage.
  stageMs?: number;
  /// Why calls cannot work (the call library is missing).
  libraryProblem?: string;
  /// The update feed offers this version.
  update?: UpdateInfo;
  /// The update feed fails with this error.
  updateError?: AppError;
  /// This page is the floating window's.
  floatWindow?: boolean;
  /// Play the native video path (the page reports layouts).
  nativeVideo?: boolean;
}

export class FakeIpc implements Ipc {
  platforms: Platform[] = [];
  private updates = new Set<Listener<CallUpdate>>();
  private levels = new Set<Listener<number>>();
  private links = new Set<Listener<string>>();
  private progress = new Set<(d: number, t: number | null) => void>();
  private floatViews = new Set<Listener<FloatView>>();
  private floatRequests = new Set<Listener<FloatAction>>();
  private floatWindow: boolean;
  private nativeVideo: boolean;
  private nativeDrawn = 0;
  /// The native path's last layout, and how many came.
  lastLayout: VideoLayout | null = null;
  layouts = 0;
  /// What the main page last asked the floating window to show.
  floatShown: FloatView | null = null;
  /// What the fake floating page shows (the main page's part, scripted).
  floatScript: FloatView = {
    title: 'Weekly check-in',
    identity: 'coach',
    name: 'Coach Alex',
    video: true,
    speaking: true,
    muted: false,
    micOn: true,
    cameraOn: true,
  };
  private meter: ReturnType<typeof setInterval> | null = null;
  private inCall = false;
  private nextChat = 0;
  private started = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private cameraOn = true;
  private encryptedCall = false;
  /// The passphrase the fake coach's media is encrypted with.
  private coachPassphrase = 'coach-passphrase';
  remoteVideo = true;
  /// The token does not let us share a screen.
  shareForbidden = false;
  /// The coach is sharing a screen.
  coachSharing = false;
  /// What we share (its name), if anything.
  private sharing: string | null = null;
  failJoin: AppError | null;
  /// When set, turning the microphone on fails with this (as when the
  /// engine cannot unmute the track).
  failUnmute: AppError | null = null;
  stageMs: number;
  /// Everything the UI asked for, for assertions.
  calls: { name: string; args: unknown[] }[] = [];
  sentChat: string[] = [];
  opened: string[] = [];

  status: AppStatus;
  update: UpdateInfo | null;
  updateError: AppError | null;

  constructor(opts: FakeOptions = {}) {
    this.status = { version: '0.1.0', callLibraryProblem: opts.libraryProblem ?? null, updates: true };
    this.update = opts.update ?? null;
    this.updateError = opts.updateError ?? null;
    this.failJoin = opts.failJoin ?? null;
    this.stageMs = opts.stageMs ?? 150;
    this.floatWindow = opts.floatWindow ?? false;
    this.nativeVideo = opts.nativeVideo ?? false;
    if (!opts.empty) {
      this.platforms.push({
        id: 'p1',
        name: 'Coaching Studio',
        backendUrl: 'https://studio.example.com',
        profile: '000',
        anonKey: null,
        supabaseUrl: null,
        socketUrl: null,
        network: NO_NETWORK,
        account: 'client@example.com',
        signedIn: true,
        remembered: true,
      });
    }
  }

  private log(name: string, ...args: unknown[]) {
    this.calls.push({ name, args });
  }

  private find(id: string): Platform {
    const p = this.platforms.find((x) => x.id === id);
    if (!p) throw new IpcError({ code: 'not_found', message: 'That platform was removed.' });
    return p;
  }

  emit(u: CallUpdate) {
    for (const l of this.updates) l(u);
  }

  async platformsList() {
    this.log('platformsList');
    return structuredClone(this.platforms);
  }

  async platformAdd(n: NewPlatform) {
    this.log('platformAdd', n);
    let url: URL;
    try {
      url = new URL(n.backendUrl.trim());
    } catch {
      throw new IpcError({
        code: 'invalid_input',
        message: `"${n.backendUrl}" is not a web address; it should look like https://coach.example.com.`,
      });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new IpcError({
        code: 'invalid_input',
        message: 'The backend address must start with https:// (or http:// for a local test server).',
      });
    }
    const p: Platform = {
      id: `p${this.platforms.length + 1}`,
      name: n.name.trim() || url.host,
      backendUrl: url.origin,
      profile: n.profile,
      anonKey: n.anonKey,
      supabaseUrl: n.supabaseUrl,
      socketUrl: n.socketUrl,
      network: NO_NETWORK,
      account: null,
      signedIn: n.profile === '004',
      remembered: true,
    };
    this.platforms.push(p);
    return structuredClone(p);
  }

  async platformSetNetwork(id: string, n: NetworkChange) {
    this.log('platformSetNetwork', id, { ...n, turnCredential: n.turnCredential ? '<typed>' : null });
    const p = this.find(id);
    const invalid = (message: string) => new IpcError({ code: 'invalid_input', message });
    if (p.profile !== '004') throw invalid('Only peer-to-peer platforms (join links) use STUN and TURN servers.');
    const bad = n.stun.find((s) => !s.startsWith('stun:'));
    if (bad) throw invalid(`"${bad}" is not a STUN server: write it as stun:host:port.`);
    if (n.turnUrl && !n.turnUrl.startsWith('turn:')) {
      throw invalid(`TURN server: "${n.turnUrl}" is not a TURN server address (turn:host:port).`);
    }
    if (n.relayOnly && !n.turnUrl) throw invalid('Relaying every call needs a TURN server.');
    if (n.turnUrl && !n.turnUsername) throw invalid("Enter the TURN server's username.");
    const hasCredential = !!n.turnUrl && (!!n.turnCredential || p.network.hasTurnCredential);
    if (n.turnUrl && !hasCredential) throw invalid("Enter the TURN server's credential (password).");
    p.network = {
      stun: n.stun,
      turnUrl: n.turnUrl,
      turnUsername: n.turnUrl ? n.turnUsername : null,
      hasTurnCredential: hasCredential,
      relayOnly: n.relayOnly,
    };
    return structuredClone(p);
  }

  async platformRemove(id: string) {
    this.log('platformRemove', id);
    this.platforms = this.platforms.filter((p) => p.id !== id);
  }

  async signIn(id: string, c: SignIn) {
    this.log('signIn', id, c.kind);
    const p = this.find(id);
    if (c.kind === 'password') {
      if (c.password !== 'demo-password') {
        throw new IpcError({
          code: 'sign_in_required',
          message: 'The backend did not accept your sign-in (wrong email or password): sign in again',
        });
      }
      p.account = c.email;
    } else {
      p.account = 'token';
    }
    p.signedIn = true;
    return structuredClone(p);
  }

  async signOut(id: string) {
    this.log('signOut', id);
    const p = this.find(id);
    p.signedIn = false;
    p.account = null;
    return structuredClone(p);
  }

  async sessionsList(id: string): Promise<JoinTarget[]> {
    this.log('sessionsList', id);
    const p = this.find(id);
    if (!p.signedIn) throw new IpcError({ code: 'sign_in_required', message: `Sign in to ${p.name} first.` });
    const soon = new Date(Date.now() + 10 * 60_000).toISOString();
    return [
      { platformId: id, session: 's-video', link: null, kind: 'video', title: 'Session with Coach Alex', otherName: 'Coach Alex', paidMinutes: 45, startsAt: soon, encrypted: false },
      { platformId: id, session: 's-voice', link: null, kind: 'voice', title: 'Voice check-in with Coach Alex', otherName: 'Coach Alex', paidMinutes: 15, startsAt: soon, encrypted: false },
      { platformId: id, session: 's-chat', link: null, kind: 'chat', title: 'Chat with Coach Alex', otherName: 'Coach Alex', paidMinutes: 30, startsAt: soon, encrypted: false },
    ];
  }

  async sessionById(id: string, session: string): Promise<JoinTarget> {
    this.log('sessionById', id, session);
    if (!session.trim()) throw new IpcError({ code: 'invalid_input', message: "Enter the session id shown on the platform's website." });
    return { platformId: id, session: session.trim(), link: null, kind: 'video', title: `Session ${session.trim()}`, otherName: null, paidMinutes: null, startsAt: null, encrypted: false };
  }

  async openJoinLink(link: string, _backendUrl: string | null): Promise<JoinTarget> {
    this.log('openJoinLink', link);
    let token: string | null = null;
    try {
      const u = new URL(link.trim());
      token = u.searchParams.get('token');
    } catch {
      /* fall through */
    }
    if (!token) {
      throw new IpcError({ code: 'invalid_input', message: 'Paste the whole join link from your booking email (it starts with https://).' });
    }
    if (token === 'expired') throw new IpcError({ code: 'gone', message: 'This link has expired: ask your coach for a new one' });
    const p = await this.platformAdd({ name: '', backendUrl: new URL(link).origin, profile: '004', anonKey: null, supabaseUrl: null, socketUrl: null });
    // As the app: a passphrase after #key= makes the call encrypted, and
    // stays out of what the page is given.
    const encrypted = /(^|&)key=./.test(new URL(link.trim()).hash.slice(1));
    return { platformId: p.id, session: 'linked', link: token, kind: 'video', title: 'Session with Coach Alex', otherName: 'Coach Alex', paidMinutes: 30, startsAt: null, encrypted };
  }

  launch: { link: string | null; name: string | null; joinNow: boolean } = { link: null, name: null, joinNow: false };

  async launchOptions() {
    return this.launch;
  }

  async devicesList(): Promise<DeviceList> {
    this.log('devicesList');
    return {
      cameras: [
        { id: 'cam-1', name: 'Integrated Camera', isDefault: true },
        { id: 'test-pattern', name: 'Test pattern', isDefault: false },
      ],
      microphones: [
        { id: 'mic-1', name: 'Built-in Microphone', isDefault: true },
        { id: 'mic-2', name: 'USB Headset Microphone', isDefault: false },
      ],
      speakers: [
        { id: 'spk-1', name: 'Built-in Speakers', isDefault: true },
        { id: 'spk-2', name: 'USB Headset', isDefault: false },
      ],
    };
  }

  async previewSet(camera: string | null, cameraOn: boolean, microphone: string | null, micOn: boolean) {
    this.log('previewSet', camera, cameraOn, microphone, micOn);
    this.cameraOn = cameraOn;
    if (this.meter) clearInterval(this.meter);
    this.meter = null;
    if (micOn) {
      let t = 0;
      this.meter = setInterval(() => {
        t += 1;
        const dbfs = -40 + 25 * Math.abs(Math.sin(t / 6));
        for (const l of this.levels) l(dbfs);
      }, 50);
    }
    return { camera: cameraOn ? 'Integrated Camera' : null, cameraError: null, micError: null };
  }

  async previewClose() {
    this.log('previewClose');
    if (this.meter) clearInterval(this.meter);
    this.meter = null;
  }

  async speakerTest(speaker: string | null) {
    this.log('speakerTest', speaker);
  }

  private wait() {
    return new Promise((r) => setTimeout(r, this.stageMs));
  }

  async callJoin(req: JoinRequest) {
    this.log('callJoin', req);
    if (this.inCall) throw new IpcError({ code: 'invalid_input', message: 'You are already in a call.' });
    if (!req.displayName.trim()) {
      throw new IpcError({ code: 'invalid_input', message: 'Enter your name as others should see it (up to 64 characters).' });
    }
    this.inCall = true;
    this.cameraOn = req.cameraOn;
    void this.script(req);
  }

  private async script(req: JoinRequest) {
    this.emit({ type: 'phase', phase: 'fetchingToken' });
    await this.wait();
    const fail = this.failJoin;
    if (fail) {
      this.failJoin = null;
      this.inCall = false;
      this.emit({ type: 'failed', error: fail });
      return;
    }
    this.emit({ type: 'phase', phase: 'connecting' });
    await this.wait();
    this.emit({ type: 'joined', identity: 'me', room: req.target.session ?? 'room' });
    this.emit({ type: 'participantJoined', identity: 'coach', name: req.target.otherName ?? 'Coach Alex' });
    this.emit({ type: 'phase', phase: 'connected' });
    this.emit({ type: 'deviceInUse', device: 'microphone', name: 'Built-in Microphone' });
    this.emit({ type: 'shareOffered', whyNot: this.shareForbidden ? "The platform's token does not allow sharing a screen" : null });
    if (req.target.kind === 'video') {
      this.emit({ type: 'deviceInUse', device: 'camera', name: 'Integrated Camera' });
      if (this.remoteVideo) this.emit({ type: 'video', identity: 'coach' });
    }
    this.emit({ type: 'quality', identity: 'coach', quality: 'excellent' });
    // An encrypted call: the coach decrypts with the link's passphrase, or
    // not with a typed one other than 'coach-passphrase'.
    const passphrase = req.passphrase ?? null;
    this.encryptedCall = req.target.encrypted || !!passphrase;
    if (this.encryptedCall) {
      this.emit({ type: 'encryption', identity: 'me', working: true });
      const working = req.target.encrypted || passphrase === this.coachPassphrase;
      this.emit({ type: 'encryption', identity: 'coach', working });
    }
    this.started = Date.now();
    this.paid = req.target.paidMinutes;
    this.timer = setInterval(() => this.tick(), 1000);
  }

  private paid: number | null = null;

  private tick() {
    const elapsed = Math.floor((Date.now() - this.started) / 1000);
    const remaining = this.paid === null ? null : Math.max(0, this.paid * 60 - elapsed);
    this.emit({ type: 'timer', elapsedSecs: elapsed, remainingSecs: remaining, endingSoon: remaining !== null && remaining < 300 });
  }

  /// As if `secs` more of the call had passed (its own ticks then agree).
  elapse(secs: number) {
    this.started -= secs * 1000;
    this.tick();
  }

  private finish(kind: 'left' | 'sessionEnded' | 'remote', reason: string) {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const secs = this.started ? Math.floor((Date.now() - this.started) / 1000) : 0;
    this.inCall = false;
    this.emit({ type: 'ended', kind, reason, durationSecs: secs });
  }

  private needCall() {
    if (!this.inCall) throw new IpcError({ code: 'no_call', message: 'The call has already ended.' });
  }

  async callSetMic(on: boolean) {
    this.log('callSetMic', on);
    this.needCall();
    if (on && this.failUnmute) throw new IpcError(this.failUnmute);
  }
  async setBackground(background: BackgroundChoice) {
    this.log('setBackground', background);
    if (background === 'picture' && !this.effects.picture) throw new IpcError({ code: 'invalid_input', message: 'No background picture has been picked yet.' });
  }
  /// The effect's status as the app reports it, and what the picture picker returns next (null: closed).
  effects = { problem: null as string | null, picturesPerMask: 1, scenes: ['studio', 'dawn', 'leaves'], picture: null as string | null, pick: 'beach.jpg' as string | null };
  async backgroundPickPicture() {
    this.log('backgroundPickPicture');
    if (this.effects.pick) this.effects.picture = this.effects.pick;
    return this.effects.pick;
  }
  async backgroundStatus() {
    const { problem, picturesPerMask, scenes, picture } = this.effects;
    return { problem, picturesPerMask, scenes, picture };
  }
  async callSetNoiseRemoval(on: boolean) {
    this.log('callSetNoiseRemoval', on);
    this.needCall();
  }
  async callChangePassphrase(passphrase: string) {
    // Never logged with its value, as the app never logs it.
    this.log('callChangePassphrase', '(passphrase)');
    this.needCall();
    if (!this.encryptedCall) {
      throw new IpcError({ code: 'invalid_input', message: 'This call is not end-to-end encrypted, so it has no passphrase to change. Leave and join again with a passphrase.' });
    }
    this.emit({ type: 'encryption', identity: 'coach', working: passphrase === this.coachPassphrase });
  }
  /// Notes kept (by platform and session) and Markdown exported, in memory.
  notes = new Map<string, Note>();
  exports: { title: string; markdown: string }[] = [];
  async notesLoad(key: NoteKey) {
    this.log('notesLoad', key);
    return structuredClone(this.notes.get(`${key.platformId}\n${key.session}`) ?? { text: '', title: '', updatedMs: 0 });
  }
  async notesSave(key: NoteKey, title: string, text: string) {
    this.log('notesSave', key, text.length);
    const updatedMs = Date.now();
    this.notes.set(`${key.platformId}\n${key.session}`, { text, title, updatedMs });
    return updatedMs;
  }
  async notesExport(title: string, markdown: string) {
    this.log('notesExport', title);
    this.exports.push({ title, markdown });
    return `/home/sam/Downloads/Tandem notes - ${title}.md`;
  }
  async callReact(reaction: Reaction) {
    this.log('callReact', reaction);
    this.needCall();
    this.emit({ type: 'reaction', identity: 'me', reaction });
  }
  async callLowerHand(identity: string) {
    this.log('callLowerHand', identity);
    if (identity === 'me') return this.callRaiseHand(false);
    this.emit({ type: 'hand', identity, raisedAtMs: null });
  }
  async callRaiseHand(raise: boolean) {
    this.log('callRaiseHand', raise);
    this.needCall();
    this.emit({ type: 'hand', identity: 'me', raisedAtMs: raise ? Date.now() : null });
  }
  /// What the next file picker returns: (name, size, type) per file; an
  /// empty list is a closed picker.
  nextPick: { name: string; size: number; mimeType: string }[] = [{ name: 'plan.pdf', size: 2_000_000, mimeType: 'application/pdf' }];
  /// Where the next save dialog saves (null: closed), and what was saved.
  nextSaveFolder: string | null = '/home/sam/Downloads';
  saved: { id: string; path: string }[] = [];
  /// Transfers in progress: id → the timer that moves it.
  private moving = new Map<string, ReturnType<typeof setInterval>>();
  private fileSeq = 0;
  private fileLines = new Map<string, FileLine>();
  private fileUpdate(f: FileLine) {
    this.fileLines.set(f.id, f);
    this.emit({ type: 'file', file: { ...f } });
  }
  /// Moves `f` by a tenth every `everyMs` until done (or cancelled).
  private moveFile(f: FileLine, everyMs: number) {
    this.fileUpdate(f);
    const size = f.size ?? 0;
    const timer = setInterval(() => {
      const cur = this.fileLines.get(f.id);
      if (!cur || cur.status !== 'moving') return clearInterval(timer);
      const done = Math.min(size, cur.done + Math.ceil(size / 10));
      const finished = done >= size;
      this.fileUpdate({
        ...cur,
        done,
        status: finished ? 'done' : 'moving',
        sha256: finished ? 'ab'.repeat(32) : null,
      });
      if (finished) {
        clearInterval(timer);
        this.moving.delete(f.id);
      }
    }, everyMs);
    this.moving.set(f.id, timer);
  }
  async fileSendPick() {
    this.log('fileSendPick');
    this.needCall();
    const ids: string[] = [];
    for (const p of this.nextPick) {
      if (p.size > 100_000_000) {
        throw new IpcError({ code: 'invalid_input', message: `${p.name} is ${Math.round(p.size / 1e6)} MB; files over 100 MB cannot be sent.` });
      }
      const id = `FS_${++this.fileSeq}`;
      ids.push(id);
      this.moveFile(
        { id, identity: 'me', outgoing: true, name: p.name, size: p.size, mimeType: p.mimeType, done: 0, status: 'moving', error: null, sha256: null },
        this.fileStepMs,
      );
    }
    return ids;
  }
  async fileCancel(id: string) {
    this.log('fileCancel', id);
    this.needCall();
    const cur = this.fileLines.get(id);
    if (!cur || cur.status !== 'moving') {
      throw new IpcError({ code: 'invalid_input', message: 'That file is no longer being sent or received.' });
    }
    clearInterval(this.moving.get(id));
    this.fileUpdate({ ...cur, status: 'cancelled' });
  }
  async fileSave(id: string) {
    this.log('fileSave', id);
    const cur = this.fileLines.get(id);
    if (!cur || cur.outgoing || cur.status !== 'done') {
      throw new IpcError({ code: 'invalid_input', message: 'That file is not here any more.' });
    }
    if (this.nextSaveFolder === null) return null;
    // As the app does: no folders, no hidden names, no invisible or refused characters.
    const safe =
      cur.name
        .split(/[\\/]/)
        .pop()!
        // eslint-disable-next-line no-control-regex
        .replace(/[\u0000-\u001f\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF<>:"|?*]/g, '')
        .replace(/^[.\s]+|[.\s]+$/g, '') || 'file';
    const path = `${this.nextSaveFolder}/${safe}`;
    this.saved.push({ id, path });
    return path;
  }
  /// How fast fake transfers move (ms per tenth).
  fileStepMs = 150;
  /// As if the coach sent a file (moving a tenth every `stepMs`); its id.
  coachSendsFile(name: string, size: number, mimeType: string, stepMs = this.fileStepMs): string {
    const id = `FR_${++this.fileSeq}`;
    this.moveFile({ id, identity: 'coach', outgoing: false, name, size, mimeType, done: 0, status: 'moving', error: null, sha256: null }, stepMs);
    return id;
  }
  /// As if the coach's file failed or was cancelled half-way.
  coachFileEnds(id: string, status: 'failed' | 'cancelledBySender', error: string | null = null) {
    const cur = this.fileLines.get(id);
    if (!cur) return;
    clearInterval(this.moving.get(id));
    this.fileUpdate({ ...cur, status, error });
  }
  /// We are the session's host (or not).
  hostGrant(allowed: boolean) {
    this.emit({ type: 'mayLowerHands', allowed });
  }
  /// As if `identity` raised (or lowered) their hand.
  handOf(identity: string, raise: boolean, atMs = Date.now()) {
    this.emit({ type: 'hand', identity, raisedAtMs: raise ? atMs : null });
  }
  /// As if the coach reacted.
  coachReacts(reaction: Reaction) {
    this.emit({ type: 'reaction', identity: 'coach', reaction });
  }
  /// As if the coach changed the passphrase to `passphrase` mid-call.
  coachChangesPassphrase(passphrase: string) {
    this.coachPassphrase = passphrase;
    this.emit({ type: 'keyChanged', identity: 'coach' });
    this.emit({ type: 'encryption', identity: 'coach', working: false });
  }
  async screensList() {
    this.log('screensList');
    return [
      { id: 'screen:0', name: 'Entire screen', screen: true, width: 1920, height: 1080 },
      { id: 'window:0x2a00004', name: 'Training plan <draft>', screen: false, width: 1200, height: 800 },
    ];
  }
  async screenThumbnail(id: string) {
    if (id.startsWith('window:')) throw new IpcError({ code: 'device', message: 'The window could not be captured.' });
    return `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90"><rect width="160" height="90" fill="#1d4ed8"/></svg>')}`;
  }
  async callShare(id: string | null) {
    this.log('callShare', id);
    this.needCall();
    if (id === 'window:gone') {
      throw new IpcError({ code: 'device', message: 'Your screen could not be shared: "window:gone" cannot be shared: it is not open (any more).' });
    }
    if (this.sharing) this.emit({ type: 'screenShare', identity: 'me', sharing: false, name: this.sharing });
    this.sharing = id === null ? null : (await this.screensList()).find((s) => s.id === id)?.name ?? id;
    if (this.sharing) this.emit({ type: 'screenShare', identity: 'me', sharing: true, name: this.sharing });
  }
  /// As if the coach started or stopped sharing a screen.
  coachShares(on: boolean) {
    this.coachSharing = on;
    this.emit({ type: 'screenShare', identity: 'coach', sharing: on, name: null });
  }
  /// As if the window we share closed.
  sharedWindowCloses() {
    this.sharing = null;
    this.emit({ type: 'screenShare', identity: 'me', sharing: false, name: null });
    this.emit({ type: 'warning', message: 'sharing stopped: the shared window was closed' });
  }
  async callSetCamera(on: boolean) {
    this.log('callSetCamera', on);
    this.needCall();
    this.cameraOn = on;
  }
  async callSendChat(text: string) {
    this.log('callSendChat', text);
    this.needCall();
    const id = this.nextChat++;
    this.sentChat.push(text);
    setTimeout(() => {
      if (text.includes('#fail')) {
        this.emit({ type: 'chatFailed', localId: id, text, error: 'not connected' });
      } else {
        this.emit({ type: 'chatSent', localId: id, message: { id: `m${id}`, from: 'me', text, timestampMs: Date.now() } });
      }
    }, 20);
    return id;
  }
  async callSwitchDevice(device: string, id: string | null) {
    this.log('callSwitchDevice', device, id);
    this.needCall();
  }
  async callLeave() {
    this.log('callLeave');
    this.needCall();
    setTimeout(() => this.finish('left', 'You left the call.'), 20);
  }
  async callEndSession() {
    this.log('callEndSession');
    this.needCall();
    setTimeout(() => this.finish('sessionEnded', 'You ended the session.'), 20);
  }
  async openExternal(url: string) {
    this.log('openExternal', url);
    this.opened.push(url);
  }

  /// The remote side ends the call (tests).
  remoteEnd(reason: string) {
    this.finish('remote', `The call was ended: ${reason}.`);
  }

  isFloatWindow() {
    return this.floatWindow;
  }
  /// The native path is played when the page is opened with `?native`:
  /// layouts are kept (tests read `lastLayout`), every view with a source
  /// the fake has video for counts as drawing.
  async videoPath() {
    this.log('videoPath');
    return this.nativeVideo
      ? { native: true, reason: 'drawn natively (fake)' }
      : { native: false, reason: 'drawn by the page (fake)' };
  }
  async videoLayout(layout: VideoLayout) {
    if (!this.nativeVideo) throw new IpcError({ code: 'invalid_input', message: 'Only the native path takes layouts.' });
    this.lastLayout = structuredClone(layout);
    this.layouts += 1;
  }
  async videoStats(): Promise<ViewStats[]> {
    this.nativeDrawn += 1;
    return (this.lastLayout?.views ?? [])
      .filter((v) => v.source !== null)
      .map((v) => {
        const has = this.hasVideo(v.source!);
        return {
          id: v.id,
          hasVideo: has,
          drawn: has ? this.nativeDrawn : 0,
          width: has ? 640 : 0,
          height: has ? 360 : 0,
          firstDrawnAt: has ? 1 : null,
          addedP50: has ? 8 : null,
          addedP95: has ? 12 : null,
        };
      });
  }
  async floatUpdate(view: FloatView | null) {
    this.log('floatUpdate', view);
    this.floatShown = view === null ? null : structuredClone(view);
  }
  async floatView() {
    this.log('floatView');
    return structuredClone(this.floatScript);
  }
  /// As the app relays a floating window's button: to the main page's
  /// listeners; on the fake floating page, the scripted main page answers.
  async floatAction(action: FloatAction) {
    this.log('floatAction', action);
    for (const l of this.floatRequests) l(action);
    if (!this.floatWindow) return;
    const v = this.floatScript;
    if (action === 'toggleMic') v.micOn = !v.micOn;
    if (action === 'toggleCamera' && v.cameraOn !== null) v.cameraOn = !v.cameraOn;
    for (const l of this.floatViews) l(structuredClone(v));
  }
  async onFloatView(cb: Listener<FloatView>) {
    this.floatViews.add(cb);
    return () => this.floatViews.delete(cb);
  }
  async onFloatRequest(cb: Listener<FloatAction>) {
    this.floatRequests.add(cb);
    return () => this.floatRequests.delete(cb);
  }
  async onCallUpdate(cb: Listener<CallUpdate>) {
    this.updates.add(cb);
    return () => this.updates.delete(cb);
  }
  async onMicLevel(cb: Listener<number>) {
    this.levels.add(cb);
    return () => this.levels.delete(cb);
  }
  async onOpenLink(cb: Listener<string>) {
    this.links.add(cb);
    return () => this.links.delete(cb);
  }

  async appStatus() {
    this.log('appStatus');
    return this.status;
  }
  async updateCheck() {
    this.log('updateCheck');
    await new Promise((r) => setTimeout(r, 100));
    if (this.updateError) throw new IpcError(this.updateError);
    return this.update;
  }
  async updateInstall() {
    this.log('updateInstall');
    if (this.inCall) {
      throw new IpcError({ code: 'update', message: 'Tandem updates after your call: leave the call first.' });
    }
    if (this.updateError) throw new IpcError(this.updateError);
    const total = 4_000_000;
    for (let d = 1_000_000; d <= total; d += 1_000_000) {
      await new Promise((r) => setTimeout(r, 60));
      for (const p of this.progress) p(d, total);
    }
  }
  async onUpdateProgress(cb: (d: number, t: number | null) => void) {
    this.progress.add(cb);
    return () => this.progress.delete(cb);
  }

  /// Another launch hands over `link` (tests).
  openLink(link: string) {
    for (const l of this.links) l(link);
  }

  private hasVideo(source: string): boolean {
    if (source === 'screen:coach') return this.coachSharing;
    return source === 'local' ? this.cameraOn : this.remoteVideo;
  }

  async frame(_view: string, source: string, after: number, width: number, height: number, signal: AbortSignal): Promise<FrameResult> {
    if (!this.hasVideo(source)) return 'no-video';
    const local = source === 'local';
    const screen = source === 'screen:coach';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, 33);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new DOMException('aborted', 'AbortError'));
      });
    });
    return synthFrame(after + 1, width, height, screen ? PAPER : local ? TEAL : ORANGE);
  }
}
