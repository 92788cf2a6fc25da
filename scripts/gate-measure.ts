/**
 * The measurements behind docs/gate.md: forward speed, and how the gate's metrics respond to the
 * demo pair's trained generators (demo/checkpoint, `small` preset), to their weights perturbed
 * by increasing amounts, to doing nothing (identity), to inverted and constant outputs, and to
 * the SWD's seed. Validation sets are 64×64 tiles of the demo's held-out sample maps
 * (demo/samples/*-before.png, 256×256: 16 tiles each, 3 maps per domain).
 *
 *   node cli/run-ts.mjs scripts/gate-measure.ts [--per-domain 16] [--seeds 6]
 *
 * Times are CPU time of this process (process.cpuUsage), so other work on the machine inflates
 * them less than wall time would.
 */
import { readFileSync } from 'node:fs';
import { decodeImage } from '../cli/image-io.ts';
import {
  DEFAULT_GATE_TOLERANCE,
  directionMetrics,
  evaluatePair,
  judge,
  macsPerImage,
  prepareGenerator,
  runGenerator,
  spreadStats,
  swdReference,
  swdTo,
  translateAndCycle,
  type GateMetrics,
  type GeneratorParams,
  type ValidationSet,
} from '../shared/gate/index.ts';
import { toUnit } from '../shared/train/sampling.ts';
import { Rng } from '../shared/train/rng.ts';
import { decodeGroup } from '../shared/weights/checkpoint.ts';
import { validateManifest } from '../shared/weights/manifest.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const perDomain = arg('per-domain', 16);
const nSeeds = arg('seeds', 6);
const cpuMs = () => process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000;
const root = new URL('../', import.meta.url);

// Validation sets: 64×64 tiles, every k-th of the 48 per domain.
function tiles(files: string[]): Float32Array[] {
  const out: Float32Array[] = [];
  for (const f of files) {
    const img = decodeImage(readFileSync(new URL(f, root)), f);
    for (let ty = 0; ty + 64 <= img.height; ty += 64)
      for (let tx = 0; tx + 64 <= img.width; tx += 64) {
        const t = new Float32Array(64 * 64 * 3);
        for (let y = 0; y < 64; y++)
          for (let i = 0; i < 64 * 3; i++) t[y * 64 * 3 + i] = toUnit(img.data[((ty + y) * img.width + tx) * 3 + i]);
        out.push(t);
      }
  }
  return out;
}
const allA = tiles([1, 2, 3].map((i) => `demo/samples/summer-to-winter-${i}-before.png`));
const allB = tiles([1, 2, 3].map((i) => `demo/samples/winter-to-summer-${i}-before.png`));
const pick = (all: Float32Array[], offset: number) => {
  const step = Math.floor(all.length / perDomain);
  return Array.from({ length: perDomain }, (_, i) => all[(i * step + offset) % all.length]);
};
const set = (images: Float32Array[]): ValidationSet => ({ count: images.length, height: 64, width: 64, images });
const valA = set(pick(allA, 0));
const valB = set(pick(allB, 0));
console.log(`validation sets: ${valA.count} A (summer) and ${valB.count} B (winter) tiles of 64×64, from ${allA.length} and ${allB.length}`);

const manifest = validateManifest(JSON.parse(readFileSync(new URL('demo/checkpoint/manifest.json', root), 'utf8')));
const fetchShard = async (h: string) => new Uint8Array(readFileSync(new URL(`demo/checkpoint/shards/${h}`, root)));
const cfg = manifest.config.generator;
const pAB = await decodeGroup(manifest, 'G_AB', fetchShard);
const pBA = await decodeGroup(manifest, 'G_BA', fetchShard);

// 1. Forward speed with the real weights.
{
  const g = prepareGenerator(cfg, pAB);
  runGenerator(g, valA.images[0], 64, 64);
  const t0 = cpuMs();
  for (const x of valA.images.slice(0, 8)) runGenerator(g, x, 64, 64);
  const ms = (cpuMs() - t0) / 8;
  console.log(`forward, demo G_AB (ngf ${cfg.ngf}, ${cfg.nBlocks} blocks) 64×64: ${ms.toFixed(1)} ms CPU per image, ${(macsPerImage(cfg, 64, 64) / ms / 1e6).toFixed(2)} GMAC/s`);
}

const fmt = (m: GateMetrics) =>
  `cycleA ${m.cycleA.toFixed(4)} cycleB ${m.cycleB.toFixed(4)} realismAB ${m.realismAB.toFixed(4)} realismBA ${m.realismBA.toFixed(4)} ` +
  `spreadAB ${m.spreadAB.toFixed(3)} spreadBA ${m.spreadBA.toFixed(3)} variationAB ${m.variationAB.toFixed(3)} variationBA ${m.variationBA.toFixed(3)}`;

