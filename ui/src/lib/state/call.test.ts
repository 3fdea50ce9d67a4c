import { describe, expect, it, vi } from 'vitest';
import { CallModel, MAX_CHAT, REACTION_MS, clock, linkify } from './call.svelte';
import type { CallUpdate } from '../ipc/ipc';

describe('CallModel', () => {
  it('floats whoever speaks (else the first other person), with their mute and ours, and nothing before joining or in chat', () => {
    const c = new CallModel('video', 'Coach');
    expect(c.floatView('Check-in', true, true)).toBeNull();
    c.apply({ type: 'joined', identity: 'me', room: 'r1' });
    c.apply({ type: 'phase', phase: 'connected' });
    expect(c.floatView('Check-in', true, true)).toEqual({
      title: 'Check-in', identity: null, name: 'Coach', video: false, speaking: false, muted: false, micOn: true, cameraOn: true,
    });
    c.apply({ type: 'participantJoined', identity: 'ann', name: 'Ann' });
    c.apply({ type: 'participantJoined', identity: 'bob', name: 'Bob' });
    c.apply({ type: 'video', identity: 'bob' });
    c.apply({ type: 'muted', identity: 'bob', muted: true, video: false });
    expect(c.floatView('Check-in', false, true)).toMatchObject({ identity: 'ann', video: false, speaking: false, micOn: false });
    c.apply({ type: 'speaking', identities: ['me', 'bob'] });
    expect(c.floatView('Check-in', false, false)).toMatchObject({ identity: 'bob', name: 'Bob', video: true, speaking: true, muted: true, cameraOn: false });
    const voice = new CallModel('voice', 'Coach');
    voice.apply({ type: 'joined', identity: 'me', room: 'r1' });
    voice.apply({ type: 'phase', phase: 'connected' });
    expect(voice.floatView('Call', true, false)?.cameraOn).toBeNull();
    const chat = new CallModel('chat', 'Coach');
    chat.apply({ type: 'phase', phase: 'connected' });
    expect(chat.floatView('Chat', true, false)).toBeNull();
  });

  it('keeps raised hands in the order they went up, says each, and forgets those who left', () => {
    const c = new CallModel('video', 'Coach');
    c.apply({ type: 'joined', identity: 'me', room: 'r1' });
    c.apply({ type: 'participantJoined', identity: 'ann', name: 'Ann' });
    c.apply({ type: 'participantJoined', identity: 'bob', name: 'Bob' });
    c.apply({ type: 'hand', identity: 'bob', raisedAtMs: 2000 });
    c.apply({ type: 'hand', identity: 'ann', raisedAtMs: 3000 });
    c.apply({ type: 'hand', identity: 'me', raisedAtMs: 1000 });
    expect(c.raisedHands.map((h) => h.name)).toEqual(['You', 'Bob', 'Ann']);
    expect(c.announcement).toBe('You raised your hand');
    c.apply({ type: 'hand', identity: 'bob', raisedAtMs: null });
    expect(c.announcement).toBe('Bob lowered their hand');
    c.apply({ type: 'participantLeft', identity: 'ann' });
    expect(c.raisedHands.map((h) => h.identity)).toEqual(['me']);
  });

  it('shows a reaction on its sender for a while, says it, and a newer one is not cut short', () => {
    vi.useFakeTimers();
    try {
      const c = new CallModel('video', 'Coach');
      c.apply({ type: 'joined', identity: 'me', room: 'r1' });
      c.apply({ type: 'participantJoined', identity: 'coach', name: 'Coach Alex' });
      c.apply({ type: 'reaction', identity: 'coach', reaction: 'clap' });
      expect(c.reactions).toEqual({ coach: 'clap' });
      expect(c.announcement).toBe('Coach Alex reacted: Applause');
      vi.advanceTimersByTime(REACTION_MS - 1000);
      c.apply({ type: 'reaction', identity: 'coach', reaction: 'heart' });
      c.apply({ type: 'reaction', identity: 'me', reaction: 'thumbs_up' });
      expect(c.announcement).toBe('You reacted: Thumbs up');
      // The first one's time is up; the heart, newer, stays.
      vi.advanceTimersByTime(1000);
      expect(c.reactions).toEqual({ coach: 'heart', me: 'thumbs_up' });
      vi.advanceTimersByTime(REACTION_MS);
      expect(c.reactions).toEqual({});
    } finally {
      vi.useRealTimers();
    }
  });

  it('follows a call from join to a chat with the other person', () => {
    const c = new CallModel('video', 'Coach', 45);
    c.apply({ type: 'phase', phase: 'fetchingToken' });
    c.apply({ type: 'phase', phase: 'connecting' });
    c.apply({ type: 'joined', identity: 'me', room: 'r1' });
    c.apply({ type: 'participantJoined', identity: 'coach', name: 'Coach Alex' });
    c.apply({ type: 'phase', phase: 'connected' });
    c.apply({ type: 'video', identity: 'coach' });
    c.apply({ type: 'muted', identity: 'coach', video: false, muted: true });
    expect(c.remotes).toHaveLength(1);
    expect(c.remotes[0]).toMatchObject({ name: 'Coach Alex', hasVideo: true, audioMuted: true, videoMuted: false });
    c.apply({ type: 'chat', messages: [{ id: 'a', from: 'coach', text: 'hi', timestampMs: 1 }] });
    c.apply({ type: 'chat', messages: [{ id: 'a', from: 'coach', text: 'hi', timestampMs: 1 }] });
    expect(c.chat).toHaveLength(1);
    expect(c.unread).toBe(1);
    expect(c.nameOf('coach')).toBe('Coach Alex');
    expect(c.nameOf('me')).toBe('You');
    c.openChat(true);
    expect(c.unread).toBe(0);
    c.apply({ type: 'chat', messages: [{ id: 'b', from: 'coach', text: 'again', timestampMs: 2 }] });
    expect(c.unread).toBe(0);
    c.apply({ type: 'participantLeft', identity: 'coach' });
    expect(c.remotes).toHaveLength(0);
  });

  it('shows who changed the passphrase once, and whose media stops decrypting', () => {
    const c = new CallModel('video', 'Coach', 45);
    c.apply({ type: 'joined', identity: 'me', room: 'r1' });
    c.apply({ type: 'participantJoined', identity: 'coach', name: 'Coach Alex' });
    c.apply({ type: 'encryption', identity: 'coach', working: true });
    expect(c.allDecrypting).toBe(true);
    c.apply({ type: 'keyChanged', identity: 'coach' });
    c.apply({ type: 'keyChanged', identity: 'coach' });
    c.apply({ type: 'encryption', identity: 'coach', working: false });
    expect(c.keyChangedBy).toEqual(['Coach Alex']);
    expect(c.allDecrypting).toBe(false);
    expect(c.undecryptable).toEqual(['Coach Alex']);
  });

  it('marks sent and failed messages even when the ack comes first', () => {
    const c = new CallModel();
    const a = c.addOutgoing('first');
    c.sending(a, 0);
    c.apply({ type: 'chatSent', localId: 0, message: { id: 'x', from: 'me', text: 'first', timestampMs: 5 } });
    const b = c.addOutgoing('second');
    // The failure arrives before the command returned the id.
    c.apply({ type: 'chatFailed', localId: 1, text: 'second', error: 'not connected' });
    c.sending(b, 1);
    expect(c.chat.map((m) => m.status)).toEqual(['sent', 'failed']);
    expect(c.chat[1]!.error).toBe('not connected');
    const d = c.addOutgoing('third');
    c.refused(d, 'too long');
    expect(c.chat[2]!.status).toBe('failed');
  });

  it('keeps the chat bounded and says how much was dropped', () => {
    const c = new CallModel();
    for (let i = 0; i < MAX_CHAT + 5; i++) {
      c.apply({ type: 'chat', messages: [{ id: String(i), from: 'p', text: `t${i}`, timestampMs: i }] });
    }
    expect(c.chat).toHaveLength(MAX_CHAT);
    expect(c.chatDropped).toBe(5);
    expect(c.chat[0]!.text).toBe('t5');
    // A batch of 500 is kept in order and trimmed once.
    const batch = Array.from({ length: 500 }, (_, i) => ({ id: `b${i}`, from: 'p', text: `b${i}`, timestampMs: i }));
    c.apply({ type: 'chat', messages: batch });
    expect(c.chat).toHaveLength(MAX_CHAT);
    expect(c.chatDropped).toBe(505);
    expect(c.chat.at(-1)!.text).toBe('b499');
    expect(c.unread).toBe(MAX_CHAT + 5 + 500);
  });

  it('shows a resent message once and follows a name change', () => {
    const c = new CallModel();
    const m: CallUpdate = { type: 'chat', messages: [{ id: 'x', from: 'p', text: 't', timestampMs: 1 }] };
    c.apply(m);
    c.apply(m);
    expect(c.chat).toHaveLength(1);
    c.apply({ type: 'participantJoined', identity: 'p', name: 'Pat' });
    c.apply({ type: 'participantJoined', identity: 'p', name: '<b>Pat</b>' });
    expect(c.participants.map((p) => p.name)).toEqual(['<b>Pat</b>']);
    expect(c.nameOf('p')).toBe('<b>Pat</b>');
  });

  it('tracks timer, reconnection, end and device problems', () => {
    const c = new CallModel();
    c.apply({ type: 'phase', phase: 'reconnecting' });
    expect(c.reconnecting).toBe(true);
    c.apply({ type: 'timer', elapsedSecs: 65, remainingSecs: 240, endingSoon: true });
    expect([c.elapsedSecs, c.remainingSecs, c.endingSoon]).toEqual([65, 240, true]);
    c.apply({ type: 'deviceProblem', device: 'camera', error: 'unplugged' });
    c.apply({ type: 'deviceProblem', device: 'microphone', error: 'No microphone found' });
    c.apply({ type: 'deviceProblem', device: 'camera', error: 'unplugged again' });
    expect(c.deviceProblems.map((d) => d.text)).toEqual(['Microphone: No microphone found', 'Camera: unplugged again']);
    // A device named like another's label does not clear that one's problem.
    c.apply({ type: 'deviceInUse', device: 'camera', name: 'Microphone array camera' });
    expect(c.deviceProblems).toEqual([{ device: 'microphone', text: 'Microphone: No microphone found' }]);
    c.apply({ type: 'videoEncoder', name: 'libvpx', hardware: false });
    expect(c.videoEncoder).toBe('libvpx (software)');
    c.apply({ type: 'videoEncoder', name: 'VAAPI', hardware: true });
    expect(c.videoEncoder).toBe('VAAPI (hardware)');
    c.apply({ type: 'ended', kind: 'remote', reason: 'The call was ended: room deleted.', durationSecs: 70 });
    expect(c.ended).toEqual({ kind: 'remote', reason: 'The call was ended: room deleted.', durationSecs: 70 });
  });
});

describe('text helpers', () => {
  it('formats clocks', () => {
    expect(clock(0)).toBe('0:00');
    expect(clock(75)).toBe('1:15');
    expect(clock(3725)).toBe('1:02:05');
    expect(clock(-3)).toBe('0:00');
  });

  it('finds only http(s) links and leaves everything else as text', () => {
    expect(linkify('see https://example.com/a?b=1.')).toEqual([
      { text: 'see ', url: null },
      { text: 'https://example.com/a?b=1', url: 'https://example.com/a?b=1' },
      { text: '.', url: null },
    ]);
    const hostile = 'javascript:alert(1) <img src=x onerror=alert(1)> data:text/html,x';
    expect(linkify(hostile)).toEqual([{ text: hostile, url: null }]);
  });
});
