/**
 * The translator Web Worker: the only code in the browser that owns TF.js. It picks the
 * backend, downloads (or reads from cache) one generator at a time, and translates pixels:
 * an image bigger than one tile through the tiled generator (shared/model/tiled.ts), with
 * progress after every tile and a cancel honoured between tiles. Images arrive as pixels from
 * the page and never leave the device. Its methods are called through worker-rpc.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GENERATOR_FOR, type Direction } from '../../../shared/model/config.ts';
import { generator } from '../../../shared/model/generator.ts';
import { mobileGenerator } from '../../../shared/model/student.ts';
import { generatorTiled, planTiles, type TiledConfig } from '../../../shared/model/tiled.ts';
import { decodeGroup } from '../../../shared/weights/checkpoint.ts';
import { validateManifest } from '../../../shared/weights/manifest.ts';
import { poisonWasm, selectBackend, softwareGpu } from './backend.ts';
import type { BackendName, Quality, TranslatorMethods } from './messages.ts';
import { cropOutput, toInput, toPixels } from './pixels.ts';
import { fastGroupToFetch, groupToFetch, shardFetcher } from './weights.ts';
import { serveRpc, Transfer, type Handlers } from './worker-rpc.ts';

/** A loaded generator is keyed by direction and quality: `AtoB/fast`. */
type ModelSlot = `${Direction}/${Quality}`;

interface LoadedModel {
  /** The pair's generator's config, or the student's (`arch` set). */
  config: TiledConfig;
  params: Record<string, tf.Tensor>;
  /** Sizes ("h×w") this model has already run at on the current backend. */
  warmSizes: Set<string>;
}

let backend: BackendName | null = null;
let modelKey: string | null = null;
const models = new Map<ModelSlot, LoadedModel>();
/** Decoded float32 weights, kept so a backend switch re-uploads them without any fetch. */
const hostWeights = new Map<
  ModelSlot,
  { config: TiledConfig; params: Record<string, Float32Array>; shapes: Array<{ name: string; shape: number[] }> }
>();

function disposeModels(): void {
  for (const m of models.values()) for (const t of Object.values(m.params)) t.dispose();
  models.clear();
}

function upload(slot: ModelSlot): LoadedModel {
  const host = hostWeights.get(slot);
  if (!host) throw new Error(`the ${slot} generator is not loaded`);
  let m = models.get(slot);
  if (!m) {
    const params: Record<string, tf.Tensor> = {};
    for (const { name, shape } of host.shapes) params[name] = tf.tensor(host.params[name], shape, 'float32');
    m = { config: host.config, params, warmSizes: new Set() };
    models.set(slot, m);
  }
  return m;
}

/** The whole-image network for a config: the student's when it has `arch`. */
function wholeImage(cfg: TiledConfig, params: Record<string, tf.Tensor>, x: tf.Tensor4D): tf.Tensor4D {
  return 'arch' in cfg ? mobileGenerator(params, cfg, x) : generator(params, cfg, x);
}

async function ensureBackend(): Promise<BackendName> {
  if (!backend) backend = (await selectBackend('auto')).backend;
  return backend;
}

/** The wasm backend's heap size (its high-water mark: it never shrinks), or null on other backends. */
function heapBytes(): number | null {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return wasm?.HEAPU8?.length ?? null;
}

/** Lets the worker take messages (a cancel) between tiles. */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Errors after which this worker's TF.js cannot be trusted: a WebAssembly trap or abort
 * ("memory access out of bounds", "Aborted()"), or an allocation that failed. The page then
 * terminates the worker and starts a fresh one.
 */
function isFatal(e: unknown): boolean {
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) return true;
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return /Aborted\(|out of bounds|out of memory|allocation failed|RangeError: Array buffer|Failed to compile|context lost|device (was )?lost/i.test(msg);
}

