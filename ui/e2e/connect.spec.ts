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
