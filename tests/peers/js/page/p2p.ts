// Browser side of the seed-004 test peer: the platform's session page as
// its write-up describes it (RTCPeerConnection + socket.io-client), written
// from the seed, not from Tandem. Bundled by esbuild and driven by
// ../js_peer.mjs --page p2p, which has already validated the link and
// joined the session through the platform's API.
//
// The seed's events: join-room; participant-joined → the side already in
// the room makes the offer; offer/answer/ice-candidate relayed with the
// room id; chat `message` {roomId, senderId, senderType, message,
// timestamp}; participant-left.
import { io, type Socket } from 'socket.io-client';

type Json = Record<string, unknown>;

declare global {
  interface Window {
    __peerEmit?: (ev: Json) => Promise<void>;
    peer: typeof api;
  }
}

interface Session {
  roomId: string;
  participantType: string;
  sessionType: string;
  participantId: string;
  iceServers?: RTCIceServer[];
  iceTransportPolicy?: RTCIceTransportPolicy;
}

let socket: Socket | undefined;
let pc: RTCPeerConnection | undefined;
let local: MediaStream | undefined;
let session: Session | undefined;
let disconnectedSent = false;
const elements: HTMLMediaElement[] = [];

function emit(event: string, fields: Json = {}): void {
  window.__peerEmit?.({ event, ...fields }).catch(() => {
    /* driver gone */
  });
}

function other(): string {
  return session?.participantType === 'astrologer' ? 'user' : 'astrologer';
}

function closePc(): void {
  pc?.close();
  pc = undefined;
  for (const el of elements.splice(0)) el.remove();
}

function createPc(s: Session): RTCPeerConnection {
  closePc();
  const conn = new RTCPeerConnection({
    iceServers: s.iceServers ?? [],
    iceTransportPolicy: s.iceTransportPolicy ?? 'all',
  });
  for (const t of local?.getTracks() ?? []) conn.addTrack(t, local!);
  conn.onicecandidate = (e) => {
    if (e.candidate) socket?.emit('ice-candidate', { roomId: s.roomId, candidate: e.candidate.toJSON() });
  };
  conn.ontrack = (e) => {
    const el = document.createElement(e.track.kind === 'video' ? 'video' : 'audio');
    el.autoplay = true;
    (el as HTMLVideoElement).playsInline = true;
    el.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    document.body.appendChild(el);
    elements.push(el);
    emit('track_subscribed', { identity: other(), kind: e.track.kind });
  };
  conn.onconnectionstatechange = () => emit('connection_state', { state: conn.connectionState });
  pc = conn;
  return conn;
}

async function makeOffer(s: Session): Promise<void> {
  const conn = createPc(s);
  const offer = await conn.createOffer();
  await conn.setLocalDescription(offer);
  socket?.emit('offer', { roomId: s.roomId, offer: conn.localDescription?.toJSON() });
}

// The mean brightness (0–255, BT.601 luma) of what the video element shows
// now, from a small copy of it; -1 before it shows anything.
function meanLuma(el: HTMLVideoElement): number {
  if (el.videoWidth === 0) return -1;
  const c = document.createElement('canvas');
  c.width = 32;
  c.height = 18;
  const g = c.getContext('2d');
  if (!g) return -1;
  g.drawImage(el, 0, 0, c.width, c.height);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i]! + 0.587 * px[i + 1]! + 0.114 * px[i + 2]!;
  return sum / (px.length / 4);
}

