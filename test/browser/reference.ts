/**
 * What the browser's translation is checked against: `stripes translate` (the CLI, wasm backend)
 * on the same image with the same weights the browser ran. The browser downloads the float16
 * copy of a generator, so the CLI gets a checkpoint whose float32 master is exactly those
 * float16 values widened: the comparison then measures the inference paths, not fp16 rounding.
 * The fast variant (the distilled student) exists only as float16, so for it the CLI reads the
 * pair's version from the server itself (`serverModel`), the same shards the browser decoded.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api } from '../../shared/api/paths.ts';
import { GENERATORS, type Direction, type ModelConfig } from '../../shared/model/config.ts';
import { discriminatorLayers, generatorLayout } from '../../shared/model/param-specs.ts';
import { decodeGroup, encodeCheckpoint, type NetworkParams } from '../../shared/weights/checkpoint.ts';
import { validateManifest } from '../../shared/weights/manifest.ts';
import { writeCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { decodeImage, type RgbImage } from '../../cli/image-io.ts';
import { ROOT } from './server.ts';

async function getBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Writes the pair's current generators, as the browser sees them, into a checkpoint folder. */
export async function browserWeightsAsCheckpoint(server: string, slug: string, dir: string): Promise<void> {
  const version = JSON.parse(new TextDecoder().decode(await getBytes(server + api.current(slug))));
  const manifest = validateManifest(version.manifest);
  const nets: Partial<Record<(typeof GENERATORS)[number], NetworkParams>> = {};
  for (const net of GENERATORS) {
    if (!manifest.groups[net]) continue;
    const variant = manifest.variants?.float16?.[net] ? { variant: 'float16' as const } : {};
    nets[net] = await decodeGroup(manifest, net, (h) => getBytes(server + api.shard(h)), variant);
  }
  await writeCheckpointDir(dir, await encodeCheckpoint(manifest.config, nets));
}

/** A pair's version on the server as `stripes translate --model` takes it (the current one by default). */
export function serverModel(server: string, slug: string, version?: number): string {
  return `${server}${api.pair(slug)}${version === undefined ? '' : `/versions/${version}`}`;
}

/**
 * `stripes translate --backend wasm` on one image with the pair's generator (`full`, the default)
 * or its distilled student (`fast`); returns the decoded PNG it wrote.
 */
export async function cliTranslate(model: string, image: string, direction: Direction, timeoutMs = 120_000, variant: 'fast' | 'full' = 'full'): Promise<RgbImage> {
  const tmp = await mkdtemp(join(tmpdir(), 'stripes-cli-ref-'));
  try {
    const out = join(tmp, 'out.png');
    const r = spawnSync(
      process.execPath,
      ['cli/bin.mjs', 'translate', '--model', model, '--in', image, '--out', out, '--direction', direction, '--backend', 'wasm', '--variant', variant],
      { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs },
    );
    if (r.status !== 0) throw new Error(`stripes translate failed (${r.status}): ${r.stderr}`);
    return decodeImage(new Uint8Array(await readFile(out)), out);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Largest per-channel difference in 8-bit levels between RGBA canvas pixels and an RGB image. */
export function maxLevelDiff(rgba: ArrayLike<number>, rgb: RgbImage): number {
  let worst = 0;
  for (let i = 0; i < rgb.width * rgb.height; i++)
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(rgba[4 * i + c] - rgb.data[3 * i + c]));
  return worst;
}

/**
 * Whether a parameter is a conv bias that feeds an instance norm (every generator bias but the
 * head's; the normed discriminator layers' biases): the norm subtracts the mean, so its true
 * gradient is 0 and Adam's first step on it is rounding noise scaled up to ±lr on any backend
 * (PyTorch's too). Tests comparing one training step across paths only bound those.
 */
export function normCancelledBias(config: ModelConfig): (net: string, param: string) => boolean {
  const head = `model.${generatorLayout(config.generator).head}.bias`;
  const normedD = new Set(discriminatorLayers(config.discriminator).filter((l) => l.norm).map((l) => `model.${l.index}.bias`));
  return (net, p) => (net.startsWith('G_') ? p.endsWith('.bias') && p !== head : normedD.has(p));
}
