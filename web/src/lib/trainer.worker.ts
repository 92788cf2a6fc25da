/**
 * The training Web Worker: contributes to a pair's community round with the shared contributor
 * client (shared/rounds/client.ts: lease → base version → train → float16 delta → commit) and
 * the shared training step, on the best backend, so the page never freezes. The images arrive
 * as files, are decoded here and never leave the device: only the weight change is uploaded.
 */
import * as tf from '@tensorflow/tfjs-core';
// Training needs the gradients of every op the networks use; inference alone never loads them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../../../shared/train/rng.ts';
import { NETWORKS, type ModelConfig } from '../../../shared/model/config.ts';
import { mulberry32 } from '../../../shared/model/init.ts';
import { contributeRound, RoundClientError, type RoundTrainer, type Weights } from '../../../shared/rounds/client.ts';
import { networkLength, DELTA_BYTES_PER_ELEMENT } from '../../../shared/rounds/delta.ts';
import { registerWasmTrainingKernels } from '../../../shared/tfjs/wasm-kernels.ts';
import { LeaseDiscarded, loadSizeFor, StopSignal, stepsFor, trainLease } from '../../../shared/rounds/lease-training.ts';
import { createCycleGAN, disposeCycleGAN, exportWeights } from '../../../shared/train/cyclegan.ts';
import { ImagePool } from '../../../shared/train/image-pool.ts';
import { trainStep, visuals } from '../../../shared/train/train-step.ts';
import { selectBackend } from './backend.ts';
import type { BackendAttempt, BackendChoice, BackendName, Pixels, StopMode, TrainBudget, TrainerReply, TrainerRequest } from './messages.ts';
import { toPixels } from './pixels.ts';
import { Batches, loadImage } from './train-data.ts';

const post = (reply: TrainerReply, transfer: Transferable[] = []) => self.postMessage(reply, { transfer });

let backend: BackendName | 'cpu' | null = null;


async function useBackend(choice: BackendChoice | 'cpu', threads?: number): Promise<{ backend: BackendName | 'cpu'; attempts: BackendAttempt[]; threads?: number }> {
  if (choice === 'cpu') {
    await tf.setBackend('cpu');
    await tf.ready();
    backend = 'cpu';
    return { backend, attempts: [] };
  }
  const chosen = await selectBackend(choice, { threads });
  backend = chosen.backend;
  if (backend === 'wasm') registerWasmTrainingKernels();
  return chosen;
}

async function ensureBackend(): Promise<BackendName | 'cpu'> {
  if (!backend) await useBackend('auto');
  return backend!;
}


/** The first image of a [-1, 1] NHWC batch as opaque pixels. */
async function firstImage(t: tf.Tensor4D): Promise<Pixels> {
  const [, h, w] = t.shape;
  const one = tf.slice(t, [0, 0, 0, 0], [1, h, w, 3]);
  const values = (await one.data()) as Float32Array;
  one.dispose();
  return toPixels(values, w, h);
}

