/**
 * A local Stripes server for the browser tests and the browser benchmark: `npm start`
 * (scripts/start.mjs: web build, D1 migrations, `wrangler dev`, demo seed) on a free loopback
 * port with its state in a temporary folder. `stop()` ends it and removes the folder.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface LocalServer {
  url: string;
  /** The server's state folder (D1, R2, the demo owner's token). */
  stateDir: string;
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

/** Runs `npm start` and resolves once it says the server is up and the demo pair seeded. */
export async function startLocalServer(timeoutMs = 180_000): Promise<LocalServer> {
  const stateDir = await mkdtemp(join(tmpdir(), 'stripes-web-state-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), STRIPES_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM'); // start.mjs stops wrangler and its workerd, then exits
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    await rm(stateDir, { recursive: true, force: true });
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
  return { url: `http://127.0.0.1:${port}`, stateDir, stop };
}
