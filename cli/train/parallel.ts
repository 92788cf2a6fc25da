/**
 * CycleGAN training on several cores: one iteration (batch as given, the paper's batch 1 too)
 * split across worker threads, with results identical to the one-thread `trainStep`.
 *
 * The parallelism is in the iteration itself: its gradients split into independent chunks
 * (shared/train/train-step.ts, GENERATOR_CHUNKS and discriminatorChunk), and each network has one
 * owning worker that alone takes its Adam step. With 2 threads:
 *
 *   worker 0: cycleA, idtA, D_B's half of the D step | Adam on G_AB and D_B
 *   worker 1: cycleB, idtB, D_A's half               | Adam on G_BA and D_A
 *
 * Every worker holds a full replica of the four networks (each chunk runs several of them). A
 * chunk's gradients for a network another worker owns go to that owner through shared memory
 * (cycleA's G_BA gradients to worker 1, cycleB's G_AB gradients to worker 0); the owner adds them
 * up in the one-thread order (cycleA + cycleB, then identity: float32 additions, as the
 * one-thread tf.add), takes the Adam step for its networks only (Adam is elementwise, so a split
 * by network changes no number), and publishes the new weights in shared memory, from where every
 * other worker copies them into its replica. The workers meet at two barriers per iteration
 * (Atomics.wait/notify on a SharedArrayBuffer: every gradient written; every weight published),
 * not through the calling thread. The discriminator halves need only the pooled fakes, not the
 * updated generators, so they run before the first barrier.
 *
 * The history pools stay on the calling thread (one random stream, queried B then A as
 * `trainStep` does): each worker posts its fake as soon as its cycle chunk has made it, and the
 * calling thread sends the discriminator's owner the pooled image. Every weight, moment (each on
 * its owner; `exportState` gathers them), loss and pool image equals `trainStep`'s bit for bit.
 *
 * Work per iteration is four generator chunks (a cycle chunk 2–3 identity chunks) and two
 * discriminator chunks: 2 threads balance exactly; 3 and 4 threads split further but unevenly
 * (the extra workers own no network); more add nothing.
 */
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import type { ModelConfig, NetworkName } from '../../shared/model/config.ts';
import type { AdamConfig, AdamState } from '../../shared/train/adam.ts';
import type { NetworkWeights, TrainingState } from '../../shared/train/cyclegan.ts';
import { LOSS_NAMES, type GeneratorChunk, type LossName, type Losses, type LossWeights } from '../../shared/train/train-step.ts';
import type { ImagePool } from '../../shared/train/image-pool.ts';

import { MAX_TRAIN_THREADS } from './threads.ts';

const ROLE = 'stripes-parallel-trainer';
const NETWORKS: readonly NetworkName[] = ['G_AB', 'G_BA', 'D_A', 'D_B'];
type Disc = 'D_A' | 'D_B';

/** Which chunks each of `n` workers runs (cost: a cycle chunk ≈ 2–3 identity chunks). */
export function chunkPlan(n: number, identity: boolean): { gen: GeneratorChunk[][]; disc: Disc[][] } {
  const idt = (c: GeneratorChunk[]) => (identity ? c : []);
  let gen: GeneratorChunk[][];
  if (n <= 1) gen = [['cycleA', 'cycleB', ...idt(['idtA', 'idtB'])]];
  else if (n === 2) gen = [['cycleA', ...idt(['idtA'])], ['cycleB', ...idt(['idtB'])]];
  else if (n === 3) gen = [['cycleA'], ['cycleB'], idt(['idtA', 'idtB'])];
  else gen = [['cycleA'], ['cycleB'], idt(['idtA']), idt(['idtB'])];
  const disc: Disc[][] = n <= 1 ? [['D_B', 'D_A']] : [['D_B'], ['D_A'], ...Array.from({ length: gen.length - 2 }, () => [])];
  return { gen, disc };
}

/**
 * The worker that owns (takes the Adam step of, and publishes) each network: G_AB and D_B with
 * the A→B→A cycle's worker, G_BA and D_A with the B→A→B cycle's.
 */
export function ownerOf(n: number): Record<NetworkName, number> {
  return n <= 1 ? { G_AB: 0, G_BA: 0, D_A: 0, D_B: 0 } : { G_AB: 0, D_B: 0, G_BA: 1, D_A: 1 };
}

/** The networks a generator chunk has gradients for. */
const CHUNK_NETS: Record<GeneratorChunk, NetworkName[]> = { cycleA: ['G_AB', 'G_BA'], cycleB: ['G_AB', 'G_BA'], idtA: ['G_AB'], idtB: ['G_BA'] };

