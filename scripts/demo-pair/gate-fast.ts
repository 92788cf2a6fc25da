/**
 * The quality gate's measurements (shared/gate: cycle L1, realism distance to the other domain's
 * real images, output spread and between-image variation) for a checkpoint's fast variant beside
 * its full generators, on the pair's held-out validation images. The student is judged exactly
 * as a round's candidate would be judged against its base (`judge`, default tolerances), so the
 * line "would pass the gate" says whether the student is as good as the teacher by the measures
 * the platform already trusts.
 *
 * Differences from the gate itself: the translations go through `stripes translate`'s translator
 * (tfjs wasm, 8-bit output, so each image is quantised once between the two halves of a cycle),
 * which both networks share here, so the comparison is like for like.
 *
 *   node --import tsx scripts/demo-pair/gate-fast.ts MODEL_DIR VAL_A_DIR VAL_B_DIR
 *   e.g. node --import tsx scripts/demo-pair/gate-fast.ts demo/checkpoint demo/validation/A demo/validation/B
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { createTranslator } from '../../cli/commands/translate-worker.ts';
import { decodeImage, type RgbImage } from '../../cli/image-io.ts';
import { combineDirections, judge, type GateMetrics } from '../../shared/gate/judge.ts';
import { cycleL1, spreadStats, swdReference, swdTo } from '../../shared/gate/metrics.ts';
import { GENERATORS, type GeneratorName } from '../../shared/model/config.ts';
import { decodeGroup } from '../../shared/weights/checkpoint.ts';

const [modelDir, valA, valB] = process.argv.slice(2);
if (!modelDir || !valA || !valB) {
  console.error('usage: gate-fast.ts MODEL_DIR VAL_A_DIR VAL_B_DIR');
  process.exit(2);
}
const src = await readCheckpointDir(modelDir);
const fast = src.manifest.variants?.fast;
if (!fast) throw new Error(`${modelDir} has no fast variant`);

const readDir = (dir: string): RgbImage[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => decodeImage(new Uint8Array(readFileSync(join(dir, f))), f));
const toUnit = (img: RgbImage) => Float32Array.from(img.data, (v) => v / 127.5 - 1);
const A = readDir(valA);
const B = readDir(valB);
const { width: w, height: h } = A[0];
const refA = swdReference(A.map(toUnit), h, w);
const refB = swdReference(B.map(toUnit), h, w);

type Translate = (img: RgbImage) => Promise<RgbImage>;
async function translators(variant: 'full' | 'fast'): Promise<Record<GeneratorName, Translate>> {
  const out = {} as Record<GeneratorName, Translate>;
  for (const net of GENERATORS) {
    const params = await decodeGroup(src.manifest, net, (x) => src.fetchShard(x), variant === 'fast' ? { variant: 'fast' } : {});
    const t = await createTranslator({ config: variant === 'fast' ? fast!.config : src.manifest.config.generator, params, backend: 'wasm', tile: 0 });
    out[net] = (img) => t.translateImage(img, `${variant} ${net}`);
  }
  return out;
}

async function measure(variant: 'full' | 'fast'): Promise<GateMetrics> {
  const g = await translators(variant);
  const direction = async (images: RgbImage[], forward: Translate, back: Translate, target: typeof refA) => {
    const fakes: Float32Array[] = [];
    let cycle = 0;
    for (const img of images) {
      const fake = await forward(img);
      const rec = await back(fake);
      fakes.push(toUnit(fake));
      cycle += cycleL1(toUnit(img), toUnit(rec));
    }
    const s = spreadStats(fakes);
    return { cycle: cycle / images.length, realism: swdTo(target, fakes).distance, spread: s.std, variation: s.betweenImageStd, finite: true };
  };
  return combineDirections(await direction(A, g.G_AB, g.G_BA, refB), await direction(B, g.G_BA, g.G_AB, refA));
}

const teacher = await measure('full');
const student = await measure('fast');
const row = (name: string, m: GateMetrics) =>
  `| ${name} | ${m.cycleA.toFixed(3)} / ${m.cycleB.toFixed(3)} | ${m.realismAB.toFixed(3)} / ${m.realismBA.toFixed(3)} | ${m.spreadAB.toFixed(3)} / ${m.spreadBA.toFixed(3)} | ${m.variationAB.toFixed(3)} / ${m.variationBA.toFixed(3)} |`;
console.log(`${A.length} + ${B.length} validation images, ${w}×${h}`);
console.log('| generators | cycle L1 A / B | realism A→B / B→A | spread | variation |');
console.log('| --- | --- | --- | --- | --- |');
console.log(row('teacher (full)', teacher));
console.log(row('student (fast)', student));
const verdict = judge(student, teacher);
console.log(verdict.pass ? 'the student would pass the gate against its teacher' : `the student would not pass the gate: ${verdict.reasons.join('; ')}`);
