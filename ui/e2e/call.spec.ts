import { expect, test } from '@playwright/test';
import { centreColour, emit, joinCall, shot, toPrejoin, unnamedControls, watchProblems } from './helpers';

test('prejoin previews the camera, moves the meter, tests the speaker and needs a name', async ({ page }) => {
  const problems = watchProblems(page);
  await toPrejoin(page);
  await expect(page.getByTestId('session-kind')).toHaveText('Video session');
  await expect(page.getByTestId('preview-video')).toHaveAttribute('data-has-video', 'true');
  const levels = new Set<string>();
  for (let i = 0; i < 10; i++) {
    levels.add((await page.getByTestId('mic-meter').getAttribute('data-level')) ?? '');
    await page.waitForTimeout(60);
  }
  expect(levels.size).toBeGreaterThan(2);
  await page.getByTestId('speaker-test').click();
  await expect(page.getByText('Playing a chime')).toBeVisible();
  await page.getByTestId('mic-select').selectOption('mic-2');
  await expect.poll(() => page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'previewSet').at(-1).args[2])).toBe('mic-2');
  await page.getByTestId('join').click();
  await expect(page.getByText('Enter your name')).toBeVisible();
  await page.getByTestId('display-name').fill('Sam Client');
  await shot(page, 'prejoin');
  expect(await unnamedControls(page)).toEqual([]);
  await page.getByTestId('camera-on').uncheck();
  await expect(page.getByText('Camera is off')).toBeVisible();
  expect(problems).toEqual([]);
});

