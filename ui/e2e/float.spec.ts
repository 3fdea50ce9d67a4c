import { expect, test } from '@playwright/test';
import { joinCall, shot, unnamedControls, watchProblems } from './helpers';

test('the main page says what the floating window shows and carries out its buttons', async ({ page }) => {
  const problems = watchProblems(page);
  await joinCall(page);
  const shown = () => page.evaluate(() => (window as any).__fake.floatShown);
  await expect.poll(shown).toMatchObject({ identity: 'coach', name: 'Coach Alex', micOn: true, cameraOn: true, video: true });

  // The floating window's mute goes through the main page, as its own button does.
  await page.evaluate(() => (window as any).__fake.floatAction('toggleMic'));
  await expect(page.getByTestId('toggle-mic')).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(shown).toMatchObject({ micOn: false });
  await page.evaluate(() => (window as any).__fake.floatAction('toggleCamera'));
  await expect(page.getByTestId('toggle-camera')).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(shown).toMatchObject({ cameraOn: false });

  // Turned off in the devices menu: nothing floats, and the choice is kept.
  await page.getByTestId('devices').click();
  await page.getByTestId('floating-setting').uncheck();
  await expect.poll(shown).toBeNull();
  expect(await page.evaluate(() => JSON.parse(localStorage.getItem('tandem.choices')!).floating)).toBe(false);
  await page.getByTestId('floating-setting').check();
  await expect.poll(shown).not.toBeNull();

  // Its Leave leaves; then nothing floats.
  await page.evaluate(() => (window as any).__fake.floatAction('leave'));
  await expect(page.getByTestId('screen-ended')).toBeVisible();
  await expect.poll(shown).toBeNull();
  expect(problems).toEqual([]);
});

test('the floating window: the other person, their mute, our buttons, and leaving asks first', async ({ page }) => {
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 320, height: 212 });
  await page.goto('/?float');
  await expect(page.getByTestId('screen-float')).toBeVisible();
  await expect(page.getByTestId('float-name')).toHaveText('Coach Alex');
  await expect(page.getByTestId('float-video')).toHaveAttribute('data-has-video', 'true');
  await expect(page.getByTestId('screen-float')).toHaveClass(/speaking/);
  await shot(page, 'float');

  await page.getByTestId('float-mic').click();
  await expect(page.getByTestId('float-mic')).toHaveAttribute('data-on', 'false');
  await expect(page.getByTestId('float-mic')).toHaveAccessibleName('Unmute microphone');
  await page.getByTestId('float-camera').click();
  await expect(page.getByTestId('float-camera')).toHaveAttribute('data-on', 'false');
  await page.getByTestId('float-back').click();

  await page.getByTestId('float-leave').click();
  await expect(page.getByRole('dialog', { name: 'Leave the call' })).toBeVisible();
  await page.getByRole('button', { name: 'Stay' }).click();
  await page.getByTestId('float-leave').click();
  await page.getByTestId('float-leave-confirm').click();
  const asked = await page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'floatAction').map((c: any) => c.args[0]));
  expect(asked).toEqual(['toggleMic', 'toggleCamera', 'showCall', 'leave']);
  expect(await unnamedControls(page)).toEqual([]);
  expect(problems).toEqual([]);
});
