// Browser side of the Tandem JS test peer. Bundled by esbuild (IIFE) and loaded
// into headless Chromium by ../js_peer.mjs, which calls the functions on
// `window.peer` through Playwright and receives room events through the
// `__peerEmit` binding it exposes to the page.
import {
  ConnectionState,
  DisconnectReason,
  ExternalE2EEKeyProvider,
  LocalVideoTrack,
  Room,
  RoomEvent,
  Track,
  setLogLevel,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
} from 'livekit-client';

type Json = Record<string, unknown>;

declare global {
  interface Window {
    __peerEmit?: (ev: Json) => Promise<void>;
    peer: typeof api;
  }
}

const CHAT_TOPIC = 'lk.chat';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

let room: Room | undefined;
let disconnectedSent = false;
// Media elements for subscribed remote tracks, by track sid.
const elements = new Map<string, HTMLMediaElement[]>();

function emit(event: string, fields: Json = {}): void {
  const fn = window.__peerEmit;
  if (fn) {
    fn({ event, ...fields }).catch(() => {
      /* driver gone (shutting down) */
    });
  }
}

function kindName(kind: Track.Kind | string | undefined): string {
  return kind === Track.Kind.Video ? 'video' : kind === Track.Kind.Audio ? 'audio' : String(kind ?? 'unknown');
}

function reasonName(reason: DisconnectReason | undefined): string {
  if (reason === undefined) return 'UNKNOWN_REASON';
  return (DisconnectReason as unknown as Record<number, string>)[reason] ?? String(reason);
}

function errMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name || String(e);
  return String(e);
}

function onDisconnected(reason: string): void {
  if (disconnectedSent) return;
  disconnectedSent = true;
  emit('disconnected', { reason });
}

function attach(track: RemoteTrack, sid: string): void {
  detach(sid);
  // attach() creates an autoplaying <video>/<audio> element fed by the track, so
  // video is really rendered and audio is really pulled through the playout path.
  const el = track.attach();
  el.muted = track.kind === Track.Kind.Video; // video elements carry no sound; keep autoplay happy
  el.dataset.sid = sid;
  document.body.appendChild(el);
  elements.set(sid, [el]);
}

function detach(sid: string | undefined): void {
  if (!sid) return;
  for (const el of elements.get(sid) ?? []) {
    el.srcObject = null;
    el.remove();
  }
  elements.delete(sid);
}