// 2. The demo version, and the whole evaluation's cost.
const refA = swdReference(valA.images, 64, 64);
const refB = swdReference(valB.images, 64, 64);
let t0 = cpuMs();
const base = evaluatePair(cfg, pAB, pBA, valA, valB, { refA, refB });
console.log(`demo version: ${fmt(base)}  (evaluatePair ${(cpuMs() - t0).toFixed(0)} ms CPU)`);
t0 = cpuMs();
for (let i = 0; i < 3; i++) swdTo(refB, valA.images);
console.log(`SWD of ${perDomain} images 64×64 against a prepared reference: ${((cpuMs() - t0) / 3).toFixed(0)} ms CPU; reference ${(() => { const t = cpuMs(); swdReference(valB.images, 64, 64); return (cpuMs() - t).toFixed(0); })()} ms`);

// 3. Reference points for realism: real vs real, identity, inverted, constant.
{
  const otherB = pick(allB, 1); // disjoint tiles of the same maps
  const otherA = pick(allA, 1);
  console.log(`real B (other tiles) vs valB: ${swdTo(refB, otherB).distance.toFixed(4)}; real A (other tiles) vs valA: ${swdTo(refA, otherA).distance.toFixed(4)}`);
  console.log(`identity (A as fake B) vs valB: ${swdTo(refB, valA.images).distance.toFixed(4)}; (B as fake A) vs valA: ${swdTo(refA, valB.images).distance.toFixed(4)}`);
  const gAB = prepareGenerator(cfg, pAB);
  const fakes = valA.images.map((x) => runGenerator(gAB, x, 64, 64));
  console.log(`demo G_AB fakes vs valB: ${swdTo(refB, fakes).distance.toFixed(4)}; colour-inverted fakes: ${swdTo(refB, fakes.map((f) => f.map((v) => -v))).distance.toFixed(4)}; constant 0: ${swdTo(refB, fakes.map((f) => new Float32Array(f.length))).distance.toFixed(4)}`);
  const s = spreadStats(fakes);
  console.log(`demo G_AB fakes spread: channel std ${s.channelStd.map((v) => v.toFixed(3)).join(' ')}, between images ${s.betweenImageStd.toFixed(3)}; real B: std ${spreadStats(valB.images).std.toFixed(3)} between ${spreadStats(valB.images).betweenImageStd.toFixed(3)}`);
}

// 4. Seed noise of the realism distance: the same version under different SWD seeds.
{
  const gAB = prepareGenerator(cfg, pAB);
  const gBA = prepareGenerator(cfg, pBA);
  const fAB = valA.images.map((x) => translateAndCycle(gAB, gBA, x, 64, 64));
  const vals: number[] = [];
  for (let seed = 1; seed <= nSeeds; seed++) vals.push(directionMetrics(fAB, swdReference(valB.images, 64, 64, { seed })).realism);
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const sd = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (vals.length - 1));
  console.log(`realismAB over ${nSeeds} SWD seeds: mean ${mean.toFixed(4)} sd ${sd.toFixed(4)} (${((100 * sd) / mean).toFixed(1)}%): ${vals.map((v) => v.toFixed(4)).join(' ')}`);
}

// 5. Perturbed candidates: every weight tensor plus Gaussian noise of σ × its own std.
function perturb(p: GeneratorParams, sigma: number, seed: number): GeneratorParams {
  const rng = new Rng(seed);
  const out: GeneratorParams = {};
  for (const [k, v] of Object.entries(p)) {
    let m = 0;
    for (const x of v) m += x;
    m /= v.length;
    let sd = 0;
    for (const x of v) sd += (x - m) ** 2;
    sd = Math.sqrt(sd / v.length);
    out[k] = v.map((x) => x + sigma * sd * Math.sqrt(-2 * Math.log(1 - rng.random())) * Math.cos(2 * Math.PI * rng.random()));
  }
  return out;
}
for (const sigma of [0.01, 0.03, 0.1, 0.3, 1]) {
  const cand = evaluatePair(cfg, perturb(pAB, sigma, 11), perturb(pBA, sigma, 12), valA, valB, { refA, refB });
  const v = judge(cand, base);
  const r = (k: keyof GateMetrics) => ((cand[k] as number) / (base[k] as number)).toFixed(2);
  console.log(`σ ${sigma}: ratios to base cycleA ${r('cycleA')} cycleB ${r('cycleB')} realismAB ${r('realismAB')} realismBA ${r('realismBA')} spreadAB ${r('spreadAB')} variationAB ${r('variationAB')} → ${v.pass ? 'pass' : 'FAIL: ' + v.reasons.join(' ')}`);
}
console.log(`tolerance: ${JSON.stringify(DEFAULT_GATE_TOLERANCE)}`);
