import { expect, test, type Page } from '@playwright/test';
import { joinCall, toPrejoin, watchProblems } from './helpers';

// The native path (played by the fake with `?native`): the page draws no
// video itself, says where each video element is, and lets the app's
// drawing show through.
type Layout = {
  background: number;
  views: { id: string; source: string | null; x: number; y: number; width: number; height: number; z: number; mirrored: boolean; radius: number; background: number }[];
};
const layout = (page: Page) => page.evaluate(() => (window as any).__fake.lastLayout as Layout | null);

test('the page reports its video elements and what lies behind them, and paints nothing there', async ({ page }) => {
  const problems = watchProblems(page);
  await toPrejoin(page, 0, '/?native');
  const preview = page.getByTestId('preview-video');
  await expect(preview).toHaveAttribute('data-path', 'native');
  await expect(preview).toHaveAttribute('data-has-video', 'true');
  await expect(preview.locator('canvas')).toBeHidden();
  await expect.poll(async () => (await layout(page))?.views.filter((v) => v.source === 'local').length).toBe(1);
  const l = (await layout(page))!;
  const box = (await preview.boundingBox())!;
  const view = l.views.find((v) => v.source === 'local')!;
  expect([view.x, view.y, view.width, view.height]).toEqual([box.x, box.y, box.width, box.height]);
  expect(view.mirrored).toBe(true);
  // The preview's dark background and the card around it are drawn by the
  // app now, below the video (earlier in z), and transparent on the page.
  expect(view.background).toBe(0x1e293b);
  const fills = l.views.filter((v) => v.source === null);
  expect(fills.length).toBeGreaterThan(0);
  expect(fills.every((f) => f.z < view.z)).toBe(true);
  expect(l.background).toBe(0xf6f7f9);
  const painted = await page.evaluate(() =>
    [...document.querySelectorAll('[data-video-behind]')].map((e) => getComputedStyle(e).backgroundColor),
  );
  expect(painted.length).toBe(fills.length + 1);
  expect(new Set(painted)).toEqual(new Set(['rgba(0, 0, 0, 0)']));
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgba(0, 0, 0, 0)');
  expect(problems).toEqual([]);
});

test('in the call, the picture-in-picture is above the stage and follows the window; leaving clears the video', async ({ page }) => {
  const problems = watchProblems(page);
  await joinCall(page, 0, '/?native');
  await expect(page.getByTestId('remote-video')).toHaveAttribute('data-has-video', 'true');
  await expect(page.getByTestId('local-video')).toHaveAttribute('data-has-video', 'true');
  const views = async () => (await layout(page))!.views.filter((v) => v.source !== null);
  await expect.poll(async () => (await views()).map((v) => v.source).sort()).toEqual(['coach', 'local']);
  const [remote, local] = ['coach', 'local'].map(async (s) => (await views()).find((v) => v.source === s)!);
  expect((await local).z).toBeGreaterThan((await remote).z);
  // A smaller window: the layout follows by itself.
  const before = (await remote).width;
  await page.setViewportSize({ width: 900, height: 640 });
  await expect.poll(async () => (await views()).find((v) => v.source === 'coach')!.width).toBeLessThan(before);
  // Leaving: no video element is left to draw.
  await page.getByTestId('leave').click();
  await page.getByTestId('leave-confirm').click();
  await expect(page.getByTestId('screen-ended')).toBeVisible();
  await expect.poll(async () => (await views()).length).toBe(0);
  // and every element made transparent for a video has its colour back.
  await expect(page.locator('[data-video-behind]')).toHaveCount(0);
  expect(problems).toEqual([]);
});
