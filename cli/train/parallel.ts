/**
 * CycleGAN training on several cores: one iteration (batch as given, the paper's batch 1 too)
 * split across worker threads, with results identical to the one-thread `trainStep`.
 *
 * TF.js's wasm backend runs single-threaded in Node (its threaded build needs a browser), so the
 * parallelism is in the iteration itself: its gradients split into independent chunks
 * (shared/train/train-step.ts, GENERATOR_CHUNKS and discriminatorChunk). With 2 threads:
 *
 *   worker 0: cycleA + idtA  (G_A, cycle_A, idt_A)  | then D_B's half of the D step (loss D_A)
 *   worker 1: cycleB + idtB  (G_B, cycle_B, idt_B)  | then D_A's half (loss D_B)
 *
 * Every worker holds a full replica of the four networks and both Adam optimizers. The chunks'
 * gradients go into SharedArrayBuffers; each worker sums them in the one-thread order (cycleA,
 * cycleB, identity; float32 additions, as the one-thread tf.add) and takes the same Adam step, so
 * the replicas never drift apart and every weight, moment and loss equals `trainStep`'s bit for
 * bit. The history pools stay on the calling thread (one random stream, queried B then A as
 * `trainStep` does), which sends each discriminator its pooled fakes.
 *
 * What changes with threads is only the wall time: more memory (one replica and wasm heap per
 * worker) and gradient copies of 4 bytes × parameters per chunk. Work per iteration is four
 * generator chunks (cycle chunks about three times an identity chunk) and two discriminator
 * chunks: 2 threads balance exactly; 3 and 4 threads split further but unevenly; more add nothing.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import type { ModelConfig, NetworkName } from '../../shared/model/config.ts';
import type { AdamConfig, AdamState } from '../../shared/train/adam.ts';
import type { NetworkWeights, TrainingState } from '../../shared/train/cyclegan.ts';
import { LOSS_NAMES, type GeneratorChunk, type LossName, type Losses, type LossWeights } from '../../shared/train/train-step.ts';
import type { ImagePool } from '../../shared/train/image-pool.ts';

import { MAX_TRAIN_THREADS } from './threads.ts';

const ROLE = 'stripes-parallel-trainer';

/** Which chunks each of `n` workers runs (cost: a cycle chunk ≈ 3 identity chunks). */
export function chunkPlan(n: number, identity: boolean): { gen: GeneratorChunk[][]; disc: ('D_A' | 'D_B')[][] } {
  const idt = (c: GeneratorChunk[]) => (identity ? c : []);
  let gen: GeneratorChunk[][];
  if (n <= 1) gen = [['cycleA', 'cycleB', ...idt(['idtA', 'idtB'])]];
  else if (n === 2) gen = [['cycleA', ...idt(['idtA'])], ['cycleB', ...idt(['idtB'])]];
  else if (n === 3) gen = [['cycleA'], ['cycleB'], idt(['idtA', 'idtB'])];
  else gen = [['cycleA'], ['cycleB'], idt(['idtA']), idt(['idtB'])];
  const disc: ('D_A' | 'D_B')[][] = n <= 1 ? [['D_B', 'D_A']] : [['D_B'], ['D_A'], ...Array.from({ length: gen.length - 2 }, () => [])];
  return { gen, disc };
}

/** Where each parameter's gradient lives in the shared buffers: G params then D params, spec order. */
interface Layout {
  g: { key: string; offset: number; length: number }[];
  d: { key: string; offset: number; length: number }[];
  gLength: number;
  dLength: number;
}

async function layoutOf(config: ModelConfig): Promise<Layout> {
  const { specsOf, slotKey } = await import('../../shared/train/cyclegan.ts');
  const place = (nets: NetworkName[]) => {
    const out: Layout['g'] = [];
    let offset = 0;
    for (const net of nets)
      for (const s of specsOf(config, net)) {
        const length = s.shape.reduce((a, b) => a * b, 1);
        out.push({ key: slotKey(net, s.name), offset, length });
        offset += length;
      }
    return { out, offset };
  };
  const g = place(['G_AB', 'G_BA']);
  const d = place(['D_A', 'D_B']);
  return { g: g.out, d: d.out, gLength: g.offset, dLength: d.offset };
}

/** The shared gradient buffers: cycleA, cycleB and identity (G), and the D step's (D). */
interface Buffers {
  cycleA: SharedArrayBuffer;
  cycleB: SharedArrayBuffer;
  idt: SharedArrayBuffer;
  d: SharedArrayBuffer;
}

