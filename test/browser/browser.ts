/**
 * Debian's Chromium driven by playwright-core, as the browser tests and the browser benchmark
 * launch it: headless, no GPU (WebGL and WebGPU run on SwiftShader), a fresh profile each time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
];

export interface Browser {
  context: BrowserContext;
  /** The profile folder (Chromium's --user-data-dir), which tells this browser's processes from others'. */
  profile: string;
  /** Console errors and uncaught exceptions seen on any page or worker, with where they came from. */
  errors: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** A fresh profile (so the Cache Storage starts empty) that is deleted on close. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'stripes-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    viewport: { width: 1280, height: 900 },
  });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${page.url()}: console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`${page.url()}: uncaught: ${e.message}`));
    page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker ${w.url()}: ${m.text()}`)));
  };
  context.on('page', watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    profile,
    errors,
    async newPage() {
      const existing = context.pages().find((p) => p.url() === 'about:blank');
      return existing ?? context.newPage();
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