test('a video call: stages, remote video, picture-in-picture, chat, controls, keys, leave', async ({ page }) => {
  const problems = watchProblems(page);
  await page.addInitScript(() => {
    (window as any).__pwned = 0;
  });
  await toPrejoin(page);
  await page.evaluate(() => ((window as any).__fake.stageMs = 600));
  await page.getByTestId('display-name').fill('Sam Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('join-stages')).toBeVisible();
  await shot(page, 'call-joining');
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');

  // The remote person fills the view; their (orange) video is drawn.
  const remote = page.getByTestId('remote-tile');
  await expect(remote).toHaveCount(1);
  await expect(page.getByTestId('remote-name')).toHaveText('Coach Alex');
  await expect(page.getByTestId('remote-video')).toHaveAttribute('data-has-video', 'true');
  await expect.poll(async () => (await centreColour(page, '[data-testid=remote-video]'))[0]).toBeGreaterThan(180);
  const [r, g, b] = await centreColour(page, '[data-testid=remote-video]');
  expect(r).toBeGreaterThan(g);
  expect(g).toBeGreaterThan(b);
  await expect(page.getByTestId('remote-quality')).toHaveAttribute('aria-label', 'Connection: Excellent');

  // Our camera, mirrored, picture-in-picture; dragged to the top left.
  const pip = page.getByTestId('pip');
  await expect(pip).toHaveAttribute('data-corner', 'bottom-right');
  await expect(page.locator('[data-testid=local-video] canvas')).toHaveClass(/mirrored/);
  const box = (await pip.boundingBox())!;
  await page.mouse.move(box.x + 60, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(80, 120, { steps: 8 });
  await page.mouse.up();
  await expect(pip).toHaveAttribute('data-corner', 'top-left');
  await page.getByTestId('pip-hide').click();
  await expect(pip).toHaveCount(0);
  await page.getByTestId('pip-show').click();
  await expect(pip).toBeVisible();

  // Speaking ring, mute state.
  await emit(page, { type: 'speaking', identities: ['coach'] });
  await expect(remote).toHaveAttribute('data-speaking', 'true');
  await emit(page, { type: 'muted', identity: 'coach', video: false, muted: true });
  await expect(page.getByTestId('remote-muted')).toBeVisible();
  await shot(page, 'call-video');
  expect(await unnamedControls(page)).toEqual([]);

  // Chat: a message arrives (unread badge), hostile text stays text.
  const payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
  await emit(page, { type: 'participantJoined', identity: 'coach', name: 'Coach Alex' });
  await emit(page, { type: 'chat', messages: [{ id: 'c1', from: 'coach', text: payload, timestampMs: Date.now() }] });
  await emit(page, { type: 'chat', messages: [{ id: 'c2', from: 'coach', text: 'Notes: https://example.com/plan', timestampMs: Date.now() }] });
  await expect(page.getByTestId('unread')).toHaveText('2');
  await page.keyboard.press('Control+Shift+C');
  await expect(page.getByTestId('chat-panel')).toBeVisible();
  await expect(page.getByTestId('unread')).toHaveCount(0);
  await expect(page.getByTestId('chat-text').first()).toHaveText(payload);
  expect(await page.evaluate(() => (window as any).__pwned)).toBe(0);
  await expect(page.getByTestId('chat-panel').locator('img, script')).toHaveCount(0);

  // A link asks first, then opens in the system browser.
  await page.getByRole('button', { name: 'https://example.com/plan' }).click();
  await expect(page.getByTestId('confirm-link')).toBeVisible();
  await shot(page, 'call-confirm-link');
  await page.getByTestId('confirm-link-open').click();
  expect(await page.evaluate(() => (window as any).__fake.opened)).toEqual(['https://example.com/plan']);

  // Sending: delivered, and a failed one can be resent.
  await page.getByTestId('chat-input').fill('Thanks, see you next week');
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.locator('[data-testid=chat-message][data-status=sent]')).toHaveCount(1);
  await page.getByTestId('chat-input').fill('this one #fail');
  await page.getByTestId('chat-send').click();
  await expect(page.locator('[data-testid=chat-message][data-status=failed]')).toContainText('Not sent');
  await shot(page, 'call-chat');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('chat-panel')).toHaveCount(0);

  // Keyboard: mic and camera.
  await page.keyboard.press('Control+d');
  await expect(page.getByTestId('toggle-mic')).toHaveAttribute('aria-pressed', 'true');
  await page.keyboard.press('Control+e');
  await expect(page.getByTestId('toggle-camera')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('pip')).toHaveCount(0);
  const calls = await page.evaluate(() => (window as any).__fake.calls.map((c: any) => `${c.name}:${c.args[0]}`));
  expect(calls).toContain('callSetMic:false');
  expect(calls).toContain('callSetCamera:false');

  // Devices: switching the microphone mid-call.
  await page.getByTestId('devices').click();
  await page.getByTestId('call-mic-select').selectOption('mic-2');
  const switched = await page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'callSwitchDevice').map((c: any) => c.args));
  expect(switched).toEqual([['microphone', 'mic-2']]);
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('devices-menu')).toHaveCount(0);

  // Reconnecting banner, then back.
  await emit(page, { type: 'phase', phase: 'reconnecting' });
  await expect(page.getByTestId('reconnecting')).toBeVisible();
  await shot(page, 'call-reconnecting');
  await emit(page, { type: 'phase', phase: 'connected' });
  await expect(page.getByTestId('reconnecting')).toHaveCount(0);

  // Timer and the end warning.
  // (Moved on in the fake itself: its own ticks would otherwise undo an
  // emitted warning within a second.)
  await page.evaluate(() => (window as any).__fake.elapse(2460));
  await expect(page.getByTestId('ending-soon')).toHaveText('The session ends in 4 min');

  // Leave: the ended screen, then rejoin goes back to prejoin.
  await page.getByTestId('leave').click();
  await page.getByTestId('leave-confirm').click();
  await expect(page.getByTestId('screen-ended')).toBeVisible();
  await expect(page.getByTestId('end-reason')).toHaveText('You left the call.');
  await shot(page, 'ended');
  await page.getByTestId('rejoin').click();
  await expect(page.getByTestId('screen-prejoin')).toBeVisible();
  expect(problems).toEqual([]);
});

test('more than two people: a grid and a participant list', async ({ page }) => {
  await joinCall(page);
  await emit(page, { type: 'participantJoined', identity: 'p2', name: 'Jordan' });
  await emit(page, { type: 'participantJoined', identity: 'p3', name: 'Riley' });
  await expect(page.getByTestId('remote-tile')).toHaveCount(3);
  await page.getByTestId('toggle-people').click();
  await expect(page.getByTestId('people')).toContainText('In the call (4)');
  await shot(page, 'call-grid');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('people')).toHaveCount(0);
});

