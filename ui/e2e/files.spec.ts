import { expect, test } from '@playwright/test';
import { joinCall, shot, unnamedControls, watchProblems } from './helpers';

test('files in chat: ours moves to Sent, the coach\'s arrives and is saved, cancel and failures say so', async ({ page }) => {
  const problems = watchProblems(page);
  await joinCall(page);
  await page.getByTestId('toggle-chat').click();
  await page.evaluate(() => ((window as any).__fake.fileStepMs = 250));

  // Ours: picked, shown with its size and type, a progress bar, then Sent.
  await page.getByTestId('chat-attach').click();
  const mine = page.getByTestId('chat-file').first();
  await expect(mine.getByTestId('file-name')).toHaveText('plan.pdf');
  await expect(mine.getByTestId('file-meta')).toHaveText('2.0 MB · application/pdf');
  await expect(mine.getByTestId('file-progress')).toBeVisible();
  await expect(mine.getByTestId('file-state')).toContainText('Sending…');
  await shot(page, 'chat-file-sending');
  await expect(mine).toHaveAttribute('data-status', 'done', { timeout: 10_000 });
  await expect(mine.getByTestId('file-state')).toHaveText('Sent');
  await expect(mine.getByTestId('file-save')).toHaveCount(0);

  // The coach's, under a name with markup and a direction override: shown as text.
  const hostile = '<img src=x onerror=window.__pwned=1>\u202Efdp.exe';
  const id = await page.evaluate((n) => (window as any).__fake.coachSendsFile(n, 5_000_000, 'image/png'), hostile);
  const theirs = page.locator(`[data-testid=chat-file]`).nth(1);
  // Shown without the override, so it reads as what it is.
  await expect(theirs.getByTestId('file-name')).toHaveText('<img src=x onerror=window.__pwned=1>fdp.exe');
  await expect(page.getByTestId('reaction-announcement')).toContainText('Coach Alex is sending a file');
  await expect(theirs.getByTestId('file-state')).toContainText('Receiving…');
  await expect(theirs).toHaveAttribute('data-status', 'done', { timeout: 10_000 });
  await expect(theirs.getByTestId('file-state')).toHaveText('Received');
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  await theirs.getByTestId('file-save').click();
  await expect(theirs.getByTestId('file-saved')).toHaveText('Saved to /home/sam/Downloads/img src=x onerror=window.__pwned=1fdp.exe');
  expect(await page.evaluate(() => (window as any).__fake.saved.map((s: any) => s.id))).toEqual([id]);
  await shot(page, 'chat-file-received');

  // Cancelling ours half-way; a closed save dialog saves nothing.
  await page.evaluate(() => ((window as any).__fake.nextPick = [{ name: 'video.mp4', size: 80_000_000, mimeType: 'video/mp4' }]));
  await page.evaluate(() => ((window as any).__fake.fileStepMs = 1000));
  await page.getByTestId('chat-attach').click();
  const video = page.locator('[data-testid=chat-file]').nth(2);
  await expect(video.getByTestId('file-name')).toHaveText('video.mp4');
  await video.getByTestId('file-cancel').click();
  await expect(video).toHaveAttribute('data-status', 'cancelled');
  await expect(video.getByTestId('file-state')).toHaveText('Cancelled');

  // Too large: refused before anything moves, with the reason.
  await page.evaluate(() => ((window as any).__fake.nextPick = [{ name: 'film.mkv', size: 150_000_000, mimeType: 'video/x-matroska' }]));
  await page.getByTestId('chat-attach').click();
  await expect(page.getByText('film.mkv is 150 MB; files over 100 MB cannot be sent.')).toBeVisible();
  await expect(page.getByTestId('chat-file')).toHaveCount(3);

  // The coach's stops half-way: said, and nothing to save.
  const broken = await page.evaluate(() => (window as any).__fake.coachSendsFile('notes.txt', 1000, 'text/plain', 60_000));
  await page.evaluate((b) => (window as any).__fake.coachFileEnds(b, 'failed', 'coach left before the file was complete (0 B of 1.0 KB)'), broken);
  const last = page.locator('[data-testid=chat-file]').nth(3);
  await expect(last.getByTestId('file-state')).toHaveText('Not received: coach left before the file was complete (0 B of 1.0 KB)');
  await expect(last.getByTestId('file-save')).toHaveCount(0);
  expect(await unnamedControls(page)).toEqual([]);
  expect(problems).toEqual([]);
});