const handlers: Handlers<TranslatorMethods> = {
  async setBackend({ choice, threads }) {
    const chosen = await selectBackend(choice, { threads });
    if (chosen.backend !== backend) disposeModels();
    backend = chosen.backend;
    // A forced GPU backend may render in software: the page then defaults to the student.
    const software = chosen.backend === 'wasm' ? null : await softwareGpu(chosen.backend);
    return { backend: chosen.backend, attempts: chosen.attempts, softwareGpu: software !== null, threads: chosen.threads };
  },

  async load(req, { progress }) {
    await ensureBackend();
    if (req.modelKey !== modelKey) {
      disposeModels();
      hostWeights.clear();
      modelKey = req.modelKey;
    }
    const manifest = validateManifest(req.manifest);
    const net = GENERATOR_FOR[req.direction];
    const slot: ModelSlot = `${req.direction}/${req.quality}`;
    // The student's groups are float16 only (shared/weights/fast-variant.ts).
    const fast = req.quality === 'fast' ? fastGroupToFetch(manifest, net) : null;
    if (req.quality === 'fast' && !fast) throw new Error(`this version has no fast variant of ${net}`);
    const { variant, group } = fast ? { variant: 'float16' as const, group: fast.group } : groupToFetch(manifest, net);
    const { fetchShard, stats } = await shardFetcher(req.shardBase, group, progress);
    if (!hostWeights.has(slot)) {
      const params = await decodeGroup(manifest, net, fetchShard, fast ? { variant: 'fast' } : variant === 'float16' ? { variant } : {});
      const shapes = group.weights.map((w) => ({ name: w.name, shape: w.shape }));
      hostWeights.set(slot, { config: fast ? fast.config : manifest.config.generator, params, shapes });
    }
    upload(slot);
    return {
      quality: req.quality,
      variant,
      totalBytes: stats.totalBytes,
      networkBytes: stats.networkBytes,
      shardsFetched: stats.shardsFetched,
      shardsCached: stats.shardsCached,
    };
  },

  async translate(req, { signal, progress }) {
    const used = await ensureBackend();
    if (req.modelKey !== modelKey) throw new Error('these weights are not loaded; load them before translating');
    const model = upload(`${req.direction}/${req.quality}`);
    const cfg = model.config;
    const quality = req.quality;
    const { width, height } = req.image;
    const plan = planTiles(width, height, cfg);
    if (plan.tilesPerPass > 1) {
      const t0 = performance.now();
      const out = await generatorTiled(model.params, cfg, { ...req.image, channels: 4 }, {
        tile: plan.tile,
        signal,
        onProgress: progress,
        yieldBetweenTiles: async () => {
          maybeFail();
          await nextTurn();
        },
      });
      const ms = performance.now() - t0;
      const image = { width, height, data: out.data as Uint8ClampedArray };
      const result = { image, quality, tiles: plan.tilesPerPass, backend: used, ms, warmedUp: false, numTensors: tf.memory().numTensors, heapBytes: heapBytes() };
      return new Transfer(result, [image.data.buffer]);
    }
    maybeFail();
    const run = () => tf.tidy(() => cropOutput(wholeImage(cfg, model.params, toInput(req.image)), width, height));
    const sizeKey = `${height}x${width}`;
    const warmedUp = !model.warmSizes.has(sizeKey);
    // GPU backends compile shaders per shape on first use: run once untimed so the time shown
    // is what the next image of this size costs. WASM has nothing to compile.
    if (warmedUp && used !== 'wasm') {
      const w = run();
      await w.data();
      w.dispose();
      signal.throwIfAborted();
    }
    model.warmSizes.add(sizeKey);
    const t0 = performance.now();
    const y = run();
    const values = (await y.data()) as Float32Array;
    y.dispose();
    const ms = performance.now() - t0;
    const image = toPixels(values, width, height);
    progress({ done: 1, total: 1, fraction: 1 });
    return new Transfer({ image, quality, tiles: 1, backend: used, ms, warmedUp, numTensors: tf.memory().numTensors, heapBytes: heapBytes() }, [image.data.buffer]);
  },

  async testCrash({ how }) {
    // Only test builds carry this (VITE_STRIPES_TEST_HOOKS=1); production builds drop the branch.
    if (import.meta.env.VITE_STRIPES_TEST_HOOKS !== '1') throw new Error('unknown method testCrash');
    if (how === 'throw-uncaught') {
      setTimeout(() => {
        throw new Error('forced by a test hook');
      });
      return;
    }
    armed = how;
  },
};

/** Test builds: a failure to inject into the next translation, after its first tile. */
let armed: 'abort' | 'hang' | null = null;
function maybeFail(): void {
  if (import.meta.env.VITE_STRIPES_TEST_HOOKS !== '1' || !armed) return;
  const how = armed;
  armed = null;
  // Busy inside "one long kernel": nothing is taken from the message queue any more.
  if (how === 'hang') for (;;);
  // What a real wasm out-of-memory leaves behind: a heap whose contents cannot be trusted, and
  // a WebAssembly trap. Scribble over the start of the heap (the allocator's state and, in the
  // threaded build, its lock), then trap as a kernel would: through the wasm heap guard.
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  wasm?.HEAPU8?.fill(0xff, 0, 1 << 16);
  poisonWasm();
  throw new WebAssembly.RuntimeError('Aborted(forced by a test hook)');
}

serveRpc<TranslatorMethods>(handlers, { isFatal });
