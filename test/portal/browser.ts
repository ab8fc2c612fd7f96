import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, BrowserContext, Page } from 'playwright-core';

/**
 * Debian's Chromium driven by Playwright (playwright-core: no bundled browser), headless, with a
 * fresh profile per test file. Screenshots go to test/screenshots/ (git-ignored).
 */

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(__dirname, '..', 'screenshots');
const ROOT = join(__dirname, '..', '..');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Builds portal/dist (type-check + esbuild) so the test serves the sources it sits next to. */
export function buildPortal(): void {
  execFileSync(process.execPath, [join(ROOT, 'portal', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Every console message and page error, to check that nothing secret is logged and nothing throws. */
  console: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (local/setup.sh does)`);
  const profile = mkdtempSync(join(tmpdir(), 'chainfaas-chromium-'));
  // Playwright passes the profile as --user-data-dir itself; it refuses the flag in args.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleLines: string[] = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    console: consoleLines,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Presses Tab until `selector` has the focus (and fails if it never gets it): the element is
 * reachable with the keyboard alone, in the page's tab order.
 */
export async function tabTo(page: Page, selector: string, maxTabs = 40): Promise<void> {
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
  }
  throw new Error(`${selector} was not reached with ${maxTabs} presses of Tab`);
}

/** The page is no wider than the viewport (nothing scrolls sideways but the tables' own regions). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
}

/** Headings the app shows instead of the page asked for: a failed load, a wrong route, a lost session. */
const OTHER_OUTCOMES = ['Something went wrong', 'Not found', 'Page not found', 'Log in'];

/** What `main` shows, for a failure message: the heading and the first lines of text. */
export async function mainText(page: Page): Promise<string> {
  const text = await page
    .evaluate(() => ((globalThis as any).document.getElementById('main')?.innerText as string | undefined) ?? '(no main element)')
    .catch((e: Error) => `(could not read the page: ${e.message})`);
  return text.replace(/\s*\n\s*/g, ' | ').slice(0, 600);
}

/**
 * Waits until the app has rendered a page whose heading contains `title` (an h1 in main and no
 * "Loading…"). When it rendered another outcome instead (an error, "Page not found", the log-in
 * page) or nothing in time, fails at once with what main shows and the URL, not a bare timeout.
 */
export async function waitForPage(page: Page, title: string, timeoutMs = 60_000): Promise<void> {
  const done = await page
    .waitForFunction(
      ({ title, others }) => {
        const main = (globalThis as any).document.getElementById('main');
        const h1 = main?.querySelector('h1');
        if (!h1 || main.querySelector('.loading')) return false;
        const text = String(h1.textContent ?? '');
        return text.includes(title) ? 'ok' : others.some((o: string) => text.includes(o)) ? text : false;
      },
      { title, others: OTHER_OUTCOMES },
      { timeout: timeoutMs, polling: 100 },
    )
    .then(async (handle) => String(await handle.jsonValue()))
    .catch((e: Error) => (/Timeout/i.test(e.message) ? undefined : Promise.reject(e)));
  if (done === 'ok') return;
  const why = done === undefined ? `no page titled "${title}" within ${timeoutMs / 1000} s` : `the app showed "${done}" instead of "${title}"`;
  throw new Error(`${why}; at ${page.url()} main shows: ${await mainText(page)}`);
}

/**
 * Logs the browser in as another user by putting a session in sessionStorage, then opens `hash`
 * in a fresh load of the portal and waits for its page. The session is written from a same-origin
 * page where the app does not run (/config.json), so no render of the previous user (a late
 * redirect, a cached `me`) can race the new session; a fresh load reads it from the start.
 */
export async function openAs(
  page: Page,
  portal: string,
  session: { token: string; email: string },
  hash: string,
  title: string,
  timeoutMs?: number,
): Promise<void> {
  await page.goto(new URL('/config.json', portal).toString());
  await page.evaluate((s) => (globalThis as any).sessionStorage.setItem('chainfaas.session', s), JSON.stringify(session));
  await page.goto(`${portal}${hash}`);
  await waitForPage(page, title, timeoutMs);
}

/** page.waitForSelector, but a timeout says what the page showed (main's text and the URL). */
export async function waitForSelectorOrShow(page: Page, selector: string, timeoutMs = 30_000): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: timeoutMs });
  } catch (e) {
    throw new Error(
      `${selector} did not appear within ${timeoutMs / 1000} s (${(e as Error).message.split('\n')[0]}); at ${page.url()} main shows: ${await mainText(page)}`,
      { cause: e },
    );
  }
}