/** The chunks whose gradients make up a generator's, in the order `trainStep` adds them. */
const TERMS: Record<'G_AB' | 'G_BA', GeneratorChunk[]> = { G_AB: ['cycleA', 'cycleB', 'idtA'], G_BA: ['cycleA', 'cycleB', 'idtB'] };

/** Where each of a network's parameters lives in its shared buffers (spec order). */
type Places = { name: string; offset: number; length: number; shape: number[] }[];

async function placesOf(config: ModelConfig): Promise<Record<NetworkName, Places>> {
  const { specsOf } = await import('../../shared/train/cyclegan.ts');
  const out = {} as Record<NetworkName, Places>;
  for (const net of NETWORKS) {
    let offset = 0;
    out[net] = specsOf(config, net).map((s) => {
      const length = s.shape.reduce((a, b) => a * b, 1);
      const p = { name: s.name, offset, length, shape: [...s.shape] };
      offset += length;
      return p;
    });
  }
  return out;
}

const floats = (p: Places) => p.reduce((a, x) => a + x.length, 0);

/** Control words of the shared Int32Array: barrier count, barrier generation, abort flag. */
const COUNT = 0;
const GEN = 1;
const ABORT = 2;

interface Shared {
  ctrl: SharedArrayBuffer;
  /** Published weights of every network. */
  weights: Record<NetworkName, SharedArrayBuffer>;
  /** A chunk's gradients for a network another worker owns, keyed `${chunk}/${net}`. */
  grads: Record<string, SharedArrayBuffer>;
}

type Image = { data: Float32Array; shape: [number, number, number, number] };

/**
 * Seconds a worker spent in each phase of its last iteration (for profiling; bench/train-threads.ts),
 * and, where Linux says (schedstat), `on cpu` and `runnable` (ready but waiting for a core) seconds.
 */
export type PhaseTimes = Record<string, number>;

/**
 * This thread's scheduler times so far, in seconds: on a core, and runnable but waiting for one
 * (Linux /proc/thread-self/schedstat); null elsewhere. They tell the load on a shared machine apart
 * from the program's own critical path.
 */
export function threadSchedTimes(): { onCpu: number; runnable: number } | null {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { onCpu: run / 1e9, runnable: wait / 1e9 } : null;
  } catch {
    return null;
  }
}

type ToWorker =
  | { id: number; type: 'init'; index: number; threads: number; identity: boolean; config: ModelConfig; adam: AdamConfig; weights: NetworkWeights; optimizer?: { G: AdamState; D: AdamState }; shared: Shared; lambdas: LossWeights }
  | { id: number; type: 'step'; a: Image; b: Image; lr: number }
  | { id: number; type: 'visuals'; a: Image; b: Image }
  | { id: number; type: 'export' }
  | { id: number; type: 'stop' };

/** The pooled fake for a discriminator's owner, sent while that worker runs its step. */
type Pooled = { type: 'pooled'; side: 'A' | 'B'; image: Image };

/** A message without its id (distributes over the union, unlike Omit). */
type Unsent<T> = T extends unknown ? Omit<T, 'id'> : never;

type Reply =
  | { id: number; ok: true; losses?: Partial<Record<LossName, number>>; times?: PhaseTimes; tensors?: number; visuals?: Record<string, Float32Array>; state?: TrainingState }
  | { id: number; ok: false; message: string };
