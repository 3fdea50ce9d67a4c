import { describe, expect, it } from 'vitest';
import { AppModel } from './app.svelte';
import { FakeIpc } from '../ipc/fake';

describe('AppModel', () => {
  it('keeps the microphone off and says why when turning it on fails', async () => {
    const fake = new FakeIpc({ stageMs: 0 });
    const app = new AppModel(fake);
    app.choices.displayName = 'Client';
    await app.join({
      platformId: 'p1',
      session: 's1',
      link: null,
      kind: 'voice',
      title: 'Session',
      otherName: 'Coach',
      paidMinutes: 30,
      startsAt: null,
      encrypted: false,
    });
    expect(app.micOn).toBe(true);
    await app.toggleMic();
    expect(app.micOn).toBe(false);
    fake.failUnmute = { code: 'device', message: 'Your microphone could not be turned on (busy), so it stays off. Try again.' };
    await app.toggleMic();
    expect(app.micOn).toBe(false);
    expect(app.call?.deviceProblems).toContainEqual({ device: 'microphone', text: fake.failUnmute.message });
    fake.failUnmute = null;
    await app.toggleMic();
    expect(app.micOn).toBe(true);
  });

  it('hands a typed passphrase to the app once, never keeps it, and shows who cannot decrypt', async () => {
    const fake = new FakeIpc({ stageMs: 0 });
    const app = new AppModel(fake);
    await app.start();
    app.choices.displayName = 'Client';
    app.passphrase = 'a wrong guess';
    const target = { platformId: 'p1', session: 's1', link: null, kind: 'video' as const, title: 'Session', otherName: 'Coach', paidMinutes: 30, startsAt: null, encrypted: false };
    await app.join(target);
    const sent = fake.calls.find((c) => c.name === 'callJoin')?.args[0] as { passphrase: string | null } | undefined;
    expect(sent?.passphrase).toBe('a wrong guess');
    expect(app.passphrase).toBe('');
    expect(JSON.stringify(localStorage)).not.toContain('a wrong guess');
    await new Promise((r) => setTimeout(r, 20));
    expect(app.call?.encrypted).toBe(true);
    expect(app.call?.undecryptable).toEqual(['Coach']);
    expect(app.call?.allDecrypting).toBe(false);
  });
});