const api = {
  async connect(url: string, _token: string, s: Session): Promise<Json> {
    const t0 = performance.now();
    session = s;
    if (s.sessionType !== 'chat') {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: s.sessionType === 'video' });
    }
    // The page's own server serves it from another origin: WebSocket only
    // (polling would need CORS headers from the room server).
    const sock = io(url, { transports: ['websocket'], reconnection: false });
    socket = sock;
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('connect_error', (e) => reject(e));
    });
    sock.on('participant-joined', (d: Json) => {
      emit('participant_connected', { identity: String(d.participantType ?? '') });
      if (s.sessionType !== 'chat') makeOffer(s).catch((e) => console.error('offer failed', e));
    });
    sock.on('participant-left', (d: Json) => {
      closePc();
      emit('participant_disconnected', { identity: String(d.participantType ?? '') });
    });
    sock.on('offer', async (d: { offer: RTCSessionDescriptionInit }) => {
      // The seed starts WebRTC only for voice and video bookings: a chat
      // page has no connection to answer with.
      if (s.sessionType === 'chat') return;
      const conn = createPc(s);
      await conn.setRemoteDescription(d.offer);
      const answer = await conn.createAnswer();
      await conn.setLocalDescription(answer);
      sock.emit('answer', { roomId: s.roomId, answer: conn.localDescription?.toJSON() });
    });
    sock.on('answer', async (d: { answer: RTCSessionDescriptionInit }) => {
      await pc?.setRemoteDescription(d.answer);
    });
    sock.on('ice-candidate', async (d: { candidate: RTCIceCandidateInit }) => {
      try {
        await pc?.addIceCandidate(d.candidate);
      } catch (e) {
        console.warn('candidate refused', e);
      }
    });
    sock.on('message', (m: Json) => {
      emit('chat', { sender: String(m.senderType ?? ''), senderId: m.senderId, text: String(m.message ?? ''), timestamp: m.timestamp });
    });
    sock.on('session-error', (m: Json) => emit('session_error', { message: String(m.message ?? '') }));
    sock.on('disconnect', (reason: string) => {
      if (!disconnectedSent) emit('socket_disconnected', { reason });
    });
    sock.emit('join-room', { roomId: s.roomId, participantType: s.participantType, sessionType: s.sessionType });
    return { identity: s.participantType, connect_ms: Math.round(performance.now() - t0) };
  },

  async sendChat(text: string): Promise<void> {
    const s = session!;
    socket?.emit('message', {
      roomId: s.roomId,
      senderId: s.participantId,
      senderType: s.participantType,
      message: text,
      timestamp: new Date().toISOString(),
    });
  },

  async mute(kind: string, muted: boolean): Promise<void> {
    for (const t of local?.getTracks() ?? []) if (t.kind === kind) t.enabled = !muted;
  },

  async stats(): Promise<Json> {
    const video = { frames: 0, width: 0, height: 0, bytes: 0, played: 0, luma: -1 };
    const audio = { packets: 0, energy: 0, level: 0, bytes: 0 };
    const sent = { videoFrames: 0, audioPackets: 0 };
    let pair = '';
    if (pc) {
      const report = await pc.getStats();
      report.forEach((r: Json) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          video.frames = Number(r.framesDecoded ?? 0);
          video.width = Number(r.frameWidth ?? 0);
          video.height = Number(r.frameHeight ?? 0);
          video.bytes = Number(r.bytesReceived ?? 0);
        }
        if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          audio.packets = Number(r.packetsReceived ?? 0);
          audio.energy = Number(r.totalAudioEnergy ?? 0);
          audio.level = Number(r.audioLevel ?? 0);
          audio.bytes = Number(r.bytesReceived ?? 0);
        }
        if (r.type === 'outbound-rtp' && r.kind === 'video') sent.videoFrames = Number(r.framesEncoded ?? 0);
        if (r.type === 'outbound-rtp' && r.kind === 'audio') sent.audioPackets = Number(r.packetsSent ?? 0);
        if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) pair = String(r.id);
      });
    }
    for (const el of elements) {
      if (el instanceof HTMLVideoElement) {
        video.played = el.getVideoPlaybackQuality().totalVideoFrames;
        video.luma = meanLuma(el);
      }
    }
    return { video, audio, sent, pair, state: pc?.connectionState ?? 'none' };
  },

  async disconnect(): Promise<void> {
    disconnectedSent = true;
    closePc();
    socket?.disconnect();
    for (const t of local?.getTracks() ?? []) t.stop();
    emit('disconnected', { reason: 'CLIENT_INITIATED' });
  },
};

window.peer = api;