/** A worker's fake, posted mid-step for the history pool. */
type FakeEvent = { fake: 'A' | 'B'; image: Image };
type FromWorker = Reply | FakeEvent;

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** A team of worker threads training one CycleGAN as `trainStep` would. */
export class ParallelCycleGAN {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: Reply & { ok: true }) => void; reject: (e: Error) => void }>();
  private fakes: Record<'A' | 'B', ReturnType<typeof deferred<Image>>> | null = null;
  private dead: Error | null = null;
  /** Each worker's phase times in the last step. */
  lastTimes: PhaseTimes[] = [];
  /** Each worker's live TF.js tensors after the last step (its model, optimizer and caches: constant from step to step). */
  lastTensors: number[] = [];

  private constructor(
    private readonly workers: Worker[],
    private readonly ctrl: Int32Array,
    private readonly identity: boolean,
  ) {
    for (const w of workers) {
      w.on('message', (m: FromWorker) => {
        if ('fake' in m) {
          this.fakes?.[m.fake].resolve(m.image);
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m);
        else p.reject(new Error(m.message));
      });
      const fail = (e: Error) => {
        this.dead ??= e;
        this.abort();
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
        if (this.fakes) for (const d of Object.values(this.fakes)) d.reject(e);
      };
      w.on('error', fail);
      w.on('exit', (code) => code !== 0 && fail(new Error(`a training thread exited with code ${code} (out of memory?)`)));
    }
  }

  /** Releases workers waiting at a barrier (they throw), after a failure. */
  private abort(): void {
    Atomics.store(this.ctrl, ABORT, 1);
    Atomics.notify(this.ctrl, GEN);
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
    const identity = o.lambdas.lambdaIdentity > 0;
    const places = await placesOf(o.config);
    const plan = chunkPlan(n, identity);
    const owner = ownerOf(n);
    const shared: Shared = {
      ctrl: new SharedArrayBuffer(4 * 4),
      weights: Object.fromEntries(NETWORKS.map((net) => [net, new SharedArrayBuffer(4 * floats(places[net]))])) as Shared['weights'],
      grads: {},
    };
    plan.gen.forEach((chunks, w) => {
      for (const c of chunks) for (const net of CHUNK_NETS[c]) if (owner[net] !== w) shared.grads[`${c}/${net}`] = new SharedArrayBuffer(4 * floats(places[net]));
    });
    const tsx = import.meta.resolve('tsx/esm/api');
    const self = import.meta.url;
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); })`;
    const workers = Array.from({ length: n }, () => new Worker(boot, { eval: true, workerData: { role: ROLE } }));
    const team = new ParallelCycleGAN(workers, new Int32Array(shared.ctrl), identity);
    try {
      await Promise.all(
        workers.map((_, index) =>
          team.send(index, { type: 'init', index, threads: n, identity, config: o.config, adam: o.adam, weights: o.weights, optimizer: o.optimizer, shared, lambdas: o.lambdas }),
        ),
      );
    } catch (e) {
      await team.dispose();
      throw e;
    }
    return team;
  }

  get threads(): number {
    return this.workers.length;
  }

  private send(i: number, m: Unsent<ToWorker>): Promise<Reply & { ok: true }> {
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
    if (this.dead) throw this.dead;
    const owner = ownerOf(this.workers.length);
    this.fakes = { A: deferred<Image>(), B: deferred<Image>() };
    const fakes = this.fakes;
    const replies = Promise.all(this.workers.map((_, i) => this.send(i, { type: 'step', a, b, lr })));
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
    const feed = async () => {
      const image = pooled(pools.B, await fakes.B.promise);
      this.workers[owner.D_B].postMessage({ type: 'pooled', side: 'B', image } satisfies Pooled);
      const imageA = pooled(pools.A, await fakes.A.promise);
      this.workers[owner.D_A].postMessage({ type: 'pooled', side: 'A', image: imageA } satisfies Pooled);
    };
    let rs: (Reply & { ok: true })[];
    try {
      [rs] = await Promise.all([replies, feed()]);
    } catch (e) {
      // A worker failed mid-iteration: the replicas may differ now, so the team is done.
      this.dead ??= e as Error;
      this.abort();
      throw e;
    } finally {
      this.fakes = null;
    }
    const losses: Partial<Record<LossName, number>> = {};
    for (const r of rs) Object.assign(losses, r.losses);
    this.lastTimes = rs.map((r) => r.times ?? {});
    this.lastTensors = rs.map((r) => r.tensors ?? NaN);
    if (!this.identity) losses.idt_A = losses.idt_B = 0;
    // In trainStep's order, so logs and saved histories are the same text.
    return Object.fromEntries(LOSS_NAMES.map((n) => [n, losses[n]!])) as Losses;
  }

  /** The report's images (real_A, fake_B, rec_A, real_B, fake_A, rec_B) from worker 0's replica. */
  async visuals(a: Image, b: Image): Promise<Record<string, Float32Array>> {
    return (await this.send(0, { type: 'visuals', a, b })).visuals!;
  }

  /** Weights (every replica holds the same) and both optimizers' state, each slot from its network's owner. */
  async exportState(): Promise<TrainingState> {
    const owner = ownerOf(this.workers.length);
    const states = (await Promise.all(this.workers.map((_, i) => this.send(i, { type: 'export' })))).map((r) => r.state!);
    const pick = (which: 'G' | 'D', nets: NetworkName[]): AdamState => {
      const out: AdamState = {};
      // In the one-thread state's key order (G_AB's then G_BA's; D_A's then D_B's).
      for (const net of nets) for (const [k, v] of Object.entries(states[owner[net]].optimizer[which])) if (k.startsWith(`${net}/`)) out[k] = v;
      return out;
    };
    return { weights: states[0].weights, optimizer: { G: pick('G', ['G_AB', 'G_BA']), D: pick('D', ['D_A', 'D_B']) } };
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
  type Init = Extract<ToWorker, { type: 'init' }>;
  let model: import('../../shared/train/cyclegan.ts').CycleGAN | null = null;
  let me!: Init;
  let places!: Record<NetworkName, Places>;
  let ctrl!: Int32Array;
  let weightViews!: Record<NetworkName, Float32Array>;
  let gradViews!: Record<string, Float32Array>;
  let plan!: ReturnType<typeof chunkPlan>;
  let owner!: Record<NetworkName, number>;

  // Pooled fakes arrive while a step runs, outside the one-message-at-a-time chain.
  const pooledWaiting: Partial<Record<'A' | 'B', ReturnType<typeof deferred<Image>>>> = {};
  const pooledFor = (side: 'A' | 'B') => (pooledWaiting[side] ??= deferred<Image>());

  const tensor = (im: Image) => tf.tensor4d(im.data, im.shape) as Tensor4D;
  const numbers = (ls: Partial<Record<string, import('@tensorflow/tfjs-core').Scalar>>) =>
    Object.fromEntries(Object.entries(ls).map(([k, v]) => [k, v!.dataSync()[0]])) as Partial<Record<LossName, number>>;
  const read = (t: Tensor4D): Image => ({ data: t.dataSync() as Float32Array, shape: t.shape as Image['shape'] });
  /** A tensor's values without a copy where the backend allows (the wasm heap), to copy once into shared memory. */
  const valuesOf = (t: Tensor): Float32Array => {
    const b = tf.backend() as unknown as { typedArrayFromHeap?: (t: Tensor) => Float32Array };
    return b.typedArrayFromHeap ? b.typedArrayFromHeap(t) : (t.dataSync() as Float32Array);
  };

  /** Waits until every worker has arrived (a generation-counting barrier on the shared control words). */
  const barrier = () => {
    const gen = Atomics.load(ctrl, GEN);
    if (Atomics.add(ctrl, COUNT, 1) === me.threads - 1) {
      Atomics.store(ctrl, COUNT, 0);
      Atomics.add(ctrl, GEN, 1);
      Atomics.notify(ctrl, GEN);
      return;
    }
    while (Atomics.load(ctrl, GEN) === gen) {
      if (Atomics.load(ctrl, ABORT)) throw new Error('another training thread failed');
      Atomics.wait(ctrl, GEN, gen, 1000);
    }
  };

  async function handle(m: ToWorker): Promise<Omit<Reply & { ok: true }, 'id' | 'ok'>> {
    switch (m.type) {
      case 'init': {
        await useBackend('wasm');
        me = m;
        model = cyclegan.createCycleGAN(m.config, { weights: m.weights }, m.adam);
        if (m.optimizer) cyclegan.importTrainingState(model, { weights: m.weights, optimizer: m.optimizer });
        places = await placesOf(m.config);
        ctrl = new Int32Array(m.shared.ctrl);
        weightViews = Object.fromEntries(NETWORKS.map((n) => [n, new Float32Array(m.shared.weights[n])])) as typeof weightViews;
        gradViews = Object.fromEntries(Object.entries(m.shared.grads).map(([k, sab]) => [k, new Float32Array(sab)]));
        plan = chunkPlan(m.threads, m.identity);
        owner = ownerOf(m.threads);
        return {};
      }
      case 'step': {
        const times: PhaseTimes = {};
        const sched0 = threadSchedTimes();
        let t0 = performance.now();
        const lap = (k: string) => {
          const t = performance.now();
          times[k] = (times[k] ?? 0) + (t - t0) / 1000;
          t0 = t;
        };
        const mine = (net: NetworkName) => owner[net] === me.index;
        const nets = model!.nets;
        const realA = tensor(m.a);
        const realB = tensor(m.b);
        const losses: Partial<Record<LossName, number>> = {};
        // This worker's chunks' gradients for the networks it owns, kept until the update.
        const local: Partial<Record<GeneratorChunk, Record<string, Tensor>>> = {};
        const dGrads: Record<string, Tensor> = {};
        const kept: Tensor[] = [];
        try {
          for (const chunk of plan.gen[me.index]) {
            const r = step.generatorChunk(model!, realA, realB, chunk, me.lambdas);
            lap(chunk);
            try {
              if (r.fake) port.postMessage({ fake: chunk === 'cycleA' ? 'B' : 'A', image: read(r.fake) } satisfies FakeEvent);
              Object.assign(losses, numbers(r.losses));
              for (const net of CHUNK_NETS[chunk]) {
                if (mine(net)) {
                  for (const p of places[net]) kept.push(((local[chunk] ??= {})[`${net}/${p.name}`] = r.grads[cyclegan.slotKey(net, p.name)]));
                } else {
                  const into = gradViews[`${chunk}/${net}`];
                  for (const p of places[net]) {
                    const g = r.grads[cyclegan.slotKey(net, p.name)];
                    if (!g) throw new Error(`parallel training: ${chunk} has no gradient for ${net}/${p.name}`);
                    into.set(valuesOf(g), p.offset);
                  }
                }
              }
            } finally {
              tf.dispose([...Object.values(r.losses), ...(r.fake ? [r.fake] : []), ...Object.values(r.grads).filter((g) => !kept.includes(g))]);
            }
            lap('publish grads');
          }
          // The discriminator halves this worker owns: they need the pooled fakes, not the new generators.
          for (const net of plan.disc[me.index]) {
            const image = await pooledFor(net === 'D_A' ? 'A' : 'B').promise;
            delete pooledWaiting[net === 'D_A' ? 'A' : 'B'];
            lap('wait pool');
            const real = tensor(net === 'D_A' ? m.a : m.b);
            const fake = tensor(image);
            try {
              const r = step.discriminatorChunk(model!, net, real, fake);
              Object.assign(losses, numbers(r.losses));
              tf.dispose(Object.values(r.losses));
              Object.assign(dGrads, r.grads);
            } finally {
              tf.dispose([real, fake]);
            }
            lap(net);
          }
          barrier(); // every chunk's gradients are written
          lap('barrier grads');
          // The generators this worker owns: their gradients summed in trainStep's order, one Adam step.
          const gGrads: Record<string, Tensor> = {};
          tf.tidy(() => {
            for (const net of ['G_AB', 'G_BA'] as const) {
              if (!mine(net)) continue;
              for (const p of places[net]) {
                const key = cyclegan.slotKey(net, p.name);
                let sum: Tensor | undefined;
                for (const chunk of TERMS[net]) {
                  if (!plan.gen.some((c) => c.includes(chunk))) continue;
                  const g = local[chunk]?.[key] ?? (gradViews[`${chunk}/${net}`] && tf.tensor(gradViews[`${chunk}/${net}`].subarray(p.offset, p.offset + p.length), p.shape, 'float32'));
                  if (!g) continue;
                  sum = sum ? tf.add(sum, g) : g;
                }
                gGrads[key] = tf.keep(sum!);
              }
            }
          });
          lap('sum grads');
          try {
            if (Object.keys(gGrads).length) model!.optG.step(gGrads, m.lr);
            if (Object.keys(dGrads).length) model!.optD.step(dGrads, m.lr);
          } finally {
            tf.dispose(Object.values(gGrads).filter((g) => !kept.includes(g)));
          }
          lap('adam');
          for (const net of NETWORKS) if (mine(net)) for (const p of places[net]) weightViews[net].set(valuesOf(nets[net][p.name]), p.offset);
          lap('publish weights');
          barrier(); // every network's new weights are published
          lap('barrier weights');
          tf.tidy(() => {
            for (const net of NETWORKS)
              if (!mine(net)) for (const p of places[net]) nets[net][p.name].assign(tf.tensor(weightViews[net].subarray(p.offset, p.offset + p.length), p.shape, 'float32'));
          });
          // The wasm input-gradient kernel caches filters per weight; every weight was just replaced.
          clearWasmKernelCaches();
          lap('import weights');
          const sched1 = threadSchedTimes();
          if (sched0 && sched1) {
            times['on cpu'] = sched1.onCpu - sched0.onCpu;
            times['runnable'] = sched1.runnable - sched0.runnable;
          }
        } catch (e) {
          // Free the others from the barriers: this iteration cannot complete.
          Atomics.store(ctrl, ABORT, 1);
          Atomics.notify(ctrl, GEN);
          throw e;
        } finally {
          tf.dispose([realA, realB, ...kept, ...Object.values(dGrads)]);
        }
        return { losses, times, tensors: tf.memory().numTensors };
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
  port.on('message', (m: ToWorker | Pooled) => {
    if (m.type === 'pooled') {
      pooledFor(m.side).resolve(m.image);
      return;
    }
    chain = chain.then(async () => {
      try {
        port.postMessage({ id: m.id, ok: true, ...(await handle(m)) } satisfies Reply);
      } catch (e) {
        port.postMessage({ id: m.id, ok: false, message: (e as Error).message } satisfies Reply);
      }
    });
  });
}

if (!isMainThread && workerData?.role === ROLE) await workerMain();
