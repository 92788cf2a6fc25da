// A PNG of the top of a training report (facts and loss charts), for READMEs and notes that
// cannot embed the HTML. Usage: node scripts/demo-pair/report-shot.mjs REPORT.html OUT.png
// Needs a Chromium binary (CHROMIUM, default /usr/bin/chromium); playwright-core drives it.
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [html, out] = process.argv.slice(2);
if (!html || !out) {
  console.error('usage: node scripts/demo-pair/report-shot.mjs REPORT.html OUT.png');
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1500 } });
  await page.goto(pathToFileURL(resolve(html)).href);
  await page.screenshot({ path: out });
} finally {
  await browser.close();
}
