// What the call screen shows, built from the app's CallUpdates. Pure state:
// no IPC calls here, so it is tested directly.
import type { AppError, CallUpdate, FloatView } from '../ipc/ipc';
import type { CallPhase, DeviceKind, EndKind, Quality, Reaction, SessionKind } from '../ipc/bindings';
import type { FileLine } from '../ipc/ipc';

/// The reactions offered, in order, with what a screen reader says.
export const REACTIONS: { reaction: Reaction; label: string }[] = [
  { reaction: 'thumbs_up', label: 'Thumbs up' },
  { reaction: 'clap', label: 'Applause' },
  { reaction: 'heart', label: 'Heart' },
  { reaction: 'laugh', label: 'Laughter' },
  { reaction: 'party', label: 'Celebration' },
];

/// How long a reaction stays on its sender's tile.
export const REACTION_MS = 4000;

export function reactionLabel(r: Reaction): string {
  return REACTIONS.find((x) => x.reaction === r)?.label ?? r;
}

export interface Participant {
  identity: string;
  name: string;
  audioMuted: boolean;
  videoMuted: boolean;
  hasVideo: boolean;
  quality: Quality | null;
}

export interface ChatEntry {
  /// Unique within the call (message id, or a local key while sending).
  key: string;
  from: string;
  text: string;
  timestampMs: number;
  mine: boolean;
  status: 'sending' | 'sent' | 'failed' | 'received';
  localId: number | null;
  error: string | null;
  /// A file sent in chat (the entry's text is empty).
  file?: FileLine;
}

