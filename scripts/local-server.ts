/**
 * `npm start` (scripts/start.mjs) as a child process on a loopback port, for the tests and
 * benchmarks that need a real local edge: the browser tests, the push test, the server bench.
 * Resolves once start.mjs says the server is up and the demo pair seeded.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export interface LocalServerOptions {
  /** A free loopback port when absent; a restart on the same state passes the first one's. */
  port?: number;
  /** The server's state (D1, R2, the demo owner's token); absent: a temporary folder that `stop()` removes. */
  stateDir?: string;
  /** Build the web app first (start.mjs's step 1); false passes --no-build. Default true. */
  build?: boolean;
  /** How long start.mjs may take to come up. Default 180 s. */
  timeoutMs?: number;
}

export interface LocalServer {
  url: string;
  port: number;
  stateDir: string;
  /** What start.mjs has printed so far (stdout and stderr together). */
  output(): string;
  /** SIGTERM (start.mjs stops wrangler and its workerd), then its exit code; null if it outlived the wait or had already gone. */
  stop(): Promise<number | null>;
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

const STOP_WAIT_MS = 30_000;

export async function startLocalServer(o: LocalServerOptions = {}): Promise<LocalServer> {
  const ownState = o.stateDir === undefined;
  const stateDir = o.stateDir ?? (await mkdtemp(join(tmpdir(), 'stripes-web-state-')));
  const port = o.port ?? (await freePort());
  const timeoutMs = o.timeoutMs ?? 180_000;
  const child = spawn(process.execPath, ['scripts/start.mjs', ...(o.build === false ? ['--no-build'] : [])], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), STRIPES_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async (): Promise<number | null> => {
    let code: number | null = null;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), STOP_WAIT_MS).unref())]);
    }
    if (ownState) await rm(stateDir, { recursive: true, force: true });
    return code;
  };
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`npm start was not up within ${timeoutMs / 1000} s:\n${out.slice(-3000)}`)), timeoutMs);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('Stripes is running at')) {
          clearTimeout(timer);
          res();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`npm start exited with ${code}:\n${out.slice(-3000)}`));
      });
    });
    // start.mjs keeps serving an old build when the web build fails; a test must not pass on that.
    if (out.includes('WARNING: web build failed')) throw new Error(`the web app did not build:\n${out.slice(-3000)}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${port}`, port, stateDir, output: () => out, stop };
}