test('voice-only and chat-only sessions offer only what they use', async ({ page }) => {
  await joinCall(page, 1);
  await expect(page.getByTestId('toggle-camera')).toHaveCount(0);
  await expect(page.getByTestId('share')).toHaveCount(0);
  await expect(page.getByTestId('toggle-mic')).toBeVisible();
  await expect(page.getByTestId('pip')).toHaveCount(0);
  await expect(page.getByTestId('remote-video')).toHaveCount(0);
  await shot(page, 'call-voice');

  await joinCall(page, 2);
  await expect(page.getByTestId('toggle-mic')).toHaveCount(0);
  await expect(page.getByTestId('chat-panel')).toBeVisible();
  await shot(page, 'call-chat-only');
});

test('the remote side ending the session shows why', async ({ page }) => {
  await joinCall(page);
  await page.evaluate(() => (window as any).__fake.remoteEnd('the coach ended the session'));
  await expect(page.getByTestId('end-reason')).toHaveText('The call was ended: the coach ended the session.');
});

const failures: [string, string, string][] = [
  ['clock_skew', "This computer's clock is 600 s ahead of the server's: turn on automatic time (NTP) and try again.", "Your computer's clock is wrong"],
  ['wrong_secret', 'The call server refused to let you in: the LiveKit keys do not match.', "The platform's call server is misconfigured"],
  ['forbidden', 'The backend refused: you are not a participant of this session', "You can't join this session"],
  ['gone', 'This link has expired: session cancelled', 'This session is no longer available'],
  ['unreachable', "The platform's backend at https://x cannot be reached", "Can't reach your platform"],
  ['connect_failed', 'Cannot reach the call server (refused).', "Can't reach the call server"],
  ['sign_in_required', 'The backend did not accept your sign-in (expired): sign in again', 'Please sign in again'],
  ['rate_limited', 'Too many attempts; try again in 30 s', 'Too many attempts'],
  ['timeout', 'The backend did not answer within 10 s: it may be overloaded; try again', 'Your platform is not answering'],
  ['tls', 'A secure connection to the backend failed (invalid certificate)', 'Secure connection failed'],
  ['not_found', 'Not found: no such session', 'Session not found'],
  ['backend_failed', 'The backend failed (HTTP 500): boom; try again later or contact the platform', 'Your platform had a problem'],
  ['token_rejected', 'The call server refused to let you in: the session token expired 30 s ago: rejoin to get a fresh one.', 'The call server refused to let you in'],
  ['device', 'Your camera or microphone could not start: busy.', 'Camera or microphone problem'],
  ['internal', 'Something broke', 'Something went wrong'],
];

for (const [code, message, title] of failures) {
  test(`join failure ${code} is explained with a way forward`, async ({ page }) => {
    await toPrejoin(page);
    await page.evaluate(([c, m]) => ((window as any).__fake.failJoin = { code: c, message: m }), [code, message]);
    await page.getByTestId('display-name').fill('Sam Client');
    await page.getByTestId('join').click();
    await expect(page.getByTestId('screen-error')).toHaveAttribute('data-code', code);
    await expect(page.getByTestId('error-title')).toHaveText(title);
    await expect(page.getByTestId('error-message')).toHaveText(message);
    await expect(page.getByTestId('error-back')).toBeVisible();
    if (code === 'clock_skew' || code === 'wrong_secret') await shot(page, `error-${code}`);
    await page.getByTestId('error-back').click();
    await expect(page.getByTestId('screen-connect')).toBeVisible();
  });
}

