/**
 * The edge end to end, as a user runs it: `npm start` (scripts/start.mjs) on a free loopback
 * port with its own state folder, `stripes push` of a checkpoint folder, then `stripes translate
 * --model URL` must give the same image as translating from the folder; a restart keeps
 * everything and seeds nothing twice; Ctrl-C/SIGTERM stops it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { NETWORKS, presetConfig } from '../../shared/model/config.ts';
import { initValues } from '../../shared/model/init.ts';
import { encodeCheckpoint, encodeFastVariant, type NetworkParams } from '../../shared/weights/checkpoint.ts';
import { studentParamSpecs, type StudentConfig } from '../../shared/model/student-config.ts';
import { specsFor } from '../../shared/weights/manifest.ts';
import { freePort, startLocalServer, type LocalServer } from '../../scripts/local-server.ts';
import { stripes } from './run-cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'stripes-push-'));
const state = join(tmp, 'state');
let server: LocalServer | null = null;

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** `npm start` without the web build (this test needs only the API) on the given port and this test's state. */
const startServer = (port: number) => startLocalServer({ port, stateDir: state, build: false });

async function tinyCheckpointDir(dir: string): Promise<void> {
  const config = presetConfig('tiny');
  const networks: Record<string, NetworkParams> = {};
  NETWORKS.forEach((net, i) => (networks[net] = Object.fromEntries(initValues(specsFor(net, config), 42 + i))));
  await writeCheckpointDir(dir, await encodeCheckpoint(config, networks, { meta: { test: 'push' } }));
}

/** The tiny checkpoint with distilled students (seeded, untrained) as its fast variant, as stripes distill writes it. */
async function tinyFastCheckpointDir(dir: string): Promise<void> {
  const config = presetConfig('tiny');
  const networks: Record<string, NetworkParams> = {};
  NETWORKS.forEach((net, i) => (networks[net] = Object.fromEntries(initValues(specsFor(net, config), 42 + i))));
  const ckpt = await encodeCheckpoint(config, networks);
  const student: StudentConfig = { arch: 'mobile-resnet', ngf: 2, nBlocks: 2 };
  const s = (seed: number) => Object.fromEntries(initValues(studentParamSpecs(student), seed));
  ckpt.manifest.variants!.fast = await encodeFastVariant(student, { G_AB: s(7), G_BA: s(8) }, ckpt.shards);
  await writeCheckpointDir(dir, ckpt);
}

function testImage(path: string): void {
  const png = new PNG({ width: 24, height: 20 });
  for (let i = 0; i < png.data.length; i += 4) {
    const p = i / 4;
    png.data[i] = (p * 7) % 256;
    png.data[i + 1] = (p * 13) % 256;
    png.data[i + 2] = (p * 3) % 256;
    png.data[i + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(png));
}

describe('stripes push into npm start, translate from the URL', () => {
  it('publishes, serves the same model, survives a restart, stops cleanly', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = await startServer(port);
    server = started;
    // The demo is the repo's trained pair when demo/ holds one, else the untrained placeholder "demo".
    const seeded = /seeded demo pair "([a-z0-9-]+)" version 1/.exec(started.output());
    expect(seeded, started.output()).not.toBeNull();
    const demoSlug = seeded![1];

    const ckpt = join(tmp, 'ckpt');
    await tinyCheckpointDir(ckpt);
    const token = (await (await fetch(`${url}/api/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json()).token;

    const pushed = stripes('push', '--server', url, '--pair', 'tiny-test', '--token', token, '--title', 'Tiny test', ckpt);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/\/api\/pairs\/tiny-test\/versions\/1 \(6 shards uploaded, 0 already there\)/);

    // A second push of the same folder is a new version whose shards are all there already.
    const again = stripes('push', '--server', url, '--pair', 'tiny-test', '--token', token, ckpt);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/versions\/2 \(0 shards uploaded, 6 already there\)/);

    // Someone else's token may not push to the pair.
    const intruder = stripes('push', '--server', url, '--pair', 'tiny-test', ckpt);
    expect(intruder.code).toBe(1);
    expect(intruder.stderr).toMatch(/only the owner of "tiny-test"/);

    const img = join(tmp, 'in.png');
    testImage(img);
    const fromDir = stripes('translate', '--model', ckpt, '--in', img, '--out', join(tmp, 'dir.png'), '--backend', 'cpu');
    expect(fromDir.code, fromDir.stderr).toBe(0);
    const fromUrl = stripes('translate', '--model', `${url}/api/pairs/tiny-test`, '--in', img, '--out', join(tmp, 'url.png'), '--backend', 'cpu');
    expect(fromUrl.code, fromUrl.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'url.png')).equals(readFileSync(join(tmp, 'dir.png')))).toBe(true);
    const missing = stripes('translate', '--model', `${url}/api/pairs/no-such-pair`, '--in', img, '--out', join(tmp, 'x.png'), '--backend', 'cpu');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no pair "no-such-pair"/);

    // A version carrying distilled students (variants.fast): the server stores their shards too,
    // and translating from the URL with the student gives the folder's image.
    const fastCkpt = join(tmp, 'ckpt-fast');
    await tinyFastCheckpointDir(fastCkpt);
    const pushedFast = stripes('push', '--server', url, '--pair', 'tiny-fast', '--token', token, fastCkpt);
    expect(pushedFast.code, pushedFast.stderr).toBe(0);
    expect(pushedFast.stdout).toMatch(/\/api\/pairs\/tiny-fast\/versions\/1 \(2 shards uploaded, 6 already there\)/);
    const version = await (await fetch(`${url}/api/pairs/tiny-fast/versions/current`)).json();
    expect(version.manifest.variants.fast.config).toEqual({ arch: 'mobile-resnet', ngf: 2, nBlocks: 2 });
    const fastDir = stripes('translate', '--model', fastCkpt, '--in', img, '--out', join(tmp, 'fast-dir.png'), '--variant', 'fast', '--backend', 'cpu');
    expect(fastDir.code, fastDir.stderr).toBe(0);
    const fastUrl = stripes('translate', '--model', `${url}/api/pairs/tiny-fast`, '--in', img, '--out', join(tmp, 'fast-url.png'), '--backend', 'cpu');
    expect(fastUrl.code, fastUrl.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'fast-url.png')).equals(readFileSync(join(tmp, 'fast-dir.png')))).toBe(true);
    expect(readFileSync(join(tmp, 'fast-url.png')).equals(readFileSync(join(tmp, 'url.png')))).toBe(false);

    expect(await server.stop()).toBe(0);

    // Restart on the same state: everything is still there and the demo is not seeded again.
    const restarted = await startServer(port);
    server = restarted;
    expect(restarted.output()).toContain(`demo pair "${demoSlug}" is there (version 1)`);
    const pair = await (await fetch(`${url}/api/pairs/tiny-test`)).json();
    expect(pair).toMatchObject({ title: 'Tiny test', currentVersion: 2 });
    const list = await (await fetch(`${url}/api/pairs`)).json();
    expect(list.pairs.map((p: { slug: string }) => p.slug).sort()).toEqual([demoSlug, 'tiny-fast', 'tiny-test'].sort());
    expect(await server.stop()).toBe(0);
    // Nothing of ours is left listening.
    await expect(fetch(`${url}/api/pairs`)).rejects.toThrow();
  });
});