function registerEvents(r: Room): void {
  r.on(RoomEvent.ParticipantConnected, (p: RemoteParticipant) =>
    emit('participant_connected', { identity: p.identity, name: p.name ?? '', metadata: p.metadata ?? '' }),
  )
    .on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) =>
      emit('participant_disconnected', { identity: p.identity }),
    )
    .on(RoomEvent.TrackSubscribed, (track: RemoteTrack, pub: RemoteTrackPublication, p: RemoteParticipant) => {
      emit('track_subscribed', { identity: p.identity, kind: kindName(track.kind), sid: pub.trackSid, source: pub.source });
      try {
        attach(track, pub.trackSid);
      } catch (e) {
        console.warn('attach failed', e);
      }
    })
    .on(RoomEvent.TrackUnsubscribed, (track: RemoteTrack, pub: RemoteTrackPublication, p: RemoteParticipant) => {
      emit('track_unsubscribed', { identity: p.identity, kind: kindName(pub.kind), sid: pub.trackSid });
      detach(pub.trackSid);
    })
    .on(RoomEvent.TrackSubscriptionFailed, (sid: string, p: RemoteParticipant, reason?: unknown) =>
      emit('track_subscription_failed', { identity: p.identity, sid, message: String(reason ?? '') }),
    )
    .on(RoomEvent.TrackMuted, (pub, p) => {
      if (p !== r.localParticipant) emit('track_muted', { identity: p.identity, kind: kindName(pub.kind) });
    })
    .on(RoomEvent.TrackUnmuted, (pub, p) => {
      if (p !== r.localParticipant) emit('track_unmuted', { identity: p.identity, kind: kindName(pub.kind) });
    })
    .on(RoomEvent.DataReceived, (payload, participant, _kind, topic, _enc, participantIdentity) =>
      emit('data', {
        sender: participant?.identity ?? participantIdentity ?? '',
        payload: decoder.decode(payload),
        topic: topic ?? '',
      }),
    )
    .on(RoomEvent.ParticipantMetadataChanged, (metadata, p) =>
      emit('participant_metadata_changed', { identity: p.identity, metadata: p.metadata ?? metadata ?? '' }),
    )
    .on(RoomEvent.ParticipantNameChanged, (name, p) =>
      emit('participant_name_changed', { identity: p.identity, name }),
    )
    .on(RoomEvent.ConnectionStateChanged, (state: ConnectionState) => {
      // Same three states as the Python peer reports.
      if (
        state === ConnectionState.Connected ||
        state === ConnectionState.Reconnecting ||
        state === ConnectionState.Disconnected
      ) {
        emit('connection_state', { state });
      }
    })
    .on(RoomEvent.ParticipantEncryptionStatusChanged, (encrypted: boolean, p) =>
      emit('encryption_status', { identity: p?.identity ?? '', encrypted }),
    )
    .on(RoomEvent.EncryptionError, (e: Error) => emit('encryption_error', { message: errMessage(e) }))
    .on(RoomEvent.Reconnecting, () => emit('reconnecting'))
    .on(RoomEvent.Reconnected, () => emit('reconnected'))
    .on(RoomEvent.Disconnected, (reason?: DisconnectReason) => onDisconnected(reasonName(reason)));

  // Files on the chat topic (where sendText's attachments go), read whole,
  // told with their sha256; progress told every tenth of the way.
  r.registerByteStreamHandler(CHAT_TOPIC, (reader, info) => {
    void (async () => {
      const parts: Uint8Array[] = [];
      let got = 0;
      let told = 0;
      const size = reader.info.size ?? 0;
      for await (const chunk of reader) {
        parts.push(chunk);
        got += chunk.byteLength;
        const tenth = size > 0 ? Math.floor((got * 10) / size) : 0;
        if (tenth > told) {
          told = tenth;
          emit('file_progress', { id: reader.info.id, received: got, size });
        }
      }
      const whole = new Uint8Array(got);
      let at = 0;
      for (const p of parts) {
        whole.set(p, at);
        at += p.byteLength;
      }
      emit('file', {
        sender: info.identity,
        id: reader.info.id,
        name: reader.info.name,
        mime: reader.info.mimeType,
        size: got,
        announced: size,
        sha256: await sha256(whole),
      });
    })().catch((e) => emit('file_failed', { sender: info.identity, message: errMessage(e) }));
  });

  r.registerTextStreamHandler(CHAT_TOPIC, (reader, info) => {
    reader
      .readAll()
      .then((text) => emit('chat', { sender: info.identity, text }))
      .catch((e) => console.warn(`chat stream from ${info.identity} failed: ${errMessage(e)}`));
  });
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `size` bytes that look random (xorshift32 from `seed`): the same on every run. */
function patterned(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function requireRoom(): Room {
  if (!room) throw new Error('not connected');
  return room;
}

// kind: "video"/"camera" or "audio"/"mic"/"microphone".
function localPublication(kind: string) {
  const source =
    kind === 'video' || kind === 'camera'
      ? Track.Source.Camera
      : kind === 'audio' || kind === 'mic' || kind === 'microphone'
        ? Track.Source.Microphone
        : kind === 'screen'
          ? Track.Source.ScreenShare
          : undefined;
  if (!source) throw new Error(`unknown kind ${JSON.stringify(kind)} (video, audio or screen)`);
  const pub = requireRoom().localParticipant.getTrackPublication(source);
  if (!pub) throw new Error(`no ${kind} track published`);
  return pub;
}

interface IdentityStats {
  videoFramesDecoded: number;
  videoFramesPlayed: number;
  videoWidth: number;
  videoHeight: number;
  videoBytesReceived: number;
  audioPacketsReceived: number;
  audioBytesReceived: number;
  audioEnergy: number;
  audioLevel: number;
  hasVideo: boolean;
  hasAudio: boolean;
  tracks: Json[];
}

async function trackStats(track: RemoteTrack, into: IdentityStats, info: Json): Promise<void> {
  const receiver = track.receiver;
  if (!receiver) return;
  const report = await receiver.getStats();
  report.forEach((s: Record<string, any>) => {
    if (s.type !== 'inbound-rtp') return;
    if (track.kind === Track.Kind.Video) {
      const frames = Number(s.framesDecoded ?? 0);
      into.videoFramesDecoded += frames;
      into.videoBytesReceived += Number(s.bytesReceived ?? 0);
      if (s.frameWidth) into.videoWidth = Number(s.frameWidth);
      if (s.frameHeight) into.videoHeight = Number(s.frameHeight);
      Object.assign(info, {
        framesDecoded: frames,
        framesReceived: Number(s.framesReceived ?? 0),
        width: Number(s.frameWidth ?? 0),
        height: Number(s.frameHeight ?? 0),
        codec: String(report.get(s.codecId)?.mimeType ?? ''),
      });
    } else if (track.kind === Track.Kind.Audio) {
      into.audioPacketsReceived += Number(s.packetsReceived ?? 0);
      into.audioBytesReceived += Number(s.bytesReceived ?? 0);
      into.audioEnergy += Number(s.totalAudioEnergy ?? 0);
      into.audioLevel = Math.max(into.audioLevel, Number(s.audioLevel ?? 0));
      Object.assign(info, {
        packetsReceived: Number(s.packetsReceived ?? 0),
        totalAudioEnergy: Number(s.totalAudioEnergy ?? 0),
        audioLevel: Number(s.audioLevel ?? 0),
        codec: String(report.get(s.codecId)?.mimeType ?? ''),
      });
    }
  });
}

const api = {
  async connect(
    url: string,
    token: string,
    opts: { logLevel?: string; autoSubscribe?: boolean; e2eeKey?: string } = {},
  ): Promise<Json> {
    if (room) throw new Error('already connected');
    if (opts.logLevel) setLogLevel(opts.logLevel as Parameters<typeof setLogLevel>[0]);
    // Default options on purpose: the SDK's own v1 -> v0 signaling fallback must run.
    let r: Room;
    if (opts.e2eeKey) {
      // The SDK's own end-to-end encryption: a passphrase through its
      // external key provider, frames encrypted in its worker.
      const keyProvider = new ExternalE2EEKeyProvider();
      await keyProvider.setKey(opts.e2eeKey);
      const worker = new Worker('/e2ee-worker.mjs', { type: 'module' });
      r = new Room({ encryption: { keyProvider, worker } });
      await r.setE2EEEnabled(true);
    } else {
      r = new Room();
    }
    registerEvents(r);
    room = r;
    const started = performance.now();
    try {
      await r.connect(url, token, opts.autoSubscribe === false ? { autoSubscribe: false } : undefined);
    } catch (e) {
      room = undefined;
      disconnectedSent = true; // never report "disconnected" for a failed connect
      throw new Error(errMessage(e));
    }
    const lp = r.localParticipant;
    return {
      identity: lp.identity,
      sid: lp.sid,
      room: r.name,
      participants: Array.from(r.remoteParticipants.keys()),
      connect_ms: Math.round((performance.now() - started) * 10) / 10,
    };
  },

  /// Publishes the (fake) camera; with `preview`, it is also shown in the
  /// page as a call page shows one's own picture (a small mirrored
  /// `<video class="local">`, placed by the headed peer's style).
  async publishCamera(
    opts: { width?: number; height?: number; fps?: number; simulcast?: boolean; preview?: boolean } = {},
  ): Promise<Json> {
    const lp = requireRoom().localParticipant;
    const capture =
      opts.width && opts.height
        ? { resolution: { width: opts.width, height: opts.height, frameRate: opts.fps ?? 30 } }
        : undefined;
    const publish = opts.simulcast === undefined ? undefined : { simulcast: opts.simulcast };
    const pub = await lp.setCameraEnabled(true, capture, publish);
    if (!pub) throw new Error('camera was not published');
    if (opts.preview && pub.track) {
      const el = pub.track.attach();
      el.muted = true;
      el.className = 'local';
      document.body.appendChild(el);
    }
    return { sid: pub.trackSid };
  },

  /// A screen share as a sharer's page makes one: a canvas (one colour, a
  /// line of text redrawn each picture) captured as a track and published
  /// with the screen_share source, as getDisplayMedia's track would be.
  async publishScreen(opts: { color: [number, number, number]; width: number; height: number; fps: number }): Promise<Json> {
    const canvas = document.createElement('canvas');
    canvas.width = opts.width;
    canvas.height = opts.height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas');
    const [r, g, b] = opts.color;
    let n = 0;
    const draw = () => {
      ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
      ctx.fillRect(0, 0, opts.width, opts.height);
      ctx.fillStyle = '#fff';
      ctx.font = '24px sans-serif';
      ctx.fillText(`Training plan, page ${++n}`, 24, 48);
    };
    draw();
    const timer = setInterval(draw, 1000 / opts.fps);
    const stream = canvas.captureStream(opts.fps);
    const track = new LocalVideoTrack(stream.getVideoTracks()[0]);
    track.on('ended', () => clearInterval(timer));
    const pub = await requireRoom().localParticipant.publishTrack(track, { source: Track.Source.ScreenShare, name: 'screen', simulcast: false });
    return { sid: pub.trackSid };
  },

  async publishMic(): Promise<Json> {
    const pub = await requireRoom().localParticipant.setMicrophoneEnabled(true);
    if (!pub) throw new Error('microphone was not published');
    return { sid: pub.trackSid };
  },

  async mute(kind: string, muted: boolean): Promise<void> {
    const pub = localPublication(kind);
    if (muted) await pub.mute();
    else await pub.unmute();
  },

  async unpublish(kind: string): Promise<void> {
    const pub = localPublication(kind);
    if (!pub.track) throw new Error(`no ${kind} track published`);
    await requireRoom().localParticipant.unpublishTrack(pub.track, true);
  },

  async setMetadata(metadata: string): Promise<void> {
    await requireRoom().localParticipant.setMetadata(metadata);
  },

  async setName(name: string): Promise<void> {
    await requireRoom().localParticipant.setName(name);
  },

  async sendChat(text: string): Promise<void> {
    await requireRoom().localParticipant.sendText(text, { topic: CHAT_TOPIC });
  },

  /** Sends a made-up file of `size` bytes with `sendFile` on the chat topic; its sha256. */
  async sendFile(name: string, size: number, seed: number, mime: string): Promise<Json> {
    const bytes = patterned(size, seed);
    const file = new File([bytes], name, { type: mime });
    let told = 0;
    const info = await requireRoom().localParticipant.sendFile(file, {
      topic: CHAT_TOPIC,
      mimeType: mime,
      onProgress: (p: number) => {
        const tenth = Math.floor(p * 10);
        if (tenth > told) {
          told = tenth;
          emit('file_progress', { sent: Math.round(p * size), size });
        }
      },
    });
    return { stream: info.id, sha256: await sha256(bytes), size };
  },

  /** A byte stream on the chat topic announcing `announce` bytes and carrying `size`. */
  async streamFile(name: string, announce: number, size: number): Promise<void> {
    const writer = await requireRoom().localParticipant.streamBytes({
      name,
      topic: CHAT_TOPIC,
      mimeType: 'application/octet-stream',
      totalSize: announce,
    });
    await writer.write(patterned(size, 3));
    await writer.close();
  },

  async sendData(text: string, topic: string, reliable = true): Promise<void> {
    await requireRoom().localParticipant.publishData(encoder.encode(text), { reliable, topic });
  },

  async stats(): Promise<Record<string, IdentityStats>> {
    const out: Record<string, IdentityStats> = {};
    for (const p of requireRoom().remoteParticipants.values()) {
      const entry: IdentityStats = {
        videoFramesDecoded: 0,
        videoFramesPlayed: 0,
        videoWidth: 0,
        videoHeight: 0,
        videoBytesReceived: 0,
        audioPacketsReceived: 0,
        audioBytesReceived: 0,
        audioEnergy: 0,
        audioLevel: 0,
        hasVideo: false,
        hasAudio: false,
        tracks: [],
      };
      for (const pub of p.trackPublications.values()) {
        const track = pub.track;
        const info: Json = {
          sid: pub.trackSid,
          kind: kindName(pub.kind),
          source: pub.source,
          subscribed: pub.isSubscribed,
          muted: pub.isMuted,
        };
        entry.tracks.push(info);
        if (!track || !pub.isSubscribed) continue;
        if (track.kind === Track.Kind.Video) entry.hasVideo = true;
        if (track.kind === Track.Kind.Audio) entry.hasAudio = true;
        try {
          await trackStats(track, entry, info);
        } catch (e) {
          info.statsError = errMessage(e);
        }
        for (const el of elements.get(pub.trackSid) ?? []) {
          if (el instanceof HTMLVideoElement) {
            const played = el.getVideoPlaybackQuality().totalVideoFrames;
            entry.videoFramesPlayed += played;
            Object.assign(info, { framesPlayed: played, elementWidth: el.videoWidth, elementHeight: el.videoHeight });
          }
        }
      }
      out[p.identity] = entry;
    }
    return out;
  },

  async disconnect(): Promise<void> {
    const r = room;
    if (!r) return;
    await r.disconnect();
    onDisconnected(reasonName(DisconnectReason.CLIENT_INITIATED));
  },
};

window.peer = api;
