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
});