test('sharing: pick a window, the bar says so and stops it; the coach\'s share shows large, then the layout comes back', async ({ page }) => {
  const problems = watchProblems(page);
  await joinCall(page);
  // Ours: the picker names screens and windows as text.
  await page.getByTestId('share').click();
  await expect(page.getByTestId('share-choice')).toHaveCount(2);
  await expect(page.getByTestId('share-picker')).toContainText('Training plan <draft>');
  // Each with a small picture of it, or an empty frame when none could be taken.
  await expect(page.getByTestId('share-thumbnail').first()).toHaveAttribute('data-state', 'shown');
  await expect(page.getByTestId('share-thumbnail').nth(1)).toHaveAttribute('data-state', 'none');
  await expect.poll(() => page.getByTestId('share-thumbnail').first().locator('img').evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(160);
  await shot(page, 'call-share-picker');
  await page.getByTestId('share-choice').filter({ hasText: 'Training plan' }).click();
  await expect(page.getByTestId('share-picker')).toHaveCount(0);
  await expect(page.getByTestId('sharing-bar')).toHaveText(/You are sharing Training plan <draft>/);
  await expect(page.getByTestId('share')).toContainText('Stop sharing');
  await page.getByTestId('sharing-bar').getByRole('button', { name: 'Stop sharing' }).click();
  await expect(page.getByTestId('sharing-bar')).toHaveCount(0);
  await expect.poll(() => page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'callShare').map((c: any) => c.args[0]))).toEqual(['window:0x2a00004', null]);
  // The keyboard opens the picker too; the shared window then closes by itself.
  await page.keyboard.press('Control+Shift+S');
  await page.getByTestId('share-choice').first().click();
  await expect(page.getByTestId('sharing-bar')).toContainText('Entire screen');
  await page.evaluate(() => (window as any).__fake.sharedWindowCloses());
  await expect(page.getByTestId('sharing-bar')).toHaveCount(0);
  await expect(page.getByText('sharing stopped: the shared window was closed')).toBeVisible();

  // Theirs: large, the cameras beside it; gone when they stop.
  await page.evaluate(() => (window as any).__fake.coachShares(true));
  await expect(page.getByTestId('screen-video')).toHaveAttribute('data-has-video', 'true');
  await expect(page.getByTestId('screen-label')).toHaveText("Coach Alex's screen");
  await expect(page.getByTestId('remote-video')).toBeVisible();
  // The shared page's light grey, not a camera's colour.
  await expect.poll(async () => Math.min(...(await centreColour(page, '[data-testid=screen-video]')))).toBeGreaterThan(200);
  await shot(page, 'call-share-remote');
  await page.evaluate(() => (window as any).__fake.coachShares(false));
  await expect(page.getByTestId('screen-video')).toHaveCount(0);
  await expect(page.getByTestId('remote-video')).toBeVisible();
  expect(problems).toEqual([]);
});