async function decodeAll(id: number, files: Blob[], domain: string, loadSize: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const bad: string[] = [];
  for (const [i, f] of files.entries()) {
    post({ id, type: 'phase', phase: 'preparing', detail: `domain ${domain}: image ${i + 1} of ${files.length}` });
    try {
      out.push(await loadImage(f, loadSize));
    } catch (e) {
      bad.push(`${(f as File).name ?? `#${i + 1}`}: ${(e as Error).message}`);
    }
  }
  if (out.length === 0) throw new Error(`domain ${domain}: none of the ${files.length} files could be read as an image${bad.length ? ` (${bad[0]})` : ''}`);
  return out;
}

/** The Stop button's signal for the lease being trained, if any (see the 'stop' request). */
let stopSignal: StopSignal | null = null;

function trainer(
  id: number,
  images: { A: Blob[]; B: Blob[] },
  budget: TrainBudget,
  previewEvery: number,
  onConfig: (config: ModelConfig) => void,
): RoundTrainer {
  return async (base: Weights, lease, onStep, config: ModelConfig) => {
    onConfig(config);
    const t = lease.train;
    await ensureBackend();
    const loadSize = loadSizeFor(t);
    const seeds = crypto.getRandomValues(new Uint32Array(2));
    const data = new Batches(await decodeAll(id, images.A, 'A', loadSize), await decodeAll(id, images.B, 'B', loadSize), loadSize, new Rng(seeds[0]));
    const steps = stepsFor(t, { steps: budget.steps });
    // A fixed pair of crops, so the previews show the same picture changing.
    const shown = data.next(1, t.cropSize);
    const stop = new StopSignal();
    stopSignal = stop;
    post({ id, type: 'phase', phase: 'training', detail: `${steps} steps on ${backend}` });
    try {
      const local = await trainLease({
        config,
        base,
        train: t,
        batches: data,
        seed: seeds[1],
        budget: { steps: budget.steps, ms: budget.minutes ? budget.minutes * 60_000 : undefined },
        stop,
        onStep: async ({ step, of, losses, elapsedMs, model }) => {
          onStep(step, losses);
          post({ id, type: 'step', step, of, losses, elapsedMs });
          // A step's awaits resolve as microtasks: without a turn of the event loop here, the
          // page's stop message would wait for the whole loop.
          await new Promise((r) => setTimeout(r, 0));
          if (model && (step % previewEvery === 0 || step === of)) {
            const a = tf.tensor4d(shown.a, shown.shape);
            const b = tf.tensor4d(shown.b, shown.shape);
            const v = visuals(model, a, b);
            const [realA, fakeB, recA] = await Promise.all([firstImage(a), firstImage(v.fakeB), firstImage(v.recA)]);
            tf.dispose([a, b, v.fakeB, v.recA, v.fakeA, v.recB]);
            post({ id, type: 'preview', step, realA, fakeB, recA }, [realA.data.buffer, fakeB.data.buffer, recA.data.buffer]);
          }
        },
      });
      post({ id, type: 'phase', phase: 'uploading' });
      return local;
    } finally {
      stopSignal = null;
    }
  };
}

async function handle(req: TrainerRequest): Promise<void> {
  switch (req.type) {
    case 'setBackend': {
      const chosen = await useBackend(req.choice, req.threads);
      post({ id: req.id, type: 'backend', backend: chosen.backend, attempts: chosen.attempts, threads: chosen.threads });
      return;
    }
    case 'contribute': {
      await ensureBackend();
      let totalBytes = 0;
      let sentBytes = 0;
      post({ id: req.id, type: 'phase', phase: 'leasing' });
      const summary = await contributeRound({
        server: req.server,
        slug: req.slug,
        token: req.token,
        name: 'browser',
        trainer: trainer(req.id, req.images, req.budget, req.previewEvery, (config) => {
          // The delta is float16 of every parameter: its size is the upload bar's total.
          totalBytes = NETWORKS.reduce((n, net) => n + networkLength(config, net) * DELTA_BYTES_PER_ELEMENT, 0);
        }),
        onEvent: (e) => {
          if (e.kind === 'leased') post({ id: req.id, type: 'phase', phase: 'downloading', detail: `version ${e.lease.baseVersion}` });
          else if (e.kind === 'downloaded') post({ id: req.id, type: 'phase', phase: 'preparing' });
          else if (e.kind === 'uploaded') {
            sentBytes += e.bytes;
            post({ id: req.id, type: 'upload', sentBytes, totalBytes });
            if (e.network === NETWORKS[NETWORKS.length - 1] && e.index === e.of - 1) post({ id: req.id, type: 'phase', phase: 'committing' });
          }
        },
      });
      post({
        id: req.id,
        type: 'contributed',
        lease: summary.lease,
        round: summary.round,
        baseVersion: summary.baseVersion,
        steps: summary.steps,
        samples: summary.samples,
        losses: summary.losses,
        uploadedBytes: summary.uploadedBytes,
        committed: summary.receipt.committed,
        quorum: summary.receipt.quorum,
        repeated: summary.receipt.repeated,
      });
      return;
    }
    case 'stop':
      return; // handled in onmessage
    case 'checkStep': {
      // Only test builds carry this (VITE_STRIPES_TEST_HOOKS=1): production builds drop the branch.
      if (import.meta.env.VITE_STRIPES_TEST_HOOKS !== '1') throw new Error('unknown request checkStep');
      const used = await ensureBackend();
      const rand = mulberry32(req.seed);
      const n = req.size * req.size * 3;
      const realA = tf.tensor4d(Float32Array.from({ length: n }, () => rand() * 2 - 1), [1, req.size, req.size, 3]);
      const realB = tf.tensor4d(Float32Array.from({ length: n }, () => rand() * 2 - 1), [1, req.size, req.size, 3]);
      const model = createCycleGAN(req.config, { seed: req.seed });
      const pools = { A: new ImagePool(50, rand), B: new ImagePool(50, rand) };
      try {
        const before = await exportWeights(model);
        const losses = await trainStep(model, pools, realA, realB, { lr: req.lr });
        const after = await exportWeights(model);
        post({ id: req.id, type: 'checked', backend: used, losses, before, after });
      } finally {
        tf.dispose([realA, realB]);
        disposeCycleGAN(model);
        pools.A.dispose();
        pools.B.dispose();
      }
      return;
    }
  }
}

// One request at a time: a backend switch must never land in the middle of training.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<TrainerRequest>) => {
  const req = ev.data;
  // Stop is not queued: it must reach the lease that is training now.
  if (req.type === 'stop') {
    stopSignal?.stop(req.mode);
    post({ id: req.id, type: 'stopping', training: stopSignal !== null });
    return;
  }
  queue = queue.then(() =>
    handle(req).catch((e: unknown) => {
      post({
        id: req.id,
        type: 'error',
        message: e instanceof Error ? e.message : String(e),
        ...(e instanceof RoundClientError ? { status: e.status } : {}),
        ...(e instanceof LeaseDiscarded ? { discarded: true } : {}),
      });
    }),
  );
};
