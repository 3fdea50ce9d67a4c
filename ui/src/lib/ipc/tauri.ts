// The Ipc over the app's commands and events (generated bindings).
import { commands, events } from './bindings';
import {
  IpcError,
  decodeFrame,
  type AppError,
  type BackgroundChoice,
  type FloatAction,
  type FloatView,
  type Ipc,
  type VideoLayout,
  type FrameResult,
} from './ipc';

type Result<T> = { status: 'ok'; data: T } | { status: 'error'; error: AppError };

function ok<T>(r: Result<T>): T {
  if (r.status === 'ok') return r.data;
  throw new IpcError(r.error);
}

/// `frames:` as the webview spells custom schemes on this OS.
function framesBase(): string {
  const ua = navigator.userAgent;
  return ua.includes('Windows') || ua.includes('Android')
    ? 'http://frames.localhost/'
    : 'frames://localhost/';
}

export class TauriIpc implements Ipc {
  private readonly base = framesBase();

  async platformsList() { return ok(await commands.platformsList()); }
  async platformAdd(p: Parameters<Ipc['platformAdd']>[0]) { return ok(await commands.platformAdd(p)); }
  async platformRemove(id: string) { ok(await commands.platformRemove(id)); }
  async platformSetNetwork(id: string, n: Parameters<Ipc['platformSetNetwork']>[1]) {
    return ok(await commands.platformSetNetwork(id, n));
  }
  async signIn(id: string, c: Parameters<Ipc['signIn']>[1]) { return ok(await commands.signIn(id, c)); }
  async signOut(id: string) { return ok(await commands.signOut(id)); }
  async sessionsList(id: string) { return ok(await commands.sessionsList(id)); }
  async sessionById(id: string, s: string) { return ok(await commands.sessionById(id, s)); }
  async openJoinLink(link: string, backendUrl: string | null) {
    return ok(await commands.openJoinLink(link, backendUrl));
  }
  async launchOptions() { return ok(await commands.launchOptions()); }
  async devicesList() { return ok(await commands.devicesList()); }
  async previewSet(camera: string | null, cameraOn: boolean, mic: string | null, micOn: boolean) {
    return ok(await commands.previewSet(camera, cameraOn, mic, micOn));
  }
  async previewClose() { ok(await commands.previewClose()); }
  async speakerTest(speaker: string | null) { ok(await commands.speakerTest(speaker)); }
  async callJoin(r: Parameters<Ipc['callJoin']>[0]) { ok(await commands.callJoin(r)); }
  async callSetMic(on: boolean) { ok(await commands.callSetMic(on)); }
  async callSetNoiseRemoval(on: boolean) { ok(await commands.callSetNoiseRemoval(on)); }
  async setBackground(background: BackgroundChoice) { ok(await commands.setBackground(background)); }
  async backgroundPickPicture() { return ok(await commands.backgroundPickPicture()); }
  async backgroundStatus() { return ok(await commands.backgroundStatus()); }
  async callSetCamera(on: boolean) { ok(await commands.callSetCamera(on)); }
  async callChangePassphrase(passphrase: string) { ok(await commands.callChangePassphrase(passphrase)); }
  async screensList() { return ok(await commands.screensList()); }
  async screenThumbnail(id: string) { return ok(await commands.screenThumbnail(id)); }
  async callShare(id: string | null) { ok(await commands.callShare(id)); }
  async callSendChat(text: string) { return ok(await commands.callSendChat(text)); }
  async callSwitchDevice(d: Parameters<Ipc['callSwitchDevice']>[0], id: string | null) {
    ok(await commands.callSwitchDevice(d, id));
  }
  async callReact(reaction: Parameters<Ipc['callReact']>[0]) { ok(await commands.callReact(reaction)); }
  async callRaiseHand(raise: boolean) { ok(await commands.callRaiseHand(raise)); }
  async callLowerHand(identity: string) { ok(await commands.callLowerHand(identity)); }
  async fileSendPick() { return ok(await commands.fileSendPick()); }
  async fileCancel(id: string) { ok(await commands.fileCancel(id)); }
  async fileSave(id: string) { return ok(await commands.fileSave(id)); }
  async notesLoad(key: Parameters<Ipc['notesLoad']>[0]) { return ok(await commands.notesLoad(key)); }
  async notesSave(key: Parameters<Ipc['notesSave']>[0], title: string, text: string) {
    return ok(await commands.notesSave(key, title, text)) ?? 0;
  }
  async notesExport(title: string, markdown: string) { return ok(await commands.notesExport(title, markdown)); }
  async callLeave() { ok(await commands.callLeave()); }
  async callEndSession() { ok(await commands.callEndSession()); }
  async openExternal(url: string) { ok(await commands.openExternal(url)); }

  isFloatWindow() {
    const meta = (window as unknown as { __TAURI_INTERNALS__?: { metadata?: { currentWindow?: { label?: string } } } })
      .__TAURI_INTERNALS__?.metadata;
    return meta?.currentWindow?.label === 'float';
  }
  async floatUpdate(view: FloatView | null) { ok(await commands.floatUpdate(view)); }
  async videoPath() {
    // The floating window draws through the page (and may not ask).
    if (this.isFloatWindow()) return { native: false, reason: 'drawn by the page (floating window)' };
    return ok(await commands.videoPath());
  }
  async videoLayout(layout: VideoLayout) { ok(await commands.videoLayout(layout)); }
  async videoStats() { return ok(await commands.videoStats()); }
  async floatView() { return ok(await commands.floatView()); }
  async floatAction(action: FloatAction) { ok(await commands.floatAction(action)); }
  async onFloatView(cb: (v: FloatView) => void) {
    return events.floatView.listen((e) => cb(e.payload));
  }
  async onFloatRequest(cb: (a: FloatAction) => void) {
    return events.floatRequest.listen((e) => cb(e.payload.action));
  }
  async onCallUpdate(cb: Parameters<Ipc['onCallUpdate']>[0]) {
    return events.callUpdate.listen((e) => cb(e.payload));
  }
  async onMicLevel(cb: (dbfs: number) => void) {
    return events.micLevel.listen((e) => cb(e.payload.dbfs));
  }
  async onOpenLink(cb: (link: string) => void) {
    return events.openLink.listen((e) => cb(e.payload.link));
  }
  async appStatus() { return ok(await commands.appStatus()); }
  async updateCheck() { return ok(await commands.updateCheck()); }
  async updateInstall() { ok(await commands.updateInstall()); }
  async onUpdateProgress(cb: (downloaded: number, total: number | null) => void) {
    return events.updateProgress.listen((e) => cb(e.payload.downloaded, e.payload.total));
  }

  async frame(
    view: string,
    source: string,
    after: number,
    width: number,
    height: number,
    signal: AbortSignal,
  ): Promise<FrameResult> {
    const q = new URLSearchParams({
      src: source,
      after: String(after),
      w: String(width),
      h: String(height),
    });
    const res = await fetch(`${this.base}${encodeURIComponent(view)}?${q}`, { signal });
    if (res.status === 204) return 'none-yet';
    if (res.status === 404) return 'no-video';
    if (!res.ok) throw new Error(`frame request failed: ${res.status}`);
    return decodeFrame(await res.arrayBuffer());
  }
}
