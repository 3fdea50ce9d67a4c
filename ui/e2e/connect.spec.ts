import { expect, test } from '@playwright/test';
import { shot, unnamedControls, watchProblems } from './helpers';

test('a new user adds a platform, fails then succeeds to sign in, and sees sessions', async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto('/?empty');
  await expect(page.getByTestId('screen-connect')).toBeVisible();
  await expect(page.getByTestId('add-platform-form')).toBeVisible();
  await shot(page, 'connect-empty');

  await page.getByTestId('platform-url').fill('coach.example.com');
  await page.getByRole('button', { name: 'Add platform' }).click();
  await expect(page.getByTestId('platform-error')).toContainText('is not a web address');
  await page.getByTestId('platform-url').fill('ftp://coach.example.com');
  await page.getByRole('button', { name: 'Add platform' }).click();
  await expect(page.getByTestId('platform-error')).toContainText('must start with https://');

  await page.getByTestId('platform-url').fill('https://coach.example.com');
  await page.getByRole('button', { name: 'Add platform' }).click();
  await expect(page.getByTestId('sign-in-form')).toBeVisible();
  await page.getByTestId('email').fill('sam@example.com');
  await page.getByTestId('password').fill('wrong');
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('sign-in-error')).toContainText('did not accept your sign-in');
  await shot(page, 'connect-sign-in-error');

  await page.getByTestId('password').fill('demo-password');
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('session')).toHaveCount(3);
  await expect(page.getByText('Signed in as sam@example.com')).toBeVisible();
  await shot(page, 'connect-sessions');
  expect(await unnamedControls(page)).toEqual([]);

  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('sign-in-form')).toBeVisible();
  expect(problems).toEqual([]);
});

test('a join link opens prejoin; a bad or expired link says why', async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto('/?empty');
  await page.getByTestId('join-link').fill('not a link');
  await page.getByRole('button', { name: 'Open link' }).click();
  await expect(page.getByTestId('link-error')).toContainText('Paste the whole join link');
  await page.getByTestId('join-link').fill('https://studio.example.com/join?token=expired');
  await page.getByRole('button', { name: 'Open link' }).click();
  await expect(page.getByTestId('link-error')).toContainText('expired');
  await page.getByTestId('join-link').fill('https://studio.example.com/join?token=abcdefgh123');
  await page.getByRole('button', { name: 'Open link' }).click();
  await expect(page.getByTestId('screen-prejoin')).toBeVisible();
  await expect(page.getByTestId('session-title')).toHaveText('Session with Coach Alex');
  expect(problems).toEqual([]);
});

test('a link from another launch opens prejoin, but never interrupts a call', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('session').first()).toBeVisible();
  await page.evaluate(() => (window as any).__fake.openLink('https://studio.example.com/join?token=abcdefgh123'));
  await expect(page.getByTestId('screen-prejoin')).toBeVisible();
  await page.getByTestId('display-name').fill('Sam Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
  await page.evaluate(() => (window as any).__fake.openLink('https://studio.example.com/join?token=other12345'));
  await expect(page.getByTestId('notice')).toContainText('Leave this call');
  await expect(page.getByTestId('screen-call')).toBeVisible();
  await page.evaluate(() => (window as any).__fake.openLink('https://studio.example.com/join?token=expired'));
  await expect(page.getByTestId('screen-call')).toBeVisible();
});