test('reactions: ours shows and is announced, the coach\'s shows on their tile, both go after a while', async ({ page }) => {
  const problems = watchProblems(page);
  await joinCall(page);
  await page.getByTestId('react').click();
  await expect(page.getByTestId('reactions-menu').getByRole('menuitem')).toHaveCount(5);
  await shot(page, 'call-reactions-menu');
  await page.getByRole('menuitem', { name: 'Applause' }).click();
  await expect(page.getByTestId('reactions-menu')).toHaveCount(0);
  await expect(page.getByTestId('my-reaction')).toHaveAttribute('data-reaction', 'clap');
  await expect(page.getByTestId('reaction-announcement')).toHaveText('You reacted: Applause');
  await page.evaluate(() => (window as any).__fake.coachReacts('heart'));
  const tile = page.getByTestId('remote-tile');
  await expect(tile.getByTestId('reaction')).toHaveAttribute('data-reaction', 'heart');
  await expect(page.getByTestId('reaction-announcement')).toHaveText('Coach Alex reacted: Heart');
  await page.waitForTimeout(400); // the pop-in animation
  await shot(page, 'call-reaction');
  expect(await unnamedControls(page)).toEqual([]);
  // Gone after about four seconds.
  await expect(tile.getByTestId('reaction')).toHaveCount(0, { timeout: 8000 });
  await expect(page.getByTestId('my-reaction')).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('a token without screen sharing: the Share button says why and opens nothing', async ({ page }) => {
  await toPrejoin(page);
  await page.evaluate(() => ((window as any).__fake.shareForbidden = true));
  await page.getByTestId('display-name').fill('Sam Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
  const share = page.getByTestId('share');
  await expect(share).toBeDisabled();
  await expect(share).toHaveAttribute('title', "The platform's token does not allow sharing a screen");
  await page.keyboard.press('Control+Shift+S');
  await expect(page.getByTestId('share-picker')).toHaveCount(0);
});

test('raised hands: ours goes up and down, others show on their tile and in order in the people list', async ({ page }) => {
  const problems = watchProblems(page);
  await joinCall(page);
  await page.getByTestId('toggle-hand').click();
  await expect(page.getByTestId('toggle-hand')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('toggle-hand')).toContainText('Lower hand');
  await expect(page.getByTestId('reaction-announcement')).toHaveText('You raised your hand');
  // The coach's goes up after ours; a late note of an earlier time sorts first.
  await page.evaluate(() => (window as any).__fake.handOf('coach', true, Date.now() - 60_000));
  await expect(page.getByTestId('remote-tile').getByTestId('tile-hand')).toBeVisible();
  await expect(page.getByTestId('hands-count')).toHaveText('2');
  await page.getByTestId('toggle-people').click();
  await expect(page.getByTestId('raised-hand')).toHaveText(['Coach Alex', 'You']);
  await shot(page, 'call-hands');
  expect(await unnamedControls(page)).toEqual([]);
  await page.getByTestId('toggle-hand').click();
  await expect(page.getByTestId('raised-hand')).toHaveText(['Coach Alex']);
  await page.evaluate(() => (window as any).__fake.handOf('coach', false));
  await expect(page.getByTestId('remote-tile').getByTestId('tile-hand')).toHaveCount(0);
  await expect(page.getByTestId('reaction-announcement')).toHaveText('Coach Alex lowered their hand');

  // Only the session's host may lower someone else's hand, from the list.
  await page.evaluate(() => (window as any).__fake.handOf('coach', true));
  await expect(page.getByTestId('raised-hand')).toHaveText(['Coach Alex']);
  await expect(page.getByTestId('lower-hand')).toHaveCount(0);
  await page.evaluate(() => (window as any).__fake.hostGrant(true));
  await page.getByRole('button', { name: "Lower Coach Alex's hand" }).click();
  await expect(page.getByTestId('raised-hand')).toHaveCount(0);
  await expect(page.getByTestId('remote-tile').getByTestId('tile-hand')).toHaveCount(0);
  expect(problems).toEqual([]);
});

test("private notes: kept as typed, never sent, back when the session opens again, exported with the chat after the call", async ({ page }) => {
  const problems = watchProblems(page);
  await joinCall(page);
  await page.getByTestId('toggle-notes').click();
  await expect(page.getByTestId('notes-panel')).toContainText('Only you see these notes');
  await page.getByTestId('notes-text').fill('Goals: sleep 8 h\nFollow up: knee');
  await expect(page.getByTestId('notes-status')).toHaveAttribute('data-status', 'saved');
  await shot(page, 'call-notes');
  expect(await unnamedControls(page)).toEqual([]);
  // Chat opens in the notes' place; the note was never sent as chat.
  await page.getByTestId('toggle-chat').click();
  await expect(page.getByTestId('notes-panel')).toHaveCount(0);
  await page.getByTestId('chat-input').fill('See you next week');
  await page.getByTestId('chat-send').click();
  const sent = await page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'callSendChat').map((c: any) => c.args[0]));
  expect(sent).toEqual(['See you next week']);

  await page.getByTestId('leave').click();
  await page.getByTestId('leave-confirm').click();
  await expect(page.getByTestId('ended-notes-text')).toHaveText('Goals: sleep 8 h\nFollow up: knee');
  await page.getByTestId('export-notes').click();
  await expect(page.getByTestId('export-path')).toContainText('Saved to /home/sam/Downloads/Tandem notes');
  const md: string = await page.evaluate(() => (window as any).__fake.exports[0].markdown);
  expect(md).toContain('## Notes\n\nGoals: sleep 8 h\nFollow up: knee');
  expect(md).toContain('> See you next week');
  await shot(page, 'ended-notes');

  // The same session again: the note is there.
  await page.getByTestId('rejoin').click();
  await page.getByTestId('join').click();
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
  await page.getByTestId('toggle-notes').click();
  await expect(page.getByTestId('notes-text')).toHaveValue('Goals: sleep 8 h\nFollow up: knee');
  expect(problems).toEqual([]);
});

test('noise removal: on unless turned off at prejoin, remembered, and switched in the devices menu mid-call', async ({ page }) => {
  const problems = watchProblems(page);
  await toPrejoin(page);
  const prejoinBox = page.getByTestId('noise-removal');
  await expect(prejoinBox).toBeChecked();
  await prejoinBox.uncheck();
  await page.getByTestId('display-name').fill('Sam Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
  const joined = await page.evaluate(() => (window as any).__fake.calls.find((c: any) => c.name === 'callJoin').args[0]);
  expect(joined.noiseRemoval).toBe(false);

  await page.getByTestId('devices').click();
  const inCall = page.getByTestId('call-noise-removal');
  await expect(inCall).not.toBeChecked();
  await inCall.check();
  const switched = () => page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'callSetNoiseRemoval').map((c: any) => c.args[0]));
  await expect.poll(switched).toEqual([true]);
  // The choice is this machine's from now on.
  const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('tandem.choices') ?? '{}').noiseRemoval);
  expect(saved).toBe(true);
  expect(problems).toEqual([]);
});

