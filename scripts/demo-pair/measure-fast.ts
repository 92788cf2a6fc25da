/**
 * Measures a checkpoint's fast variant (the distilled students) against its full generators:
 *
 * - fidelity: PSNR of the student's 8-bit translation against the teacher's, per held-out image
 *   (both translated here, wasm backend, exactly as `stripes translate` does), both directions;
 * - speed: wasm forward time (single thread, in this process) of teacher vs student at 256×256
 *   and 512×512 (the 256 held-out image resized bicubically), runs interleaved so a busy machine
 *   slows both alike; medians of N after one warm-up each;
 * - MACs of both networks at those sizes (shared/model/macs.ts).
 *
 *   node --import tsx scripts/demo-pair/measure-fast.ts MODEL_DIR TEST_A TEST_B [runs]   (runs 0: PSNR only)
 *   e.g. node --import tsx scripts/demo-pair/measure-fast.ts demo/checkpoint .demo-data/data/testA .demo-data/data/testB 5
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { readCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { createTranslator } from '../../cli/commands/translate-worker.ts';
import { decodeImage, type RgbImage } from '../../cli/image-io.ts';
import { GENERATOR_FOR, type Direction } from '../../shared/model/config.ts';
import { generatorMacs, mobileGeneratorMacs } from '../../shared/model/macs.ts';
import { resizeBicubicRGB } from '../../shared/train/resize.ts';
import { decodeGroup } from '../../shared/weights/checkpoint.ts';

const [modelDir, testA, testB, runsArg] = process.argv.slice(2);
if (!modelDir || !testA || !testB) {
  console.error('usage: measure-fast.ts MODEL_DIR TEST_A TEST_B [runs]');
  process.exit(2);
}
const runs = Number(runsArg ?? 5);
const src = await readCheckpointDir(modelDir);
const fast = src.manifest.variants?.fast;
if (!fast) throw new Error(`${modelDir} has no fast variant`);

function psnr(a: RgbImage, b: RgbImage): number {
  let se = 0;
  for (let i = 0; i < a.data.length; i++) se += (a.data[i] - b.data[i]) ** 2;
  const mse = se / a.data.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const images = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => ({ name: f, img: decodeImage(new Uint8Array(readFileSync(join(dir, f))), f) }));

console.log(`# ${modelDir}: teacher ngf ${src.manifest.config.generator.ngf}/${src.manifest.config.generator.nBlocks} blocks, student ${JSON.stringify(fast.config)}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const size of [256, 512]) {
  const t = generatorMacs(src.manifest.config.generator, size, size);
  const s = mobileGeneratorMacs(fast.config, size, size);
  console.log(`MACs at ${size}×${size}: teacher ${(t / 1e9).toFixed(3)} G, student ${(s / 1e9).toFixed(3)} G (${(t / s).toFixed(1)}× fewer)`);
}

for (const [direction, dir] of [['AtoB', testA], ['BtoA', testB]] as Array<[Direction, string]>) {
  const net = GENERATOR_FOR[direction];
  const teacher = await createTranslator({
    config: src.manifest.config.generator,
    params: await decodeGroup(src.manifest, net, (h) => src.fetchShard(h)),
    backend: 'wasm',
  });
  const student = await createTranslator({ config: fast.config, params: await decodeGroup(src.manifest, net, (h) => src.fetchShard(h), { variant: 'fast' }), backend: 'wasm' });
  const scores: number[] = [];
  const set = images(dir);
  for (const { img } of set) scores.push(psnr(await teacher.translateImage(img, 'teacher'), await student.translateImage(img, 'student')));
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  console.log(
    `${direction} (${net}): PSNR student vs teacher over ${scores.length} held-out ${set[0].img.width}×${set[0].img.height} images: mean ${mean.toFixed(2)} dB, min ${Math.min(...scores).toFixed(2)}, max ${Math.max(...scores).toFixed(2)}`,
  );
  for (const size of runs > 0 ? [256, 512] : []) {
    const base = set[0].img;
    const img: RgbImage = size === base.width ? base : { width: size, height: size, data: resizeBicubicRGB(base.data, base.width, base.height, size, size) };
    const times = { teacher: [] as number[], student: [] as number[] };
    await teacher.translateImage(img, 'warm-up');
    await student.translateImage(img, 'warm-up');
    for (let r = 0; r < runs; r++)
      for (const [name, tr] of [['teacher', teacher], ['student', student]] as const) {
        const t0 = performance.now();
        await tr.translateImage(img, name);
        times[name].push(performance.now() - t0);
      }
    const mt = median(times.teacher);
    const ms = median(times.student);
    console.log(`${direction} wasm ${size}×${size}: teacher median ${mt.toFixed(0)} ms, student median ${ms.toFixed(0)} ms (${(mt / ms).toFixed(2)}× faster) over ${runs} interleaved runs`);
  }
  teacher.dispose();
  student.dispose();
}
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
