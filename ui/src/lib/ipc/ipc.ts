// The UI's only way out: every screen talks to a `Ipc`. The Tauri
// implementation calls the app's commands; the fake one (browser tests)
// plays a scripted platform and call.
import type {
  AppError,
  BackgroundChoice,
  BackgroundStatus_Serialize,
  AppStatus_Serialize,
  CallUpdate_Serialize,
  DeviceKind,
  DeviceList,
  FileLine_Serialize,
  FloatAction,
  FloatView_Serialize,
  JoinRequest_Serialize,
  JoinTarget_Serialize,
  LaunchOptions_Serialize,
  NetworkChange_Serialize,
  Note,
  NoteKey,
  NewPlatform_Serialize,
  Platform_Serialize,
  PreviewState_Serialize,
  Reaction,
  ScreenEntry,
  SignIn,
  UpdateInfo_Serialize,
  VideoLayout_Deserialize,
  VideoPath,
  ViewPlacement_Deserialize,
  ViewStats_Serialize,
} from './bindings';

// The generated file has a variant of each type per direction; the UI
// uses the complete (serialized) shapes, which commands also accept.
export type CallUpdate = CallUpdate_Serialize;
export type JoinRequest = JoinRequest_Serialize;
export type JoinTarget = JoinTarget_Serialize;
export type LaunchOptions = LaunchOptions_Serialize;
export type NewPlatform = NewPlatform_Serialize;
export type NetworkChange = NetworkChange_Serialize;
export type Platform = Platform_Serialize;
export type PreviewState = PreviewState_Serialize;
export type AppStatus = AppStatus_Serialize;
export type UpdateInfo = UpdateInfo_Serialize;
export type FileLine = FileLine_Serialize;
export type FloatView = FloatView_Serialize;
export type VideoLayout = VideoLayout_Deserialize;
export type ViewPlacement = ViewPlacement_Deserialize;
export type ViewStats = ViewStats_Serialize;
export type BackgroundStatus = BackgroundStatus_Serialize;
export type { VideoPath };
export type { AppError, BackgroundChoice, DeviceKind, DeviceList, FloatAction, Note, NoteKey, Reaction, ScreenEntry, SignIn };
export type ErrorCode = AppError['code'];

/// A failed command, as thrown to the UI: branch on `code`, show `message`.
export class IpcError extends Error {
  readonly code: ErrorCode;
  constructor(e: AppError) {
    super(e.message);
    this.code = e.code;
    this.name = 'IpcError';
  }
}

/// Anything thrown, as something a person can read.
export function asAppError(e: unknown): AppError {
  if (e instanceof IpcError) return { code: e.code, message: e.message };
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message } = e as AppError;
    return { code, message: String(message) };
  }
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/// One decoded video frame (I420 planes, tightly packed).
export interface Frame {
  seq: number;
  width: number;
  height: number;
  /// The sender's capture time, µs since the Unix epoch (0: unknown).
  capturedUs: number;
  /// When the app received it from LiveKit, µs since the Unix epoch (0: a local frame).
  receivedUs: number;
  data: Uint8Array;
}

/// What a frame request gives: a frame, nothing new yet, or no video.
export type FrameResult = Frame | 'none-yet' | 'no-video';

export type Unlisten = () => void;