test('background blur: chosen at prejoin, remembered, applied before the preview, and changed in the call', async ({ page }) => {
  const problems = watchProblems(page);
  await toPrejoin(page);
  const backgrounds = () => page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'setBackground').map((c: any) => c.args[0]));
  await expect.poll(backgrounds).toEqual(['off']);
  await page.getByTestId('background-select').selectOption('blur');
  await expect.poll(backgrounds).toEqual(['off', 'blur']);
  expect(await page.evaluate(() => JSON.parse(localStorage.getItem('tandem.choices') ?? '{}').background)).toBe('blur');
  await page.getByTestId('display-name').fill('Sam Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
  await page.getByTestId('devices').click();
  await expect(page.getByTestId('call-background-select')).toHaveValue('blur');
  await page.getByTestId('call-background-select').selectOption('blurStrong');
  await expect.poll(backgrounds).toEqual(['off', 'blur', 'blurStrong']);
  expect(problems).toEqual([]);
});

test('background pictures: a scene, a picked picture remembered, a closed picker, a busy computer said, a picture gone', async ({ page }) => {
  const problems = watchProblems(page);
  await toPrejoin(page);
  const fake = (f: string) => page.evaluate(f);
  const backgrounds = () => page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'setBackground').map((c: any) => c.args[0]));
  const saved = () => page.evaluate(() => JSON.parse(localStorage.getItem('tandem.choices') ?? '{}').background);
  const select = page.getByTestId('background-select');
  await expect(select.locator('option')).toHaveText(['As it is', 'Blurred', 'Strongly blurred', 'Studio', 'Dawn', 'Leaves', 'Choose a picture…']);
  await select.selectOption('scene:dawn');
  await expect.poll(backgrounds).toEqual(['off', { scene: 'dawn' }]);
  expect(await saved()).toEqual({ scene: 'dawn' });
  // The picker closed: the scene stays.
  await fake('window.__fake.effects.pick = null');
  await select.selectOption('pick');
  await expect(select).toHaveValue('scene:dawn');
  expect(await saved()).toEqual({ scene: 'dawn' });
  // A picture picked (its name shown as text, never markup).
  await fake('window.__fake.effects.pick = "beach <b>1</b>.jpg"');
  await select.selectOption('pick');
  await expect(select).toHaveValue('picture');
  await expect(select.locator('option[value="picture"]')).toHaveText('Your picture: beach <b>1</b>.jpg');
  expect(await saved()).toBe('picture');
  expect(await page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'backgroundPickPicture').length)).toBe(2);
  // A busy computer, then an effect turned off, said under the menu.
  await fake('window.__fake.effects.picturesPerMask = 3');
  await expect(page.getByTestId('background-select-notice')).toContainText('every 3 pictures');
  await fake('window.__fake.effects.problem = "this computer takes 48 ms for each picture, and the camera sends one every 33 ms"');
  await expect(page.getByTestId('background-select-notice')).toContainText('The background effect is off: this computer takes 48 ms');
  await shot(page, 'prejoin-background-busy');
  // Next run, the kept picture is gone: said, and nothing behind instead.
  await page.reload();
  await page.getByTestId('open-session').first().click();
  await expect(page.getByTestId('background-select-error')).toHaveText('No background picture has been picked yet.');
  await expect(page.getByTestId('background-select')).toHaveValue('off');
  expect(await saved()).toBe('off');
  expect(problems).toEqual([]);
});