test('a private session: the link carries the passphrase, the call shows the lock; a wrong typed passphrase is named', async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto('/?empty');
  await page.getByTestId('join-link').fill('https://studio.example.com/join?token=abcdefgh123#key=blue%20moon');
  await page.getByRole('button', { name: 'Open link' }).click();
  await expect(page.getByTestId('prejoin-encrypted')).toContainText('end-to-end encrypted');
  await expect(page.getByTestId('prejoin-passphrase')).toHaveCount(0);
  await page.getByTestId('display-name').fill('Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('e2ee-lock')).toHaveText('End-to-end encrypted');
  await expect(page.getByTestId('e2ee-warning')).toHaveCount(0);
  await shot(page, 'call-encrypted');
  // The coach changes the passphrase mid-call: said, and followed.
  await page.evaluate(() => (window as any).__fake.coachChangesPassphrase('new moon'));
  await expect(page.getByTestId('e2ee-key-changed')).toContainText('Coach Alex changed the passphrase');
  await expect(page.getByTestId('e2ee-lock')).toHaveCount(0);
  await page.getByRole('button', { name: 'Type the new passphrase' }).click();
  await expect(page.getByTestId('passphrase-change')).toContainText('The passphrase Coach Alex changed to:');
  await page.getByPlaceholder('New passphrase').fill('half moon');
  await page.getByRole('button', { name: 'Change', exact: true }).click();
  await expect(page.getByTestId('e2ee-warning')).toContainText("Coach Alex's video and voice cannot be decrypted");
  await page.getByTestId('change-passphrase').click();
  await page.getByPlaceholder('New passphrase').fill('new moon');
  await shot(page, 'call-passphrase-change');
  await page.getByRole('button', { name: 'Change', exact: true }).click();
  await expect(page.getByTestId('passphrase-change')).toHaveCount(0);
  await expect(page.getByTestId('e2ee-lock')).toHaveText('End-to-end encrypted');
  await expect(page.getByTestId('e2ee-key-changed')).toHaveCount(0);
  await expect(page.getByTestId('e2ee-warning')).toHaveCount(0);
  // Typed at prejoin instead: a passphrase the coach does not share.
  await page.goto('/?empty');
  await page.getByTestId('join-link').fill('https://studio.example.com/join?token=abcdefgh123');
  await page.getByRole('button', { name: 'Open link' }).click();
  await page.getByTestId('prejoin-passphrase').fill('a wrong guess');
  await page.getByTestId('display-name').fill('Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('e2ee-warning')).toContainText("Coach Alex's video and voice cannot be decrypted");
  await expect(page.getByTestId('e2ee-lock')).toHaveCount(0);
  const stored = await page.evaluate(() => JSON.stringify(localStorage));
  expect(stored).not.toContain('a wrong guess');
  expect(stored).not.toContain('blue moon');
  expect(stored).not.toContain('new moon');
  expect(problems).toEqual([]);
});

test("a join-link platform's STUN and TURN servers are set, refused with reasons, and the credential never shown", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto('/?empty');
  await page.getByTestId('platform-url').fill('https://links.example.com');
  await page.getByTestId('platform-profile').selectOption('004');
  await page.getByRole('button', { name: 'Add platform' }).click();
  await expect(page.getByTestId('network-summary')).toHaveText('Network: Direct connections only');
  await page.getByTestId('network-edit').click();

  await page.getByTestId('network-stun').fill('stun:stun.example.com:3478\nturn:oops');
  await page.getByTestId('network-save').click();
  await expect(page.getByTestId('network-error')).toContainText('"turn:oops" is not a STUN server');

  await page.getByTestId('network-stun').fill('stun:stun.example.com:3478');
  await page.getByTestId('network-turn-url').fill('turn:turn.example.com:3478');
  await page.getByTestId('network-turn-username').fill('coach');
  await page.getByTestId('network-relay-only').check();
  await page.getByTestId('network-save').click();
  await expect(page.getByTestId('network-error')).toContainText("Enter the TURN server's credential");

  await page.getByTestId('network-turn-credential').fill('hunter2');
  await page.getByTestId('network-save').click();
  await expect(page.getByTestId('network-saved')).toBeVisible();
  await expect(page.getByTestId('network-summary')).toHaveText(
    'Network: TURN turn:turn.example.com:3478, relay only',
  );
  // The credential is kept, never shown back; saving again keeps it.
  await expect(page.getByTestId('network-turn-credential')).toHaveValue('');
  await expect(page.getByTestId('network-turn-credential')).toHaveAttribute('placeholder', 'Kept (type to replace)');
  await page.getByTestId('network-save').click();
  await expect(page.getByTestId('network-saved')).toBeVisible();
  await expect(page.getByTestId('network-error')).toHaveCount(0);
  await shot(page, 'connect-network');
  expect(await unnamedControls(page)).toEqual([]);
  expect(problems).toEqual([]);
});
