/**
 * The translator Web Worker: the only code in the browser that owns TF.js. It picks the
 * backend, downloads (or reads from cache) one generator at a time, and translates pixels.
 * Images arrive as pixels from the page and never leave the device.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GENERATOR_FOR, type Direction, type ModelConfig } from '../../../shared/model/config.ts';
import { generator } from '../../../shared/model/generator.ts';
import { mobileGenerator } from '../../../shared/model/student.ts';
import type { StudentConfig } from '../../../shared/model/student-config.ts';
import { decodeGroup } from '../../../shared/weights/checkpoint.ts';
import { validateManifest } from '../../../shared/weights/manifest.ts';
import { selectBackend } from './backend.ts';
import type { BackendName, Quality, TranslatorReply, TranslatorRequest } from './messages.ts';
import { cropOutput, toInput, toPixels } from './pixels.ts';
import { fastGroupToFetch, groupToFetch, shardFetcher } from './weights.ts';

/** A loaded generator: the pair's own (its ModelConfig) or the distilled student (its StudentConfig). */
type NetConfig = { kind: 'full'; config: ModelConfig } | { kind: 'fast'; config: StudentConfig };

/** Models are kept per direction and quality, so switching Fast/Best back and forth fetches nothing twice. */
type Slot = `${Direction}:${Quality}`;
const slotOf = (direction: Direction, quality: Quality | undefined): Slot => `${direction}:${quality ?? 'full'}`;

interface LoadedModel {
  net: NetConfig;
  params: Record<string, tf.Tensor>;
  /** Sizes ("h×w") this model has already run at on the current backend. */
  warmSizes: Set<string>;
}

const post = (reply: TranslatorReply, transfer: Transferable[] = []) => self.postMessage(reply, { transfer });

let backend: BackendName | null = null;
let modelKey: string | null = null;
const models = new Map<Slot, LoadedModel>();
/** Decoded float32 weights, kept so a backend switch re-uploads them without any fetch. */
const hostWeights = new Map<Slot, { net: NetConfig; params: Record<string, Float32Array>; shapes: Array<{ name: string; shape: number[] }> }>();

function disposeModels(): void {
  for (const m of models.values()) for (const t of Object.values(m.params)) t.dispose();
  models.clear();
}

function upload(slot: Slot): LoadedModel {
  const host = hostWeights.get(slot);
  if (!host) throw new Error(`the ${slot.replace(':', ' ')} generator is not loaded`);
  let m = models.get(slot);
  if (!m) {
    const params: Record<string, tf.Tensor> = {};
    for (const { name, shape } of host.shapes) params[name] = tf.tensor(host.params[name], shape, 'float32');
    m = { net: host.net, params, warmSizes: new Set() };
    models.set(slot, m);
  }
  return m;
}

async function ensureBackend(): Promise<BackendName> {
  if (!backend) backend = (await selectBackend('auto')).backend;
  return backend;
}

async function handle(req: TranslatorRequest): Promise<void> {
  switch (req.type) {
    case 'setBackend': {
      const chosen = await selectBackend(req.choice);
      if (chosen.backend !== backend) disposeModels();
      backend = chosen.backend;
      post({ id: req.id, type: 'backend', backend: chosen.backend, attempts: chosen.attempts });
      return;
    }
    case 'load': {
      await ensureBackend();
      if (req.modelKey !== modelKey) {
        disposeModels();
        hostWeights.clear();
        modelKey = req.modelKey;
      }
      const manifest = validateManifest(req.manifest);
      const net = GENERATOR_FOR[req.direction];
      const fast = req.quality === 'fast' ? fastGroupToFetch(manifest, net) : null;
      if (req.quality === 'fast' && !fast) throw new Error(`this version has no fast ${net}`);
      const { variant, group } = fast ? { variant: 'fast' as const, group: fast.group } : groupToFetch(manifest, net);
      const slot = slotOf(req.direction, req.quality);
      const { fetchShard, stats } = await shardFetcher(req.shardBase, group, (p) =>
        post({ id: req.id, type: 'progress', ...p }),
      );
      if (!hostWeights.has(slot)) {
        const params = await decodeGroup(manifest, net, fetchShard, variant === 'float32' ? {} : { variant });
        const shapes = group.weights.map((w) => ({ name: w.name, shape: w.shape }));
        const netConfig: NetConfig = fast ? { kind: 'fast', config: fast.config } : { kind: 'full', config: manifest.config };
        hostWeights.set(slot, { net: netConfig, params, shapes });
      }
      upload(slot);
      post({
        id: req.id,
        type: 'loaded',
        variant,
        totalBytes: stats.totalBytes,
        networkBytes: stats.networkBytes,
        shardsFetched: stats.shardsFetched,
        shardsCached: stats.shardsCached,
      });
      return;
    }
    case 'translate': {
      const used = await ensureBackend();
      if (req.modelKey !== modelKey) throw new Error('these weights are not loaded; load them before translating');
      const model = upload(slotOf(req.direction, req.quality));
      const { width, height } = req.image;
      const forward = (x: tf.Tensor4D) =>
        model.net.kind === 'fast' ? mobileGenerator(model.params, model.net.config, x) : generator(model.params, model.net.config.generator, x);
      const run = () => tf.tidy(() => cropOutput(forward(toInput(req.image)), width, height));
      const sizeKey = `${height}x${width}`;
      const warmedUp = !model.warmSizes.has(sizeKey);
      // GPU backends compile shaders per shape on first use: run once untimed so the time shown
      // is what the next image of this size costs. WASM has nothing to compile.
      if (warmedUp && used !== 'wasm') {
        const w = run();
        await w.data();
        w.dispose();
      }
      model.warmSizes.add(sizeKey);
      const t0 = performance.now();
      const y = run();
      const values = (await y.data()) as Float32Array;
      y.dispose();
      const ms = performance.now() - t0;
      const image = toPixels(values, width, height);
      post(
        { id: req.id, type: 'translated', image, backend: used, ms, warmedUp, numTensors: tf.memory().numTensors },
        [image.data.buffer],
      );
      return;
    }
  }
}

// One request at a time: a backend switch must never land in the middle of a translation.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<TranslatorRequest>) => {
  const req = ev.data;
  queue = queue.then(() =>
    handle(req).catch((e: unknown) => {
      post({ id: req.id, type: 'error', message: e instanceof Error ? e.message : String(e) });
    }),
  );
};
