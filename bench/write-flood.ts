/**
 * One token floods writes for 10 s against a local `npm start` (loopback only, a throwaway state
 * folder, at most FLOOD_CONCURRENCY requests in flight) while a second token keeps reading and
 * writing its own pair. Reports the second token's latency percentiles before and during the
 * flood, how many of the flood's writes were accepted or refused (429), and how much the local
 * D1 and R2 state grew. Run: `node cli/run-ts.mjs bench/write-flood.ts`; writes
 * bench/out/write-flood.json.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startLocalServer } from '../scripts/local-server.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const FLOOD_SECONDS = Math.min(30, Number(process.env.FLOOD_SECONDS ?? 10));
const BASELINE_SECONDS = 4;
const FLOOD_CONCURRENCY = Math.min(16, Number(process.env.FLOOD_CONCURRENCY ?? 8));
const SAMPLE_BYTES = 200 * 1024;

/** Bytes of the files under `dir` whose path contains `part` (the local D1 or R2 store). */
function storeBytes(dir: string, part: string): number {
  let total = 0;
  const walk = (d: string, inside: boolean) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const hit = inside || e.name.includes(part);
      if (e.isDirectory()) walk(p, hit);
      else if (hit) total += statSync(p).size;
    }
  };
  walk(dir, false);
  return total;
}

function percentiles(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? +s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(1) : null);
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s.length ? +s[s.length - 1].toFixed(1) : null };
}

/** A PNG signature and 64×64 IHDR, padded to `size` bytes: the worker reads only the header. */
function pngOfSize(size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 64, 0, 0, 0, 64, 8, 6, 0, 0, 0]);
  return b;
}

async function main() {
  const server = await startLocalServer({ build: false });
  const url = server.url;
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`refusing to load anything but loopback: ${url}`);
  try {
    const req = async (method: string, path: string, token?: string, body?: unknown, type = 'application/json') => {
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      let payload: BodyInit | undefined;
      if (body instanceof Uint8Array) {
        headers['Content-Type'] = type;
        payload = body as unknown as BodyInit;
      } else if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      const res = await fetch(url + path, { method, headers, body: payload });
      await res.arrayBuffer();
      return res.status;
    };
    const mint = async (name: string) => {
      const res = await fetch(`${url}/api/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
      return (await res.json()) as { id: string; token: string };
    };
    const pairBody = (slug: string) => ({ slug, title: slug, domainA: 'a', domainB: 'b', licence: 'MIT' });
    const flooder = await mint('flooder');
    const observer = await mint('observer');
    const floodSlug = `flood-${Date.now().toString(36)}`;
    const quietSlug = `quiet-${Date.now().toString(36)}`;
    if ((await req('POST', '/api/pairs', flooder.token, pairBody(floodSlug))) !== 201) throw new Error('could not create the flood pair');
    if ((await req('POST', '/api/pairs', observer.token, pairBody(quietSlug))) !== 201) throw new Error('could not create the quiet pair');

    const observe = async (seconds: number, stop: { done: boolean }) => {
      const reads: number[] = [];
      const writes: number[] = [];
      const statuses: Record<string, number> = {};
      const end = performance.now() + seconds * 1000;
      let i = 0;
      while (performance.now() < end && !stop.done) {
        let t0 = performance.now();
        const r = await req('GET', `/api/pairs/${quietSlug}`);
        reads.push(performance.now() - t0);
        t0 = performance.now();
        const w = await req('PATCH', `/api/pairs/${quietSlug}`, observer.token, { description: `tick ${i++}` });
        writes.push(performance.now() - t0);
        for (const s of [`GET ${r}`, `PATCH ${w}`]) statuses[s] = (statuses[s] ?? 0) + 1;
      }
      return { reads: percentiles(reads), writes: percentiles(writes), statuses };
    };

    const before = { d1: storeBytes(server.stateDir, 'd1'), r2: storeBytes(server.stateDir, 'r2') };
    const baseline = await observe(BASELINE_SECONDS, { done: false });

    const flood: Record<string, number> = {};
    const stop = { done: false };
    const sample = pngOfSize(SAMPLE_BYTES);
    let n = 0;
    const floodStart = performance.now();
    const floodEnd = floodStart + FLOOD_SECONDS * 1000;
    const flooding = Promise.all(
      Array.from({ length: FLOOD_CONCURRENCY }, async () => {
        while (performance.now() < floodEnd) {
          const k = n++;
          let status: number;
          let what: string;
          if (k % 3 === 0) {
            what = 'PUT sample';
            status = await req('PUT', `/api/pairs/${floodSlug}/samples/${k % 2 ? 'A' : 'B'}/${k % 4}`, flooder.token, sample, 'image/png');
          } else if (k % 3 === 1) {
            what = 'POST pair';
            status = await req('POST', '/api/pairs', flooder.token, { ...pairBody(`${floodSlug}-${k}`), description: 'x'.repeat(3900) });
          } else {
            what = 'PATCH pair';
            status = await req('PATCH', `/api/pairs/${floodSlug}`, flooder.token, { description: 'y'.repeat(3900) });
          }
          flood[`${what} ${status}`] = (flood[`${what} ${status}`] ?? 0) + 1;
        }
      }),
    ).then(() => (stop.done = true));
    const during = await observe(FLOOD_SECONDS, stop);
    await flooding;
    const floodSeconds = (performance.now() - floodStart) / 1000;
    const after = { d1: storeBytes(server.stateDir, 'd1'), r2: storeBytes(server.stateDir, 'r2') };

    const accepted = Object.entries(flood).filter(([k]) => / 2\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0);
    const limited = Object.entries(flood).filter(([k]) => / 429$/.test(k)).reduce((a, [, v]) => a + v, 0);
    // While a real edge is up: the static app's security headers (from web/dist/_headers).
    const page = await fetch(`${url}/`);
    await page.arrayBuffer();
    const result = {
      date: new Date().toISOString(),
      loadAverage: loadavg().map((x) => +x.toFixed(1)),
      staticHeaders: Object.fromEntries(['content-security-policy', 'x-content-type-options', 'referrer-policy'].map((h) => [h, page.headers.get(h)])),
      floodSeconds: +floodSeconds.toFixed(1),
      floodConcurrency: FLOOD_CONCURRENCY,
      flood: { requests: n, perSecond: +(n / floodSeconds).toFixed(1), accepted, limited, statuses: flood },
      observer: { baseline, during },
      growth: { d1Bytes: after.d1 - before.d1, r2Bytes: after.r2 - before.r2 },
    };
    mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/out/write-flood.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await server.stop();
  }
}

await main();
