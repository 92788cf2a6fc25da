/**
 * Distillation in the browser: the pair's generators (teachers, as served) are distilled into
 * compact students (shared/train/distill.ts, the same code `stripes distill` runs) on images
 * picked on this device, which never leave it. Only the students' float16 shards are uploaded,
 * by the page, as a new version carrying `variants.fast`. Its methods are called through
 * worker-rpc.ts (DistillerMethods in messages.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
// Training needs the gradients of every op the networks use; inference alone never loads them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { DISCRIMINATORS, GENERATORS, type DiscriminatorName, type GeneratorName } from '../../../shared/model/config.ts';
import { generatorMacs, mobileGeneratorMacs } from '../../../shared/model/macs.ts';
import { fastStudentConfig, type StudentConfig } from '../../../shared/model/student-config.ts';
import { registerWasmTrainingKernels } from '../../../shared/tfjs/wasm-kernels.ts';
import { createDistiller, type Distiller, type NetParams } from '../../../shared/train/distill.ts';
import { Rng } from '../../../shared/train/rng.ts';
import { referenceLoadSize } from '../../../shared/train/sampling.ts';
import { learningRate } from '../../../shared/train/schedule.ts';
import { decodeGroup, encodeFastVariant } from '../../../shared/weights/checkpoint.ts';
import type { CheckpointManifest } from '../../../shared/weights/format.ts';
import { validateManifest } from '../../../shared/weights/manifest.ts';
import { selectBackend } from './backend.ts';
import type { BackendName, DistillerMethods } from './messages.ts';
import { Batches, loadImage } from './train-data.ts';
import { shardFetcher } from './weights.ts';
import { serveRpc, type Handlers } from './worker-rpc.ts';

/** The Adam learning rate `stripes distill` uses (constant for the first half, then to 0). */
const LR = 2e-4;

let backend: BackendName | null = null;
let run: {
  manifest: CheckpointManifest;
  student: StudentConfig;
  distiller: Distiller;
  data: Batches;
  steps: number;
  cropSize: number;
  done: number;
} | null = null;

function drop(): void {
  run?.distiller.dispose();
  run = null;
}

async function decodeAll(files: Blob[], domain: string, loadSize: number, progress: (detail: string) => void): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const bad: string[] = [];
  for (const [i, f] of files.entries()) {
    progress(`domain ${domain}: image ${i + 1} of ${files.length}`);
    try {
      out.push(await loadImage(f, loadSize));
    } catch (e) {
      bad.push(`${(f as File).name ?? `#${i + 1}`}: ${(e as Error).message}`);
    }
  }
  if (out.length === 0) throw new Error(`domain ${domain}: none of the ${files.length} files could be read as an image${bad.length ? ` (${bad[0]})` : ''}`);
  return out;
}

const handlers: Handlers<DistillerMethods> = {
  async setup(req, { progress, signal }) {
    drop();
    if (!backend) {
      backend = (await selectBackend('auto')).backend;
      if (backend === 'wasm') registerWasmTrainingKernels();
    }
    const manifest = validateManifest(req.manifest);
    const nets = [...GENERATORS, ...DISCRIMINATORS].filter((n) => manifest.groups[n]);
    for (const g of GENERATORS) if (!manifest.groups[g]) throw new Error(`this version has no ${g}: both generators are needed to distil`);
    // The float32 masters, as `stripes distill` reads them (a float16 copy would teach rounding).
    const teacher: Partial<Record<GeneratorName | DiscriminatorName, NetParams>> = {};
    for (const [i, net] of nets.entries()) {
      const group = manifest.groups[net]!;
      const { fetchShard } = await shardFetcher(req.shardBase, group, (p) =>
        progress({ phase: 'downloading', detail: `${net} (${i + 1} of ${nets.length}): ${Math.round((100 * p.loadedBytes) / Math.max(1, p.totalBytes))}%` }),
      );
      progress({ phase: 'downloading', detail: `${net} (${i + 1} of ${nets.length})` });
      teacher[net] = await decodeGroup(manifest, net, fetchShard);
      signal.throwIfAborted();
    }
    const loadSize = referenceLoadSize(req.cropSize);
    const say = (detail: string) => progress({ phase: 'preparing', detail });
    const A = await decodeAll(req.images.A, 'A', loadSize, say);
    const B = await decodeAll(req.images.B, 'B', loadSize, say);
    const student = fastStudentConfig(manifest.config.generator);
    const distiller = createDistiller({ teacherConfig: manifest.config, studentConfig: student, teacher, seed: req.seed });
    run = { manifest, student, distiller, data: new Batches(A, B, loadSize, new Rng(req.seed)), steps: req.steps, cropSize: req.cropSize, done: 0 };
    return {
      backend,
      student,
      teacherMacs: generatorMacs(manifest.config.generator, 256, 256),
      studentMacs: mobileGeneratorMacs(student, 256, 256),
      adversarial: distiller.adversarial,
      images: { A: A.length, B: B.length },
    };
  },

  async step() {
    if (!run) throw new Error('no distillation is set up');
    if (run.done >= run.steps) throw new Error(`all ${run.steps} steps are done`);
    const batch = run.data.next(1, run.cropSize);
    const a = tf.tensor4d(batch.a, batch.shape);
    const b = tf.tensor4d(batch.b, batch.shape);
    let losses;
    try {
      losses = await run.distiller.step(a, b, learningRate(run.done, run.steps, LR));
    } finally {
      tf.dispose([a, b]);
    }
    run.done++;
    for (const [k, v] of Object.entries(losses)) if (!Number.isFinite(v)) throw new Error(`the distillation diverged at step ${run.done}: ${k} is ${v}`);
    return { step: run.done, losses: losses as Record<string, number> };
  },

  async finish() {
    if (!run) throw new Error('no distillation is set up');
    if (run.done === 0) throw new Error('no step has run yet');
    const { students } = await run.distiller.exportState();
    const shards = new Map<string, Uint8Array>();
    const manifest: CheckpointManifest = structuredClone(run.manifest);
    manifest.variants = { ...manifest.variants, fast: await encodeFastVariant(run.student, students, shards) };
    validateManifest(manifest);
    drop();
    return { manifest, shards: Object.fromEntries(shards) };
  },
};

serveRpc<DistillerMethods>(handlers);