type Image = { data: Float32Array; shape: [number, number, number, number] };

type ToWorker =
  | { id: number; type: 'init'; config: ModelConfig; adam: AdamConfig; weights: NetworkWeights; optimizer?: { G: AdamState; D: AdamState }; buffers: Buffers }
  | { id: number; type: 'gen'; a: Image; b: Image; chunks: GeneratorChunk[]; lambdas: LossWeights }
  | { id: number; type: 'disc'; lr: number; identity: boolean; a: Image; b: Image; fakeA: Image; fakeB: Image; chunks: ('D_A' | 'D_B')[] }
  | { id: number; type: 'updateD'; lr: number }
  | { id: number; type: 'visuals'; a: Image; b: Image }
  | { id: number; type: 'export' }
  | { id: number; type: 'stop' };

/** A message without its id (distributes over the union, unlike Omit). */
type Unsent<T> = T extends unknown ? Omit<T, 'id'> : never;

type FromWorker =
  | { id: number; ok: true; losses?: Partial<Record<LossName, number>>; fakeA?: Image; fakeB?: Image; visuals?: Record<string, Float32Array>; state?: TrainingState }
  | { id: number; ok: false; message: string };

/** A team of worker threads training one CycleGAN as `trainStep` would. */
export class ParallelCycleGAN {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: FromWorker & { ok: true }) => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;

  private constructor(
    private readonly workers: Worker[],
    private readonly identity: boolean,
    private readonly lambdas: LossWeights,
  ) {
    for (const w of workers) {
      w.on('message', (m: FromWorker) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m);
        else p.reject(new Error(m.message));
      });
      const fail = (e: Error) => {
        this.dead ??= e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => code !== 0 && fail(new Error(`a training thread exited with code ${code} (out of memory?)`)));
    }
  }

  /** Starts `threads` workers (2..MAX_TRAIN_THREADS), each with the same weights (and optimizer state). */
  static async open(o: {
    threads: number;
    config: ModelConfig;
    adam: AdamConfig;
    weights: NetworkWeights;
    optimizer?: { G: AdamState; D: AdamState };
    lambdas: LossWeights;
  }): Promise<ParallelCycleGAN> {
    const n = Math.max(2, Math.min(MAX_TRAIN_THREADS, o.threads));
    const layout = await layoutOf(o.config);
    const buffers: Buffers = {
      cycleA: new SharedArrayBuffer(4 * layout.gLength),
      cycleB: new SharedArrayBuffer(4 * layout.gLength),
      idt: new SharedArrayBuffer(4 * layout.gLength),
      d: new SharedArrayBuffer(4 * layout.dLength),
    };
    const tsx = import.meta.resolve('tsx/esm/api');
    const self = import.meta.url;
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); })`;
    const workers = Array.from({ length: n }, () => new Worker(boot, { eval: true, workerData: { role: ROLE } }));
    const team = new ParallelCycleGAN(workers, o.lambdas.lambdaIdentity > 0, o.lambdas);
    try {
      await Promise.all(workers.map((_, i) => team.send(i, { type: 'init', config: o.config, adam: o.adam, weights: o.weights, optimizer: o.optimizer, buffers })));
    } catch (e) {
      await team.dispose();
      throw e;
    }
    return team;
  }

  get threads(): number {
    return this.workers.length;
  }

  private send(i: number, m: Unsent<ToWorker>): Promise<FromWorker & { ok: true }> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[i].postMessage({ ...m, id });
    });
  }

  /**
   * One iteration, as `trainStep(model, pools, realA, realB, { lr, lambdas })`: the generators'
   * Adam step, the pools fed with this iteration's fakes, the discriminators' Adam step.
   * `pools` are the caller's (on the caller's TF.js backend); `tf` is that TF.js.
   */
  async step(tf: typeof import('@tensorflow/tfjs-core'), a: Image, b: Image, pools: { A: ImagePool; B: ImagePool }, lr: number): Promise<Losses> {
    if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`train step: lr must be a finite number ≥ 0, got ${lr}`);
    const plan = chunkPlan(this.workers.length, this.identity);
    const losses: Partial<Record<LossName, number>> = {};
    let fakeA: Image | undefined;
    let fakeB: Image | undefined;
    const gen = await Promise.all(plan.gen.map((chunks, i) => this.send(i, { type: 'gen', a, b, chunks, lambdas: this.lambdas })));
    for (const r of gen) {
      Object.assign(losses, r.losses);
      fakeA ??= r.fakeA;
      fakeB ??= r.fakeB;
    }
    if (!this.identity) losses.idt_A = losses.idt_B = 0;
    // The pools, in trainStep's order: B (fake_B) first, then A, from the one random stream.
    const pooled = (pool: ImagePool, fake: Image): Image => {
      const t = tf.tensor4d(fake.data, fake.shape);
      const q = pool.query(t as Tensor4D);
      t.dispose();
      const data = q.dataSync() as Float32Array;
      const shape = q.shape as Image['shape'];
      q.dispose();
      return { data, shape };
    };
    const pooledB = pooled(pools.B, fakeB!);
    const pooledA = pooled(pools.A, fakeA!);
    const disc = await Promise.all(
      plan.disc.map((chunks, i) => this.send(i, { type: 'disc', lr, identity: this.identity, a, b, fakeA: pooledA, fakeB: pooledB, chunks })),
    );
    for (const r of disc) Object.assign(losses, r.losses);
    await Promise.all(this.workers.map((_, i) => this.send(i, { type: 'updateD', lr })));
    // In trainStep's order, so logs and saved histories are the same text.
    return Object.fromEntries(LOSS_NAMES.map((n) => [n, losses[n]!])) as Losses;
  }

  /** The report's images (real_A, fake_B, rec_A, real_B, fake_A, rec_B) from worker 0's replica. */
  async visuals(a: Image, b: Image): Promise<Record<string, Float32Array>> {
    return (await this.send(0, { type: 'visuals', a, b })).visuals!;
  }

  /** Weights and both optimizers' state (every replica holds the same). */
  async exportState(): Promise<TrainingState> {
    return (await this.send(0, { type: 'export' })).state!;
  }

  async dispose(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w, i) => {
        if (!this.dead) await this.send(i, { type: 'stop' }).catch(() => undefined);
        await w.terminate();
      }),
    );
  }
}

async function workerMain(): Promise<void> {
  const port = parentPort!;
  const tf = await import('@tensorflow/tfjs-core');
  const { useBackend } = await import('../tf-backend.ts');
  const cyclegan = await import('../../shared/train/cyclegan.ts');
  const step = await import('../../shared/train/train-step.ts');
  const { clearWasmKernelCaches } = await import('../../shared/tfjs/wasm-kernels.ts');
  let model: import('../../shared/train/cyclegan.ts').CycleGAN | null = null;
  let layout: Layout | null = null;
  let views: { cycleA: Float32Array; cycleB: Float32Array; idt: Float32Array; d: Float32Array } | null = null;

  const tensor = (im: Image) => tf.tensor4d(im.data, im.shape) as Tensor4D;
  const write = (into: Float32Array, places: Layout['g'], grads: Record<string, import('@tensorflow/tfjs-core').Tensor>) => {
    for (const p of places) {
      const g = grads[p.key];
      if (g) into.set(g.dataSync() as Float32Array, p.offset);
    }
  };
  const numbers = (ls: Partial<Record<string, import('@tensorflow/tfjs-core').Scalar>>) =>
    Object.fromEntries(Object.entries(ls).map(([k, v]) => [k, v!.dataSync()[0]])) as Partial<Record<LossName, number>>;
  const read = (t: Tensor4D): Image => ({ data: t.dataSync() as Float32Array, shape: t.shape as Image['shape'] });

  async function handle(m: ToWorker): Promise<Omit<FromWorker & { ok: true }, 'id' | 'ok'>> {
    switch (m.type) {
      case 'init': {
        await useBackend('wasm');
        model = cyclegan.createCycleGAN(m.config, { weights: m.weights }, m.adam);
        if (m.optimizer) cyclegan.importTrainingState(model, { weights: m.weights, optimizer: m.optimizer });
        layout = await layoutOf(m.config);
        views = { cycleA: new Float32Array(m.buffers.cycleA), cycleB: new Float32Array(m.buffers.cycleB), idt: new Float32Array(m.buffers.idt), d: new Float32Array(m.buffers.d) };
        return {};
      }
      case 'gen': {
        const realA = tensor(m.a);
        const realB = tensor(m.b);
        const out: { losses: Partial<Record<LossName, number>>; fakeA?: Image; fakeB?: Image } = { losses: {} };
        try {
          for (const chunk of m.chunks) {
            const r = step.generatorChunk(model!, realA, realB, chunk, m.lambdas);
            try {
              write(chunk === 'cycleA' ? views!.cycleA : chunk === 'cycleB' ? views!.cycleB : views!.idt, layout!.g, r.grads);
              Object.assign(out.losses, numbers(r.losses));
              if (chunk === 'cycleA') out.fakeB = read(r.fake!);
              if (chunk === 'cycleB') out.fakeA = read(r.fake!);
            } finally {
              tf.dispose([...Object.values(r.losses), ...Object.values(r.grads), ...(r.fake ? [r.fake] : [])]);
            }
          }
        } finally {
          tf.dispose([realA, realB]);
        }
        return out;
      }
      case 'disc': {
        // The generators' step first, from every chunk's gradients summed in trainStep's order.
        const grads: Record<string, import('@tensorflow/tfjs-core').Tensor> = {};
        const specs = new Map(Object.entries(model!.nets.G_AB).map(([k, v]) => [cyclegan.slotKey('G_AB', k), v.shape]));
        for (const [k, v] of Object.entries(model!.nets.G_BA)) specs.set(cyclegan.slotKey('G_BA', k), v.shape);
        for (const p of layout!.g) {
          const sum = views!.cycleA.slice(p.offset, p.offset + p.length);
          const b = views!.cycleB.subarray(p.offset, p.offset + p.length);
          for (let i = 0; i < sum.length; i++) sum[i] += b[i];
          if (m.identity) {
            const c = views!.idt.subarray(p.offset, p.offset + p.length);
            for (let i = 0; i < sum.length; i++) sum[i] += c[i];
          }
          grads[p.key] = tf.tensor(sum, specs.get(p.key)!, 'float32');
        }
        try {
          model!.optG.step(grads, m.lr);
        } finally {
          tf.dispose(Object.values(grads));
        }
        const losses: Partial<Record<LossName, number>> = {};
        for (const net of m.chunks) {
          const real = tensor(net === 'D_A' ? m.a : m.b);
          const fake = tensor(net === 'D_A' ? m.fakeA : m.fakeB);
          try {
            const r = step.discriminatorChunk(model!, net, real, fake);
            try {
              write(views!.d, layout!.d, r.grads);
              Object.assign(losses, numbers(r.losses));
            } finally {
              tf.dispose([...Object.values(r.losses), ...Object.values(r.grads)]);
            }
          } finally {
            tf.dispose([real, fake]);
          }
        }
        return { losses };
      }
      case 'updateD': {
        const grads: Record<string, import('@tensorflow/tfjs-core').Tensor> = {};
        const shapes = new Map<string, number[]>();
        for (const net of ['D_A', 'D_B'] as const) for (const [k, v] of Object.entries(model!.nets[net])) shapes.set(cyclegan.slotKey(net, k), v.shape);
        for (const p of layout!.d) grads[p.key] = tf.tensor(views!.d.slice(p.offset, p.offset + p.length), shapes.get(p.key)!, 'float32');
        try {
          model!.optD.step(grads, m.lr);
        } finally {
          tf.dispose(Object.values(grads));
          clearWasmKernelCaches();
        }
        return {};
      }
      case 'visuals': {
        const realA = tensor(m.a);
        const realB = tensor(m.b);
        try {
          const v = step.visuals(model!, realA, realB);
          const out = { fake_B: v.fakeB, rec_A: v.recA, fake_A: v.fakeA, rec_B: v.recB };
          const arrays = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.dataSync() as Float32Array]));
          tf.dispose(Object.values(out));
          return { visuals: arrays };
        } finally {
          tf.dispose([realA, realB]);
        }
      }
      case 'export':
        return { state: await cyclegan.exportTrainingState(model!) };
      case 'stop':
        if (model) cyclegan.disposeCycleGAN(model);
        model = null;
        return {};
    }
  }

  // One message at a time, in order (the coordinator never overlaps them on one worker anyway).
  let chain = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    chain = chain.then(async () => {
      try {
        port.postMessage({ id: m.id, ok: true, ...(await handle(m)) } satisfies FromWorker);
      } catch (e) {
        port.postMessage({ id: m.id, ok: false, message: (e as Error).message } satisfies FromWorker);
      }
    });
  });
}

if (!isMainThread && workerData?.role === ROLE) await workerMain();
