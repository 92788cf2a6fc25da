/**
 * Translating image files with a generator, in this thread or in a worker thread.
 *
 * tfjs-wasm runs single-threaded in Node, so `stripes translate` on a folder starts one worker
 * thread per core; each loads the model once (createTranslator) and then takes files one at a
 * time from the main thread (the messages below), so a slow image never holds up the others.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { GeneratorConfig } from '../../shared/model/config.ts';
import { MIN_SIDE } from '../../shared/model/pixels.ts';
import type { StudentConfig } from '../../shared/model/student-config.ts';
import type { NetworkParams } from '../../shared/weights/checkpoint.ts';
import { decodeImage, encodePng, ImageError, type RgbImage } from '../image-io.ts';
import type { NodeBackend } from '../tf-backend.ts';

export interface TranslatorInit {
  /** The pair's generator's config, or a distilled student's (`arch` set: the `fast` variant). */
  config: GeneratorConfig | StudentConfig;
  params: NetworkParams;
  backend: NodeBackend;
  /**
   * Tile side in pixels for big images (shared/model/tiled.ts), 0 for never tiling, or
   * undefined for automatic: tiled when the image is bigger than one tile of the default budget.
   */
  tile?: number;
}

/** Main thread → worker. */
export type ToWorker = { type: 'job'; id: number; input: string; output: string } | { type: 'stop' };
/** Worker → main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; id: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'fatal'; message: string };

const ROLE = 'stripes-translate';

export { MIN_SIDE };

/**
 * Pixels to [-1, 1] (x/127.5 − 1), reflection-pad to a multiple of 4, generate, crop back, and
 * round to 8 bits (shared/model/pixels.ts, as the web app does). An image bigger than one tile
 * goes through the tiled generator, which gives the same result in bounded memory.
 */
export async function createTranslator(init: TranslatorInit) {
  const tf = await import('@tensorflow/tfjs-core');
  const { useBackend } = await import('../tf-backend.ts');
  const { generator } = await import('../../shared/model/generator.ts');
  const { generatorParamSpecs } = await import('../../shared/model/param-specs.ts');
  const { cropOutput, floatsToBytes, toInput } = await import('../../shared/model/pixels.ts');
  const { generatorTiled, planTiles } = await import('../../shared/model/tiled.ts');
  const { mobileGenerator } = await import('../../shared/model/student.ts');
  const { studentParamSpecs } = await import('../../shared/model/student-config.ts');
  const cfg = init.config;
  const isStudent = 'arch' in cfg;
  const specs = isStudent ? studentParamSpecs(cfg) : generatorParamSpecs(cfg);
  const net = (p: Record<string, Tensor>, x: Parameters<typeof generator>[2]) => (isStudent ? mobileGenerator(p, cfg, x) : generator(p, cfg, x));
  // PROD silences tfjs-backend-cpu's "install tfjs-node" banner on stderr, which would read as a problem.
  tf.env().set('PROD', true);
  await useBackend(init.backend);
  const params: Record<string, Tensor> = {};
  for (const s of specs) params[s.name] = tf.tensor(init.params[s.name], s.shape, 'float32');

  /** Whether an image is translated in tiles, and with which tile side. */
  function tiling(w: number, h: number): number | null {
    if (init.tile === 0) return null;
    const plan = planTiles(w, h, cfg, init.tile);
    return plan.tilesPerPass > 1 ? plan.tile : null;
  }

  async function translateImage(img: RgbImage, what: string): Promise<RgbImage> {
    const { width: w, height: h } = img;
    if (w < MIN_SIDE || h < MIN_SIDE)
      throw new ImageError(`${what}: image is ${w}×${h}; translating needs sides of at least ${MIN_SIDE} pixels`);
    // The tiled path runs the pair's generator and a distilled student alike.
    const tile = tiling(w, h);
    if (tile !== null) {
      const out = await generatorTiled(params, cfg, { width: w, height: h, channels: 3, data: img.data }, { tile });
      return { width: w, height: h, data: out.data as Uint8Array };
    }
    const y = tf.tidy(() => cropOutput(net(params, toInput({ width: w, height: h, channels: 3, data: img.data })), w, h));
    const v = y.dataSync() as Float32Array;
    y.dispose();
    return { width: w, height: h, data: floatsToBytes(v, w, h, 3) as Uint8Array };
  }

  return {
    translateImage,
    async translateFile(input: string, output: string): Promise<void> {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(input));
      } catch (e) {
        throw new ImageError(`${input}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      const png = encodePng(await translateImage(decodeImage(bytes, input), input));
      // Write beside and rename, so an interrupted run never leaves a truncated PNG under the real name.
      await mkdir(dirname(output), { recursive: true });
      const tmp = `${output}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await writeFile(tmp, png);
        await rename(tmp, output);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    },
    dispose() {
      for (const t of Object.values(params)) t.dispose();
    },
  };
}

/** Starts a worker thread running this file; tsx is registered in it first, since workers do not inherit the loader. */
export function startTranslateWorker(init: TranslatorInit): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); })`;
  return new Worker(boot, { eval: true, workerData: { role: ROLE, init } });
}

async function workerMain(init: TranslatorInit): Promise<void> {
  const port = parentPort!;
  const post = (m: FromWorker) => port.postMessage(m);
  let translator;
  try {
    translator = await createTranslator(init);
  } catch (e) {
    post({ type: 'fatal', message: (e as Error).message });
    return;
  }
  port.on('message', async (m: ToWorker) => {
    if (m.type === 'stop') {
      translator.dispose();
      port.close();
      return;
    }
    try {
      await translator.translateFile(m.input, m.output);
      post({ type: 'done', id: m.id });
    } catch (e) {
      const msg = (e as Error).message;
      post({ type: 'failed', id: m.id, message: e instanceof ImageError ? msg : `${m.input}: ${msg}` });
    }
  });
  post({ type: 'ready' });
}

if (!isMainThread && workerData?.role === ROLE) await workerMain(workerData.init as TranslatorInit);
