#!/usr/bin/env node
/**
 * `npm start`: the whole platform on this machine, with nothing from the internet.
 *
 *  1. builds the web app into web/dist (or leaves a placeholder page when there is none yet),
 *  2. writes .dev.vars with a random TOKEN_SECRET the first time,
 *  3. applies the D1 migrations to the local database,
 *  4. runs `wrangler dev` on 127.0.0.1:$PORT (8787) with state under .wrangler/state,
 *  5. seeds the demo pair once (scripts/seed.ts), and prints the URL.
 *
 * Ctrl-C or SIGTERM stops wrangler (and its workerd) and exits. Options: --no-build skips step 1;
 * STRIPES_STATE_DIR moves the state (tests use a temporary one).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`npm start: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
const host = '127.0.0.1';
const url = `http://${host}:${port}`;
const stateDir = resolve(root, process.env.STRIPES_STATE_DIR ?? '.wrangler/state');
const skipBuild = process.argv.includes('--no-build');
// No telemetry, no update checks, no prompts: every step runs offline and unattended.
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false', // else Miniflare fetches a Request.cf sample from workers.cloudflare.com
  WRANGLER_HIDE_BANNER: 'true',
  CI: 'true',
  NO_UPDATE_NOTIFIER: '1',
};
const bin = (name) => join(root, 'node_modules', '.bin', name);
const log = (msg) => console.log(`[stripes] ${msg}`);

function run(step, cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${step} failed (${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal})`);
}

function buildWeb() {
  const dist = join(root, 'web', 'dist');
  if (!skipBuild && existsSync(join(root, 'web', 'vite.config.ts'))) {
    log('building the web app');
    try {
      run('web build', bin('vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
    } catch (e) {
      // The API is still worth serving; say loudly what is missing.
      log(`WARNING: ${e.message}; serving the previous build or a placeholder page`);
    }
  }
  if (!existsSync(join(dist, 'index.html'))) {
    mkdirSync(dist, { recursive: true });
    writeFileSync(
      join(dist, 'index.html'),
      '<!doctype html><meta charset="utf-8"><title>Stripes</title>\n<p>The web app is not built yet. The API is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>\n',
    );
  }
}

function ensureSecret() {
  const file = join(root, '.dev.vars');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (/^TOKEN_SECRET=.{32,}$/m.test(text)) return;
  writeFileSync(file, `${text}${text && !text.endsWith('\n') ? '\n' : ''}TOKEN_SECRET=${randomBytes(32).toString('hex')}\n`);
  chmodSync(file, 0o600);
  log('wrote a new TOKEN_SECRET to .dev.vars');
}

async function waitUntilUp(child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/api/openapi.json`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`wrangler dev did not answer on ${url} within ${timeoutMs / 1000} s`);
}

let child = null;
let stopping = false;

function stop(code) {
  if (stopping) return;
  stopping = true;
  if (child && child.exitCode === null) {
    log('stopping');
    // wrangler runs workerd as its own child: signal the whole group this script started.
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
    const force = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, 5000);
    child.once('exit', () => {
      clearTimeout(force);
      process.exit(code);
    });
  } else {
    process.exit(code);
  }
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

try {
  buildWeb();
  ensureSecret();
  mkdirSync(stateDir, { recursive: true });
  log('applying D1 migrations to the local database');
  run('migrations', bin('wrangler'), ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir]);
  log(`starting wrangler dev on ${url}`);
  child = spawn(
    bin('wrangler'),
    ['dev', '--ip', host, '--port', String(port), '--persist-to', stateDir, '--show-interactive-dev-session=false', '--log-level', 'warn'],
    { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true },
  );
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[stripes] wrangler dev stopped (${code ?? signal})`);
      process.exit(code || 1);
    }
  });
  await waitUntilUp(child, 120_000);
  const { register } = await import('tsx/esm/api');
  register();
  const { seedDemo } = await import(pathToFileURL(join(root, 'scripts', 'seed.ts')).href);
  log(await seedDemo(url, stateDir));
  log(`Stripes is running at ${url}  (API: ${url}/api/openapi.json; Ctrl-C stops it)`);
} catch (e) {
  console.error(`[stripes] ${e.message}`);
  stop(1);
}
