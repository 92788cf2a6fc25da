/**
 * What the browser tests share: page-level checks (no sideways scrolling at a phone's width,
 * axe-core injected from node_modules finding no serious or critical accessibility violation, a
 * screenshot per page and viewport for review), reading the server's JSON, and folders of
 * small test images to pick in a file input.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { encodePng } from '../../cli/image-io.ts';
import { mulberry32 } from '../../shared/model/init.ts';
import { ROOT } from './server.ts';

/** GET `server + path` as JSON; throws with the status on anything but 2xx. */
export async function getJson<T>(server: string, path: string): Promise<T> {
  const r = await fetch(server + path);
  if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** `n` noisy 32×32 PNGs around a tint (e.g. warm for A, cool for B), written into `dir`. */
export async function writeImages(dir: string, tint: [number, number, number], seed: number, n: number): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const rand = mulberry32(seed);
  const files: string[] = [];
  for (let k = 0; k < n; k++) {
    const data = new Uint8Array(32 * 32 * 3);
    for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.round(tint[i % 3] * (0.5 + rand())));
    const file = join(dir, `img${k}.png`);
    await writeFile(file, encodePng({ width: 32, height: 32, data }));
    files.push(file);
  }
  return files;
}

export const SCREENSHOTS = join(ROOT, 'test-output/screenshots');
const AXE = join(ROOT, 'node_modules/axe-core/axe.min.js');

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const SMALL_PHONE = { width: 360, height: 780 };

/** How far the page scrolls sideways (0 when it fits), and the widest elements that stick out. */
export async function horizontalOverflow(page: Page): Promise<{ overflow: number; culprits: string[] }> {
  return page.evaluate(() => {
    const root = document.documentElement;
    const width = root.clientWidth;
    const culprits = [...document.querySelectorAll<HTMLElement>('body *')]
      .filter((el) => el.getBoundingClientRect().right > width + 0.5 && el.getClientRects().length > 0)
      .slice(0, 8)
      .map((el) => `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''} right=${Math.round(el.getBoundingClientRect().right)}`);
    return { overflow: root.scrollWidth - width, culprits };
  });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated, not added as a <script>: the app's CSP (rightly) refuses inline scripts, and the
  // DevTools protocol's evaluation is not subject to it.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await readFile(AXE, 'utf8'));
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const { width } = page.viewportSize()!;
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
}

/** The pair page's output canvas (its data-* attributes say what ran and how long it took). */
export const translateOutput = (page: Page) => page.locator('[data-testid=translate-output]');

/** How many translations the pair page has shown so far. */
export const translationCount = async (page: Page) => Number(await translateOutput(page).getAttribute('data-count'));

/** Waits until the page shows a translation after the `before`-th; throws the page's error if one shows instead. */
export async function waitForTranslation(page: Page, before: number, timeout = 180_000, polling = 100): Promise<void> {
  await page.waitForFunction(
    (n) => {
      const err = document.querySelector('[data-testid=translate-error]');
      if (err) throw new Error(err.textContent ?? 'translate error');
      return Number(document.querySelector('[data-testid=translate-output]')?.getAttribute('data-count')) > n;
    },
    before,
    { timeout, polling },
  );
}
