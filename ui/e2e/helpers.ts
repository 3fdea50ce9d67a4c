import { expect, type Page } from '@playwright/test';

/// Screenshots land in e2e/screens/ (looked at by people, not compared).
export async function shot(page: Page, name: string) {
  await page.screenshot({ path: `e2e/screens/${name}.png` });
}

/// Fails the test on any CSP violation or uncaught page error.
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

/// The average colour in the middle of the first canvas inside `selector`.
export async function centreColour(page: Page, selector: string): Promise<[number, number, number]> {
  return page.evaluate((sel) => {
    const c = document.querySelector(`${sel} canvas`) as HTMLCanvasElement | null;
    if (!c || c.width === 0) return [0, 0, 0] as [number, number, number];
    const probe = document.createElement('canvas');
    probe.width = c.width;
    probe.height = c.height;
    const ctx = probe.getContext('2d')!;
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(Math.floor(c.width / 4), Math.floor(c.height / 2), 8, 8).data;
    let r = 0, g = 0, b = 0;
    for (let i = 0; i < d.length; i += 4) { r += d[i]!; g += d[i + 1]!; b += d[i + 2]!; }
    const n = d.length / 4;
    return [Math.round(r / n), Math.round(g / n), Math.round(b / n)] as [number, number, number];
  }, selector);
}

export async function toPrejoin(page: Page, session = 0, url = '/') {
  await page.goto(url);
  await expect(page.getByTestId('session').first()).toBeVisible();
  await page.getByTestId('open-session').nth(session).click();
  await expect(page.getByTestId('screen-prejoin')).toBeVisible();
}

export async function joinCall(page: Page, session = 0, url = '/') {
  await toPrejoin(page, session, url);
  await page.getByTestId('display-name').fill('Sam Client');
  await page.getByTestId('join').click();
  await expect(page.getByTestId('screen-call')).toHaveAttribute('data-phase', 'connected');
}

export async function emit(page: Page, update: unknown) {
  await page.evaluate((u) => (window as any).__fake.emit(u), update);
}

/// Controls on the page that a screen reader could not name (no label, text,
/// aria-label or title), described by their test id or tag.
export async function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('button, input, select, textarea, [role=button], [tabindex]')) {
      const labels = (el as HTMLInputElement).labels;
      const name =
        el.getAttribute('aria-label') ||
        el.getAttribute('title') ||
        (el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA' ? '' : el.textContent?.trim()) ||
        (labels && labels.length > 0 ? labels[0]!.textContent?.trim() : '');
      if (!name) out.push(el.dataset.testid ?? el.tagName.toLowerCase());
    }
    return out;
  });
}
