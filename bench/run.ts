/**
 * `npm run bench`: runs the benchmark modules, prints one table each, and writes
 * bench/out/results.json (raw samples) and bench/out/results.md (the tables).
 *
 *   npm run bench [-- --quick] [-- --only forward,train,threads,aggregate,gate,server,browser,ort] [-- --cpu-sizes 128,256]
 *
 * threads: training on every core vs one (bench/train-threads.ts); ort: onnxruntime-web beside the
 * app's translator in the same Chromium page, at 1 thread and at every core (bench/browser-ort.ts).
 *
 * --only reruns some modules and keeps the other tables of the previous results (same mode).
 * --quick: forward at 128×128 without tfjs-cpu, training on the small preset at 64×64, a short
 * aggregation; a few minutes even on a loaded machine. The quick default leaves out server and
 * browser (each starts wrangler and, for browser, Chromium); name them in --only to run them.
 * Each module runs its peers interleaved (bench/lib/interleave.ts), so the ratios hold on a busy
 * machine; the load average is printed with every table because the absolute times do not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runForwardBench } from './forward.ts';
import { formatLoad, sampleLoad } from './lib/load.ts';
import { toConsole, toMarkdown, type BenchTable } from './lib/table.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = join(ROOT, 'bench/out');
const MODULES = ['forward', 'train', 'threads', 'aggregate', 'gate', 'server', 'browser', 'ort'] as const;
type Module = (typeof MODULES)[number];

function parseList(flag: string, s: string, isValid: (x: string) => boolean, expected: string): string[] {
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = items.filter((x) => !isValid(x));
  if (bad.length || !items.length) throw new Error(`--${flag}: ${JSON.stringify(bad.join(',') || s)} is not valid; expected ${expected}`);
  return items;
}

/** Runs another bench script in its own process (they act at import time) and keeps its output. */
function spawnBench(script: string, args: string[], env: NodeJS.ProcessEnv = {}): { ok: boolean; stdout: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'cli/run-ts.mjs'), join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const err = (r.stderr || String(r.error ?? '')).trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${r.status}`;
  return { ok: r.status === 0, stdout: r.stdout ?? '', err };
}

function failed(id: string, title: string, msg: string): BenchTable {
  return { id, title, columns: ['result'], rows: [['failed']], notes: [msg] };
}

/**
 * Training runs in a child process: a full-preset iteration needs most of the 4 GiB a wasm heap
 * can have, and a heap that the forward benchmark already used (wasm memory never shrinks or
 * compacts) can abort it.
 */
function trainTable(quick: boolean): BenchTable {
  const json = join(OUT, 'train.json');
  rmSync(json, { force: true });
  const r = spawnSync(process.execPath, [join(ROOT, 'cli/run-ts.mjs'), join(ROOT, 'bench/train-iter.ts'), ...(quick ? ['--quick'] : []), '--json', json], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0 || !existsSync(json)) return failed('train', 'One training iteration', `bench/train-iter.ts exited with ${r.signal ?? r.status}`);
  return JSON.parse(readFileSync(json, 'utf8')) as BenchTable;
}

/** A bench script that writes its own BenchTable to --json FILE, in a child process. */
function jsonTable(id: string, title: string, script: string, args: string[]): BenchTable {
  const json = join(OUT, `${id}.json`);
  rmSync(json, { force: true });
  const r = spawnSync(process.execPath, [join(ROOT, 'cli/run-ts.mjs'), join(ROOT, script), ...args, '--json', json], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 || !existsSync(json)) return failed(id, title, `${script} exited with ${r.signal ?? r.status}`);
  return JSON.parse(readFileSync(json, 'utf8')) as BenchTable;
}

/** The quality gate per candidate, in its own process (it measures tfjs-wasm beside it). */
function gateTable(quick: boolean): BenchTable {
  const json = join(OUT, 'gate.json');
  rmSync(json, { force: true });
  const r = spawnBench('bench/gate.ts', ['--reps', quick ? '1' : '3', '--json', json]);
  if (!r.ok || !existsSync(json)) return failed('gate', 'Quality gate per candidate', r.err);
  return JSON.parse(readFileSync(json, 'utf8')) as BenchTable;
}

/** Stripes's translator vs onnxruntime-web in the same page (bench/browser-ort.ts, in its own process). */
function ortTable(quick: boolean): BenchTable {
  const title = 'Browser: Stripes (tfjs-wasm) vs onnxruntime-web, same page, same threads';
  const json = join(OUT, 'ort.json');
  rmSync(json, { force: true });
  const args = quick ? ['--models', 'small,fast', '--runs', '3', '--no-first'] : [];
  const r = spawnSync(process.execPath, [join(ROOT, 'cli/run-ts.mjs'), join(ROOT, 'bench/browser-ort.ts'), ...args, '--json', json], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 || !existsSync(json)) return failed('ort', title, `bench/browser-ort.ts exited with ${r.signal ?? r.status}`);
  const j = JSON.parse(readFileSync(json, 'utf8')) as {
    side: number;
    firstSide: number;
    runs: number;
    rows: { model: string; threads: number; stripesMs: number[]; ortMs: number[]; ortVsPytorch: number; appVsOrtLevels: number; first: Record<string, number> | null; load: [number, number]; error?: string }[];
  };
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
  const rows = j.rows.map((x) => {
    const s = x.stripesMs.length ? med(x.stripesMs) : NaN;
    const o = x.ortMs.length ? med(x.ortMs) : NaN;
    return [x.model, String(x.threads), `${x.load[0].toFixed(1)}→${x.load[1].toFixed(1)}`, ms(s), ms(o), Number.isFinite(s / o) ? `${(s / o).toFixed(2)}×` : x.error ?? '—', x.ortVsPytorch.toExponential(1), (Number.isInteger(x.appVsOrtLevels) ? String(x.appVsOrtLevels) : `${x.appVsOrtLevels.toExponential(1)} (vs PyTorch)`),
      x.first ? `${ms(x.first.stripesCold)} / ${ms(x.first.ortCold)}` : '—', x.first ? `${ms(x.first.stripesWarm)} / ${ms(x.first.ortWarm)}` : '—'];
  });
  return {
    id: 'ort',
    title: `${title}: ${j.side}×${j.side}, median of ${j.runs}`,
    columns: ['model', 'threads', 'load avg', 'Stripes per image', 'ORT per image', 'Stripes ÷ ORT', 'ORT vs PyTorch max |Δ|', 'app vs ORT (levels)', `first @${j.firstSide} cold: Stripes / ORT`, 'warm: Stripes / ORT'],
    rows,
    notes: ["Stripes per image: the app translator's forward pass and pixel read-back in its worker; ORT: session.run in a worker of the same page", 'outputs checked before timing; runs alternate'],
    data: j,
  };
}

async function aggregateTable(quick: boolean): Promise<BenchTable> {
  const args = quick ? ['--preset', 'small', '--counts', '2,8'] : [];
  const title = `Round aggregation (bench/aggregate.ts ${args.join(' ') || 'defaults: full preset, 2,8,32'})`;
  const r = spawnBench('bench/aggregate.ts', args);
  if (!r.ok) return failed('aggregate', title, r.err);
  const lines = r.stdout.split('\n');
  const h = lines.findIndex((l) => l.startsWith('contributions'));
  const rows = lines
    .slice(h + 1)
    .map((l) => l.trim())
    .filter((l) => /^\d/.test(l))
    .map((l) => l.split(/\s{2,}/));
  return {
    id: 'aggregate',
    title,
    columns: ['contributions', 'seconds', 'params/s (base)', 'contribution-params/s', 'held MiB', 'heap MiB', 'commit→current s', 'slowest alarm s'],
    rows,
    notes: lines.slice(0, Math.max(0, h)).filter(Boolean),
  };
}

async function serverTable(quick: boolean): Promise<BenchTable> {
  // server.ts reads its request counts from the environment when it is first imported.
  if (quick) {
    process.env.BENCH_SHARD_REQUESTS ??= '16';
    process.env.BENCH_MANIFEST_REQUESTS ??= '60';
  }
  const title = 'Edge server (bench/server.ts: local wrangler dev)';
  try {
    const { runServerBench } = await import('./server.ts');
    const r = await runServerBench();
    const rows = [
      ['push (publish)', `${r.push.MBps} MB/s`, `${r.push.bytes} bytes in ${r.push.seconds} s`],
      ['shard download', `${r.shardDownload.MBps} MB/s`, `${r.shardDownload.requests} requests, ${r.setup.concurrency} in flight`],
      ['same bytes from disk', `${r.diskRead.MBps} MB/s`, 'ceiling'],
      ['manifest', `${r.manifest.medianMs} ms median`, `p99 ${r.manifest.p99Ms} ms, ${r.manifest.requests} requests`],
      ['shard 304', `${r.shard304.medianMs} ms median`, `p99 ${r.shard304.p99Ms} ms, ${r.shard304.requests} requests`],
    ];
    writeFileSync(join(OUT, 'server.json'), JSON.stringify(r, null, 2) + '\n');
    return { id: 'server', title, columns: ['measure', 'result', 'detail'], rows, notes: [`model: ${r.setup.model}, ${r.setup.shards} shards`], data: r };
  } catch (e) {
    return failed('server', title, (e as Error).message.split('\n')[0]);
  }
}

async function browserTable(quick: boolean): Promise<BenchTable> {
  const args = quick ? ['--runs', '2', '--backends', 'wasm'] : [];
  const title = `Browser translation (bench/browser.ts ${args.join(' ') || 'defaults'})`;
  const r = spawnBench('bench/browser.ts', args);
  if (!r.ok) return failed('browser', title, r.err);
  const j = JSON.parse(readFileSync(join(OUT, 'browser.json'), 'utf8')) as {
    preset: string;
    side: number;
    runs: number;
    cliWasmMs: number;
    rows: { backend: string; coldFirstMs: number | null; warmFirstMs: number | null; perImageMs: number | null; note?: string }[];
  };
  const ms = (v: number | null) => (v === null ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
  const rows = j.rows.map((x) => [x.backend, ms(x.coldFirstMs), ms(x.warmFirstMs), ms(x.perImageMs), x.perImageMs ? `${(x.perImageMs / j.cliWasmMs).toFixed(2)}×` : x.note ?? '']);
  rows.push(['CLI wasm (Node)', '', '', ms(j.cliWasmMs), '1.00×']);
  return {
    id: 'browser',
    title: `${title}: ${j.preset} preset, ${j.side}×${j.side}, median of ${j.runs}`,
    columns: ['backend', 'first, cold cache', 'first, warm cache', 'per image', 'vs CLI wasm'],
    rows,
    notes: ['WebGPU and WebGL in headless Chromium are SwiftShader (CPU emulation), not a GPU measurement'],
    data: j,
  };
}

/**
 * With --only, the other modules' tables of the previous results.json (same --quick setting)
 * are kept, so rerunning one module does not throw the rest away.
 */
function keptTables(only: Module[], quick: boolean): BenchTable[] {
  try {
    const prev = JSON.parse(readFileSync(join(OUT, 'results.json'), 'utf8')) as { quick: boolean; tables: BenchTable[] };
    if (prev.quick !== quick) return [];
    return prev.tables.filter((t) => (MODULES as readonly string[]).includes(t.id) && !only.includes(t.id as Module));
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'cpu-sizes': { type: 'string' } },
  });
  const quick = values.quick!;
  const only = (values.only ? parseList('only', values.only, (x) => (MODULES as readonly string[]).includes(x), `a comma-separated list of ${MODULES.join(', ')}`) : quick ? ['forward', 'train', 'threads', 'aggregate', 'gate'] : [...MODULES]) as Module[];
  const cpuSizes = values['cpu-sizes'] ? parseList('cpu-sizes', values['cpu-sizes'], (x) => /^\d+$/.test(x) && Number(x) % 4 === 0 && Number(x) >= 8, 'comma-separated image sides, multiples of 4').map(Number) : undefined;
  mkdirSync(OUT, { recursive: true });
  const start = sampleLoad();
  const t0 = performance.now();
  console.log(`npm run bench${quick ? ' --quick' : ''}: ${only.join(', ')} (${formatLoad(start)})`);
  const tables: BenchTable[] = [];
  const timings: Record<string, number> = {};
  for (const m of MODULES.filter((x) => only.includes(x))) {
    const m0 = performance.now();
    let t: BenchTable;
    try {
      if (m === 'forward') t = await runForwardBench({ quick, cpuSizes });
      else if (m === 'train') t = trainTable(quick);
      else if (m === 'threads') t = jsonTable('threads', 'Training on every core', 'bench/train-threads.ts', quick ? ['--quick'] : []);
      else if (m === 'aggregate') t = await aggregateTable(quick);
      else if (m === 'gate') t = gateTable(quick);
      else if (m === 'server') t = await serverTable(quick);
      else if (m === 'ort') t = ortTable(quick);
      else t = await browserTable(quick);
    } catch (e) {
      t = failed(m, m, (e as Error).message.split('\n')[0]);
    }
    timings[m] = (performance.now() - m0) / 1000;
    t.notes.push(`module took ${timings[m].toFixed(0)} s`);
    tables.push(t);
    console.log(toConsole(t));
  }
  const end = sampleLoad();
  const kept = values.only ? keptTables(only, quick) : [];
  const header = [
    `# Stripes benchmarks${quick ? ' (--quick)' : ''}`,
    '',
    `${new Date().toISOString()}; ${formatLoad(start)} at start, ${formatLoad(end)} at end; ${((performance.now() - t0) / 1000).toFixed(0)} s in all.`,
    'Peers run interleaved (one run of each in turn) so they share the same load; absolute times on a loaded machine are slower than on an idle one, the ratios less so.',
    ...(kept.length ? [`Kept from the earlier run (${kept.map((t) => t.id).join(', ')}): each table's notes give its own load.`] : []),
    '',
  ].join('\n');
  const all = [...tables, ...kept].sort((a, b) => MODULES.indexOf(a.id as Module) - MODULES.indexOf(b.id as Module));
  writeFileSync(join(OUT, 'results.md'), header + '\n' + all.map(toMarkdown).join('\n'));
  writeFileSync(join(OUT, 'results.json'), JSON.stringify({ quick, modules: only, load: { start, end }, timings, tables: all }, null, 2) + '\n');
  console.log(`\nwrote bench/out/results.md and bench/out/results.json (${formatLoad(end)})`);
  if (tables.some((t) => t.rows.some((r) => r.some((c) => c.includes('MISMATCH') || c === 'failed')))) process.exitCode = 1;
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message.split('\n')[0]}`);
  process.exit(1);
});
