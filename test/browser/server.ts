/**
 * A local Stripes server for browser tests and the browser benchmark: the web app built, D1
 * migrated, `wrangler dev` on a free loopback port with its state in a temporary folder, and the
 * demo pair seeded. Stopped (and its folder removed) by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface LocalServer {
  url: string;
  persistDir: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-3000)}`))));
  });
}

const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
const VITE = join(ROOT, 'node_modules/vite/bin/vite.js');
const QUIET = { WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' };

export async function buildWeb(): Promise<void> {
  await run(process.execPath, [VITE, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
}

async function waitUntilUp(url: string, proc: ChildProcess, log: () => string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`wrangler dev exited ${proc.exitCode}:\n${log().slice(-3000)}`);
    try {
      const r = await fetch(`${url}/api/pairs?limit=1`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer on ${url} within ${ms / 1000} s:\n${log().slice(-3000)}`);
}

/** Builds, migrates, starts and seeds; the caller stops it. */
export async function startLocalServer(opts: { build?: boolean; seed: (url: string) => Promise<void> }): Promise<LocalServer> {
  if (opts.build !== false) await buildWeb();
  const persistDir = await mkdtemp(join(tmpdir(), 'stripes-wrangler-'));
  await run(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'stripes', '--local', '--persist-to', persistDir], QUIET);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = randomBytes(32).toString('hex');
  const proc = spawn(
    process.execPath,
    [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persistDir,
      '--var', `TOKEN_SECRET:${secret}`, '--show-interactive-dev-session=false', '--log-level', 'warn'],
    { cwd: ROOT, env: { ...process.env, ...QUIET }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const stop = async () => {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      try {
        process.kill(-proc.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) process.kill(-proc.pid!, 'SIGKILL');
    }
    await rm(persistDir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(url, proc, () => log);
    await opts.seed(url);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, persistDir, stop };
}