/// A size as people say it: `512 B`, `1.5 MB`.
export function sizeWords(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export interface Ended {
  kind: EndKind;
  reason: string;
  durationSecs: number;
}

/// Chat lines kept on screen; older ones are dropped with a note.
export const MAX_CHAT = 2000;
/// Received message keys remembered to drop repeats.
const SEEN_KEEP = 10_000;

export class CallModel {
  phase = $state<CallPhase | 'idle'>('idle');
  identity = $state('');
  room = $state('');
  kind = $state<SessionKind>('video');
  otherName = $state('');
  paidMinutes = $state<number | null>(null);
  participants = $state<Participant[]>([]);
  speaking = $state<string[]>([]);
  chat = $state<ChatEntry[]>([]);
  chatDropped = $state(0);
  unread = $state(0);
  chatOpen = $state(false);
  elapsedSecs = $state(0);
  remainingSecs = $state<number | null>(null);
  endingSoon = $state(false);
  warnings = $state<string[]>([]);
  /// Problems with our devices, at most one per device (a newer one, or
  /// the device working again, replaces it).
  deviceProblems = $state<DeviceProblem[]>([]);
  devicesInUse = $state<Record<string, string>>({});
  /// The call was asked to be end-to-end encrypted (a passphrase, or the
  /// link's), and whose media decrypts (identity → working).
  encrypted = $state(false);
  decrypting = $state<Record<string, boolean>>({});
  /// Why we may not share a screen in this call (null: we may).
  shareWhyNot = $state<string | null>(null);
  /// Why files cannot be sent now (null: they can).
  filesWhyNot = $state<string | null>(null);
  /// What our camera's video is encoded with: "libvpx (software)".
  videoEncoder = $state<string | null>(null);
  /// What we share (its name), while we share.
  myShare = $state<string | null>(null);
  /// Who shares a screen (the newest share is shown).
  sharers = $state<string[]>([]);
  /// Received files saved: id → where.
  savedFiles = $state<Record<string, string>>({});
  /// Raised hands: identity → when it went up (ms since the epoch).
  hands = $state<Record<string, number>>({});
  /// We are the session's host: we may lower others' hands.
  mayLowerHands = $state(false);
  /// Each person's newest reaction, while it shows (identity → reaction).
  reactions = $state<Record<string, Reaction>>({});
  /// What the screen reader is told last (reactions).
  announcement = $state('');
  /// Which reaction shows per identity, so an older one's timer does not
  /// clear a newer one.
  // Not shown, so not reactive.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private reactionSeq = new Map<string, number>();
  /// Names of those who changed the passphrase since we last set ours.
  keyChangedBy = $state<string[]>([]);
  ended = $state<Ended | null>(null);
  failed = $state<AppError | null>(null);
  /// Acks that arrived before the send command returned its id.
  // Not shown, so not reactive.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private early = new Map<number, CallUpdate & { type: 'chatSent' | 'chatFailed' }>();
  private nextKey = 0;
  /// Received messages by sender and id, so a message is shown once.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private seen = new Set<string>();

  /// Everyone else's media decrypts (and there is someone else).
  get allDecrypting(): boolean {
    const others = this.participants.filter((p) => p.identity !== this.identity);
    return others.length > 0 && others.every((p) => this.decrypting[p.identity] === true);
  }

  /// Names of those whose media does not decrypt.
  get undecryptable(): string[] {
    return this.participants
      .filter((p) => p.identity !== this.identity && this.decrypting[p.identity] === false)
      .map((p) => p.name || p.identity);
  }

  /// Shows `text` as the problem of `device`, replacing an older one.
  deviceProblem(device: DeviceKind, text: string) {
    this.deviceProblems = [...this.deviceProblems.filter((d) => d.device !== device), { device, text }];
  }

  constructor(kind: SessionKind = 'video', otherName = '', paidMinutes: number | null = null) {
    this.kind = kind;
    this.otherName = otherName;
    this.paidMinutes = paidMinutes;
  }

  /// Raised hands, the earliest first: who asked first is answered first.
  get raisedHands(): { identity: string; name: string; at: number }[] {
    return Object.entries(this.hands)
      .map(([identity, at]) => ({ identity, name: this.nameOf(identity), at }))
      .sort((a, b) => a.at - b.at);
  }

  /// Whose shared screen is shown large (the newest sharer's).
  get shownShare(): string | null {
    return this.sharers.at(-1) ?? null;
  }

  get reconnecting(): boolean {
    return this.phase === 'reconnecting';
  }

  /// Display name of an identity (ours is "You").
  nameOf(identity: string): string {
    if (identity === this.identity) return 'You';
    return this.participants.find((p) => p.identity === identity)?.name || identity;
  }

  private participant(identity: string): Participant {
    let p = this.participants.find((x) => x.identity === identity);
    if (!p) {
      this.participants.push({
        identity,
        name: identity,
        audioMuted: false,
        videoMuted: false,
        hasVideo: false,
        quality: null,
      });
      p = this.participants[this.participants.length - 1]!;
    }
    return p;
  }

  private pushChat(entries: ChatEntry[]) {
    if (entries.length === 0) return;
    this.chat.push(...entries);
    if (this.chat.length > MAX_CHAT) {
      const over = this.chat.length - MAX_CHAT;
      this.chat.splice(0, over);
      this.chatDropped += over;
    }
  }

  apply(u: CallUpdate): void {
    switch (u.type) {
      case 'phase':
        this.phase = u.phase;
        break;
      case 'joined':
        this.identity = u.identity;
        this.room = u.room;
        break;
      case 'ended':
        this.ended = { kind: u.kind, reason: u.reason, durationSecs: u.durationSecs };
        break;
      case 'failed':
        this.failed = u.error;
        break;
      case 'warning':
        this.warnings.push(u.message);
        break;
      case 'session':
        this.kind = u.kind;
        if (u.otherName) this.otherName = u.otherName;
        if (u.paidMinutes !== null) this.paidMinutes = u.paidMinutes;
        break;
      case 'participantJoined': {
        const p = this.participant(u.identity);
        p.name = u.name || u.identity;
        break;
      }
      case 'participantLeft':
        this.participants = this.participants.filter((p) => p.identity !== u.identity);
        this.sharers = this.sharers.filter((s) => s !== u.identity);
        this.speaking = this.speaking.filter((s) => s !== u.identity);
        if (u.identity in this.hands) {
          const rest = { ...this.hands };
          delete rest[u.identity];
          this.hands = rest;
        }
        break;
      case 'muted': {
        const p = this.participant(u.identity);
        if (u.video === true) p.videoMuted = u.muted;
        else p.audioMuted = u.muted;
        break;
      }
      case 'video':
        if (u.identity !== this.identity) this.participant(u.identity).hasVideo = true;
        break;
      case 'speaking':
        this.speaking = u.identities;
        break;
      case 'quality':
        if (u.identity !== this.identity) this.participant(u.identity).quality = u.quality;
        break;
      case 'chat': {
        const fresh: ChatEntry[] = [];
        for (const m of u.messages) {
          const key = `${m.from}\u0000${m.id}`;
          if (this.seen.has(key)) continue;
          this.seen.add(key);
          // Resends only repeat the last seconds: remember the newest keys.
          if (this.seen.size > SEEN_KEEP) this.seen.delete(this.seen.values().next().value!);
          fresh.push({
            key,
            from: m.from,
            text: m.text,
            timestampMs: m.timestampMs,
            mine: false,
            status: 'received',
            localId: null,
            error: null,
          });
        }
        this.pushChat(fresh);
        if (!this.chatOpen) this.unread += fresh.length;
        break;
      }
      case 'chatSent':
      case 'chatFailed': {
        const entry = this.chat.find((c) => c.mine && c.localId === u.localId);
        if (!entry) {
          this.early.set(u.localId, u);
          break;
        }
        this.ack(entry, u);
        break;
      }
      case 'file': {
        const key = `file\u0000${u.file.id}`;
        const entry = this.chat.find((c) => c.key === key);
        if (entry) {
          entry.file = u.file;
          if (u.file.status === 'done' && !u.file.outgoing) {
            this.announcement = `${this.nameOf(u.file.identity)}'s file ${u.file.name} arrived`;
          }
          break;
        }
        this.pushChat([
          {
            key,
            from: u.file.identity,
            text: '',
            timestampMs: Date.now(),
            mine: u.file.outgoing,
            status: u.file.outgoing ? 'sent' : 'received',
            localId: null,
            error: null,
            file: u.file,
          },
        ]);
        if (!u.file.outgoing) {
          if (!this.chatOpen) this.unread += 1;
          this.announcement = `${this.nameOf(u.file.identity)} is sending a file: ${u.file.name}`;
        }
        break;
      }
      case 'encryption':
        this.encrypted = true;
        this.decrypting[u.identity] = u.working;
        break;
      case 'shareOffered':
        this.shareWhyNot = u.whyNot;
        break;
      case 'filesOffered':
        this.filesWhyNot = u.whyNot;
        break;
      case 'videoEncoder':
        this.videoEncoder = `${u.name} (${u.hardware ? 'hardware' : 'software'})`;
        break;
      case 'mayLowerHands':
        this.mayLowerHands = u.allowed;
        break;
      case 'screenShare':
        if (u.identity === this.identity) {
          this.myShare = u.sharing ? (u.name ?? 'your screen') : null;
        } else {
          this.sharers = this.sharers.filter((s) => s !== u.identity);
          if (u.sharing) this.sharers = [...this.sharers, u.identity];
        }
        break;
      case 'hand': {
        const rest = { ...this.hands };
        if (u.raisedAtMs === null || u.raisedAtMs === undefined) delete rest[u.identity];
        else rest[u.identity] = u.raisedAtMs;
        this.hands = rest;
        const who = u.identity === this.identity ? 'You' : this.nameOf(u.identity);
        const up = u.raisedAtMs !== null && u.raisedAtMs !== undefined;
        this.announcement = `${who} ${up ? 'raised' : 'lowered'} ${u.identity === this.identity ? 'your' : 'their'} hand`;
        break;
      }
      case 'reaction': {
        const n = (this.reactionSeq.get(u.identity) ?? 0) + 1;
        this.reactionSeq.set(u.identity, n);
        this.reactions = { ...this.reactions, [u.identity]: u.reaction };
        const who = u.identity === this.identity ? 'You' : this.nameOf(u.identity);
        this.announcement = `${who} reacted: ${reactionLabel(u.reaction)}`;
        setTimeout(() => {
          if (this.reactionSeq.get(u.identity) !== n) return;
          const rest = { ...this.reactions };
          delete rest[u.identity];
          this.reactions = rest;
        }, REACTION_MS);
        break;
      }
      case 'keyChanged': {
        const name = this.nameOf(u.identity);
        if (!this.keyChangedBy.includes(name)) this.keyChangedBy = [...this.keyChangedBy, name];
        break;
      }
      case 'deviceInUse':
        this.devicesInUse[u.device] = u.name;
        this.deviceProblems = this.deviceProblems.filter((d) => d.device !== u.device);
        break;
      case 'deviceProblem':
        this.deviceProblem(u.device, `${label(u.device)}: ${u.error}`);
        break;
      case 'timer':
        this.elapsedSecs = u.elapsedSecs;
        this.remainingSecs = u.remainingSecs;
        this.endingSoon = u.endingSoon;
        break;
    }
  }

  private ack(entry: ChatEntry, u: CallUpdate & { type: 'chatSent' | 'chatFailed' }) {
    if (u.type === 'chatSent') {
      entry.status = 'sent';
      entry.timestampMs = u.message.timestampMs;
      entry.from = u.message.from;
    } else {
      entry.status = 'failed';
      entry.error = u.error;
    }
  }

  /// A message being sent: shown at once, marked when the app confirms.
  addOutgoing(text: string): ChatEntry {
    const entry: ChatEntry = {
      key: `local-${this.nextKey++}`,
      from: this.identity,
      text,
      timestampMs: Date.now(),
      mine: true,
      status: 'sending',
      localId: null,
      error: null,
    };
    this.pushChat([entry]);
    return this.chat[this.chat.length - 1]!;
  }

  /// The app accepted the message under `localId`.
  sending(entry: ChatEntry, localId: number) {
    const live = this.chat.find((c) => c.key === entry.key);
    if (!live) return;
    live.localId = localId;
    const early = this.early.get(localId);
    if (early) {
      this.early.delete(localId);
      this.ack(live, early);
    }
  }

  /// The app refused the message outright.
  refused(entry: ChatEntry, error: string) {
    const live = this.chat.find((c) => c.key === entry.key);
    if (live) {
      live.status = 'failed';
      live.error = error;
    }
  }

  openChat(open: boolean) {
    this.chatOpen = open;
    if (open) this.unread = 0;
  }

  /// Remote participants, the one shown large first.
  get remotes(): Participant[] {
    return this.participants.filter((p) => p.identity !== this.identity);
  }

  /// What the floating window shows while the main window is in the
  /// background: whoever speaks (else the first other person), our
  /// microphone and camera; null when there is nothing to float (not
  /// connected yet, or a chat booking).
  floatView(title: string, micOn: boolean, cameraOn: boolean): FloatView | null {
    if (this.kind === 'chat' || (this.phase !== 'connected' && this.phase !== 'reconnecting')) return null;
    const remotes = this.remotes;
    const p = remotes.find((r) => this.speaking.includes(r.identity)) ?? remotes[0];
    return {
      title,
      identity: p?.identity ?? null,
      name: p?.name ?? this.otherName,
      video: this.kind === 'video' && !!p && p.hasVideo && !p.videoMuted,
      speaking: !!p && this.speaking.includes(p.identity),
      muted: p?.audioMuted ?? false,
      micOn,
      cameraOn: this.kind === 'video' ? cameraOn : null,
    };
  }
}

/// A device problem as shown: which device, and what to tell the person.
export interface DeviceProblem {
  device: DeviceKind;
  text: string;
}

function label(device: string): string {
  return device === 'camera' ? 'Camera' : device === 'microphone' ? 'Microphone' : 'Speaker';
}

/// 75 → "1:15", 3725 → "1:02:05".
export function clock(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/// Splits chat text into plain parts and http(s) links (shown as text; a
/// link opens only after the user confirms).
export function linkify(text: string): { text: string; url: string | null }[] {
  const out: { text: string; url: string | null }[] = [];
  const re = /\bhttps?:\/\/[^\s<>"']+/gi;
  let last = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index ?? 0;
    let url = m[0];
    // Trailing punctuation belongs to the sentence.
    const trail = /[.,;:!?)\]]+$/.exec(url);
    if (trail) url = url.slice(0, -trail[0].length);
    if (start > last) out.push({ text: text.slice(last, start), url: null });
    out.push({ text: url, url });
    last = start + url.length;
  }
  if (last < text.length) out.push({ text: text.slice(last), url: null });
  return out;
}