export interface Ipc {
  platformsList(): Promise<Platform[]>;
  platformAdd(platform: NewPlatform): Promise<Platform>;
  platformRemove(id: string): Promise<void>;
  platformSetNetwork(id: string, network: NetworkChange): Promise<Platform>;
  signIn(id: string, credentials: SignIn): Promise<Platform>;
  signOut(id: string): Promise<Platform>;
  sessionsList(id: string): Promise<JoinTarget[]>;
  sessionById(id: string, session: string): Promise<JoinTarget>;
  openJoinLink(link: string, backendUrl: string | null): Promise<JoinTarget>;
  launchOptions(): Promise<LaunchOptions>;
  devicesList(): Promise<DeviceList>;
  previewSet(
    camera: string | null,
    cameraOn: boolean,
    microphone: string | null,
    micOn: boolean,
  ): Promise<PreviewState>;
  previewClose(): Promise<void>;
  speakerTest(speaker: string | null): Promise<void>;
  callJoin(request: JoinRequest): Promise<void>;
  callSetMic(on: boolean): Promise<void>;
  /// Background noise removal on the microphone, mid-call.
  callSetNoiseRemoval(on: boolean): Promise<void>;
  /// What happens behind the person in the camera's pictures (preview and call).
  setBackground(background: BackgroundChoice): Promise<void>;
  /// Asks for a picture (the system's picker) and puts it behind the
  /// person; its name, or null when the picker was closed.
  backgroundPickPicture(): Promise<string | null>;
  /// How the background effect is doing, and the scenes and kept picture.
  backgroundStatus(): Promise<BackgroundStatus>;
  callSetCamera(on: boolean): Promise<void>;
  callChangePassphrase(passphrase: string): Promise<void>;
  callReact(reaction: Reaction): Promise<void>;
  callRaiseHand(raise: boolean): Promise<void>;
  /// Lowers `identity`'s hand (someone else's only as the session's host).
  callLowerHand(identity: string): Promise<void>;
  /// Opens the system's file picker and sends what is chosen; the files'
  /// ids (none when the picker was closed). Progress comes as `file` updates.
  fileSendPick(): Promise<string[]>;
  /// Stops sending or receiving a file.
  fileCancel(id: string): Promise<void>;
  /// Saves a received file through the system's save dialog; where it
  /// went, or null when the dialog was closed.
  fileSave(id: string): Promise<string | null>;
  /// A session's private note (empty when there is none yet).
  notesLoad(key: NoteKey): Promise<Note>;
  /// Keeps a session's note; when it was saved (ms since the epoch).
  notesSave(key: NoteKey, title: string, text: string): Promise<number>;
  /// Saves Markdown into the downloads folder; the file's path.
  notesExport(title: string, markdown: string): Promise<string>;
  screensList(): Promise<ScreenEntry[]>;
  /// A small picture (a data URL, at most 240×135) of a screen or window.
  screenThumbnail(id: string): Promise<string>;
  callShare(id: string | null): Promise<void>;
  callSendChat(text: string): Promise<number>;
  callSwitchDevice(device: DeviceKind, id: string | null): Promise<void>;
  callLeave(): Promise<void>;
  callEndSession(): Promise<void>;
  openExternal(url: string): Promise<void>;
  /// Whether this page is the floating window's (shown while the main
  /// window is in the background during a call).
  isFloatWindow(): boolean;
  /// The main page: what the floating window shows now (null: nothing).
  floatUpdate(view: FloatView | null): Promise<void>;
  /// The floating page: what to show, as it opens.
  floatView(): Promise<FloatView | null>;
  /// How this window's video is drawn: natively under the page (which then
  /// reports where its video elements are), or by the page from `frames:`.
  videoPath(): Promise<VideoPath>;
  /// Native path: where the video elements (and the coloured elements
  /// behind them) are now.
  videoLayout(layout: VideoLayout): Promise<void>;
  /// Native path: what each video element has drawn.
  videoStats(): Promise<ViewStats[]>;
  /// The floating page's buttons (the main page carries them out).
  floatAction(action: FloatAction): Promise<void>;
  /// The floating page: what to show, whenever it changes.
  onFloatView(cb: (v: FloatView) => void): Promise<Unlisten>;
  /// The main page: a floating window's button was pressed.
  onFloatRequest(cb: (a: FloatAction) => void): Promise<Unlisten>;
  onCallUpdate(cb: (u: CallUpdate) => void): Promise<Unlisten>;
  onMicLevel(cb: (dbfs: number) => void): Promise<Unlisten>;
  /// A join link handed over by another launch of the app.
  onOpenLink(cb: (link: string) => void): Promise<Unlisten>;
  /// The app's version, whether calls can work, whether it updates itself.
  appStatus(): Promise<AppStatus>;
  /// A newer version, if the update feed offers one.
  updateCheck(): Promise<UpdateInfo | null>;
  /// Downloads, verifies and installs the newest version, then restarts
  /// (refused during a call).
  updateInstall(): Promise<void>;
  onUpdateProgress(cb: (downloaded: number, total: number | null) => void): Promise<Unlisten>;
  /// The next frame of `source` for the element `view`, scaled to fit
  /// `width`×`height`, newer than `after`.
  frame(
    view: string,
    source: string,
    after: number,
    width: number,
    height: number,
    signal: AbortSignal,
  ): Promise<FrameResult>;
}

const HEADER = 32;

/// Reads the frames protocol's answer (see src-tauri/src/frames.rs).
export function decodeFrame(buf: ArrayBuffer): Frame {
  if (buf.byteLength < HEADER) throw new Error('short frame');
  const v = new DataView(buf);
  const width = v.getUint32(4, true);
  const height = v.getUint32(8, true);
  const data = new Uint8Array(buf, HEADER);
  if (width < 2 || height < 2 || data.byteLength < (width * height * 3) / 2) {
    throw new Error('bad frame size');
  }
  return {
    seq: v.getUint32(0, true),
    width,
    height,
    capturedUs: v.getFloat64(16, true),
    receivedUs: v.getFloat64(24, true),
    data,
  };
}
