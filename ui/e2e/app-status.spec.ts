import { expect, test } from '@playwright/test';
import { shot, unnamedControls, watchProblems } from './helpers';

test('updates: checked at start, offered, installed with progress, never during a call', async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto('/?update=0.2.0');
  await expect(page.getByTestId('update-offer')).toContainText('Tandem 0.2.0 is available: Faster joins.');
  await expect(page.getByTestId('update-status')).toHaveAttribute('data-phase', 'available');
  await expect(page.getByTestId('about')).toContainText('Tandem 0.1.0');
  expect(await unnamedControls(page)).toEqual([]);
  await shot(page, 'update-offer');

  // "Later" hides the offer; the footer still has it.
  await page.getByRole('button', { name: 'Later' }).click();
  await expect(page.getByTestId('update-offer')).toBeHidden();
  await page.getByTestId('update-install-again').click();
  await expect(page.getByTestId('update-status')).toContainText('Installing Tandem 0.2.0: 4.0 of 4.0 MB');
  await shot(page, 'update-installing');
  expect(problems).toEqual([]);
});

test('an update never interrupts a call', async ({ page }) => {
  await page.goto('/?update=0.2.0');
  await expect(page.getByTestId('update-offer')).toBeVisible();
  // Join without reloading (the feed's offer is this page's).
  await page.getByTestId('open-session').first().click();
  await page.getByTestId('display-name').fill('Sam Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
  // Nothing about updates shows in a call, and installing is refused.
  await expect(page.getByTestId('update-offer')).toHaveCount(0);
  const said = await page.evaluate(async () => {
    const app = (window as any).__app;
    await app.updates.install();
    return app.updates.phase.name === 'failed' ? app.updates.phase.message : app.updates.phase.name;
  });
  expect(said).toContain('leave the call first');
  expect(await page.evaluate(() => (window as any).__fake.calls.some((c: any) => c.name === 'updateInstall'))).toBe(false);
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
});

test('a broken update feed says so and changes nothing else', async ({ page }) => {
  const problems = watchProblems(page);
  const message = 'The update server answered something that is not a Tandem update feed. Try again later.';
  await page.goto(`/?updateError=${encodeURIComponent(message)}`);
  await expect(page.getByTestId('update-status')).toHaveText(message);
  await expect(page.getByTestId('update-offer')).toHaveCount(0);
  // Checking again from the menu asks again.
  const before = await page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'updateCheck').length);
  await page.getByTestId('update-check').click();
  await expect(page.getByTestId('update-status')).toHaveText(message);
  const after = await page.evaluate(() => (window as any).__fake.calls.filter((c: any) => c.name === 'updateCheck').length);
  expect(after).toBe(before + 1);
  // The app works: sessions are listed and a session opens.
  await page.getByTestId('open-session').first().click();
  await expect(page.getByTestId('screen-prejoin')).toBeVisible();
  expect(problems).toEqual([]);
});

test('a missing call library is explained and the rest of the app works', async ({ page }) => {
  const problem = "Calls cannot start: its call library (liblivekit_ffi.so) is missing. Reinstall Tandem from your platform's download page; everything else works meanwhile.";
  await page.goto(`/?libraryProblem=${encodeURIComponent(problem)}`);
  await expect(page.getByTestId('library-problem')).toHaveText(problem);
  await expect(page.getByTestId('library-problem')).toHaveAttribute('role', 'alert');
  await shot(page, 'library-missing');
  await page.getByTestId('add-platform').click();
  await expect(page.getByTestId('add-platform-form')).toBeVisible();
});
