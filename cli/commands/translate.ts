/**
 * `stripes translate`: images through one generator of a checkpoint. A single file runs in this
 * thread; a folder runs on one worker thread per core with a progress bar, and a file that
 * cannot be read or decoded is reported and skipped while the rest still translate.
 */
import { availableParallelism } from 'node:os';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, parse, resolve } from 'node:path';
import { GENERATOR_FOR, type Direction } from '../../shared/model/config.ts';
import { decodeGroup } from '../../shared/weights/checkpoint.ts';
import { readCheckpointDir, type CheckpointSource } from '../checkpoint-dir.ts';
import { openRemoteModel } from '../remote.ts';
import { intOption, oneOf, parseCommandArgs, required, type Command } from '../command.ts';
import { CliError, EXIT_FAILURE, usageError } from '../errors.ts';
import { IMAGE_EXTENSIONS } from '../image-io.ts';
import { ProgressBar } from '../progress.ts';
import type { NodeBackend } from '../tf-backend.ts';
import { DEFAULT_TILE_BUDGET_BYTES, MIN_TILE } from '../../shared/model/tiled.ts';
import { createTranslator, startTranslateWorker, type FromWorker, type ToWorker, type TranslatorInit } from './translate-worker.ts';

const NAME = 'translate';
const DIRECTIONS: readonly Direction[] = ['AtoB', 'BtoA'];
const BACKENDS: readonly NodeBackend[] = ['wasm', 'cpu'];

const VARIANTS = ['fast', 'full'] as const;
type Variant = (typeof VARIANTS)[number];

const usage = `usage: stripes translate --model DIR|URL --in FILE|DIR --out FILE|DIR [--direction AtoB|BtoA] [--variant fast|full] [--backend wasm|cpu] [--jobs N] [--tile N|auto]

Translates PNG or JPEG images with a checkpoint's generator and writes PNGs at each image's own
size (sides that are not a multiple of 4 are reflection-padded for the network and cropped back).
An image bigger than one tile is translated tile by tile with whole-image statistics, which gives
the same picture in bounded memory (docs/translate.md).

Options:
  --model DIR|URL    a Stripes checkpoint folder (see stripes import-torch), or a pair on a
                     server: http://HOST/api/pairs/SLUG (current version) or …/versions/N
  --in FILE|DIR      an image, or a folder of .png/.jpg/.jpeg images (not recursive)
  --out FILE|DIR     the output PNG, or a folder for <name>.png per input
  --direction D      AtoB (G_AB, the default) or BtoA (G_BA)
  --variant V        fast: the distilled student (stripes distill), full: the pair's generator;
                     default fast when the checkpoint has one (wasm and cpu are CPU backends)
  --backend B        TF.js backend: wasm (the default) or cpu
  --jobs N           worker threads for a folder (default: one per core)
  --tile N|auto      tile side in pixels for big images (at least ${MIN_TILE}), 0 to never tile,
                     auto (the default) for tiles sized to a ${DEFAULT_TILE_BUDGET_BYTES / 2 ** 20} MiB working set`;

/** Where a model comes from: a checkpoint folder, or a pair's version on a Stripes server (cli/remote.ts). */
export async function openModelSource(spec: string): Promise<CheckpointSource> {
  if (/^https?:\/\//.test(spec)) return openRemoteModel(spec);
  return readCheckpointDir(spec);
}

interface Job {
  id: number;
  input: string;
  output: string;
}

async function kindOf(p: string): Promise<'dir' | 'file' | null> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/** The jobs for `--in`/`--out`, checked before any model loads or file is written. */
async function planJobs(input: string, output: string): Promise<{ jobs: Job[]; folder: boolean }> {
  const inKind = await kindOf(input);
  if (!inKind) throw new CliError(`--in ${input}: no such file or folder`);
  const outKind = await kindOf(output);
  if (inKind === 'file') {
    // "out/" names a folder even before it exists.
    const intoFolder = outKind === 'dir' || /[\\/]$/.test(output);
    const out = intoFolder ? join(output, `${parse(input).name}.png`) : output;
    if (resolve(out) === resolve(input)) throw new CliError(`--out ${output} would overwrite the input`);
    return { jobs: [{ id: 0, input, output: out }], folder: false };
  }
  if (outKind === 'file') throw new CliError(`--out ${output} is a file, but --in ${input} is a folder`);
  const names = (await readdir(input, { withFileTypes: true }))
    .filter((d) => d.isFile() && IMAGE_EXTENSIONS.includes(extname(d.name).toLowerCase()))
    .map((d) => d.name)
    .sort();
  if (names.length === 0) throw new CliError(`--in ${input}: no .png, .jpg or .jpeg files in the folder`);
  const byOut = new Map<string, string>();
  const jobs = names.map((n, id) => {
    const outName = `${parse(n).name}.png`;
    const clash = byOut.get(outName);
    if (clash) throw new CliError(`${clash} and ${n} would both be written to ${join(output, outName)}`);
    byOut.set(outName, n);
    const job = { id, input: join(input, n), output: join(output, outName) };
    if (resolve(job.output) === resolve(job.input)) throw new CliError(`--out ${output} would overwrite the input ${job.input}`);
    return job;
  });
  return { jobs, folder: true };
}

/** Runs the jobs on `n` worker threads; resolves to the number of failed images. */
function runPool(jobs: Job[], init: TranslatorInit, n: number, bar: ProgressBar): Promise<number> {
  return new Promise((resolveAll, reject) => {
    const queue = [...jobs];
    let failed = 0;
    let finished = 0;
    let settled = false;
    const workers = Array.from({ length: n }, () => startTranslateWorker(init));
    const stopAll = () => {
      for (const w of workers) w.postMessage({ type: 'stop' } satisfies ToWorker);
      // Termination is what guarantees the process can exit; 'stop' lets TF.js free first.
      setTimeout(() => workers.forEach((w) => void w.terminate()), 1000).unref();
    };
    const abort = (msg: string) => {
      if (settled) return;
      settled = true;
      workers.forEach((w) => void w.terminate());
      reject(new CliError(msg));
    };
    const feed = (w: (typeof workers)[number]) => {
      const job = queue.shift();
      if (job) w.postMessage({ type: 'job', ...job } satisfies ToWorker);
    };
    for (const w of workers) {
      w.on('message', (m: FromWorker) => {
        if (m.type === 'fatal') return abort(`translate worker could not start: ${m.message}`);
        if (m.type === 'failed') {
          failed++;
          bar.log(`stripes: ${m.message}`);
        }
        if (m.type === 'done' || m.type === 'failed') {
          finished++;
          bar.tick();
          if (finished === jobs.length && !settled) {
            settled = true;
            stopAll();
            return resolveAll(failed);
          }
        }
        feed(w);
      });
      w.on('error', (e) => abort(`translate worker crashed: ${e.message}`));
      w.on('exit', (code) => {
        if (!settled && code !== 0) abort(`translate worker exited with code ${code}`);
      });
    }
  });
}

export const command: Command = {
  name: NAME,
  summary: 'translate an image or a folder of images with a checkpoint',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      NAME,
      argv,
      {
        model: { type: 'string' },
        in: { type: 'string' },
        out: { type: 'string' },
        direction: { type: 'string', default: 'AtoB' },
        variant: { type: 'string' },
        backend: { type: 'string', default: 'wasm' },
        jobs: { type: 'string' },
        tile: { type: 'string', default: 'auto' },
      },
      { min: 0, max: 0, names: 'no arguments' },
    );
    const model = required(NAME, 'model', values.model);
    const input = required(NAME, 'in', values.in);
    const output = required(NAME, 'out', values.out);
    const direction = oneOf(NAME, 'direction', values.direction, DIRECTIONS);
    const backend = oneOf(NAME, 'backend', values.backend, BACKENDS);
    const jobsWanted = intOption(NAME, 'jobs', values.jobs, 1, 64) ?? availableParallelism();
    let tile: number | undefined;
    if (values.tile !== 'auto') {
      tile = Number(values.tile);
      if (!Number.isInteger(tile) || (tile !== 0 && tile < MIN_TILE) || tile > 65536)
        throw usageError(NAME, `--tile must be auto, 0 or an integer of at least ${MIN_TILE}, got ${JSON.stringify(values.tile)}`);
    }

    const { jobs, folder } = await planJobs(input, output);
    const source = await openModelSource(model);
    const net = GENERATOR_FOR[direction];
    const fast = source.manifest.variants?.fast;
    // Both Node backends run on the CPU, where the student's ≥10× fewer MACs matter most.
    const variant: Variant = values.variant === undefined ? (fast?.groups[net] ? 'fast' : 'full') : oneOf(NAME, 'variant', values.variant, VARIANTS);
    if (variant === 'fast' && !fast?.groups[net])
      throw new CliError(`--variant fast: ${model} has no distilled ${net} (make one with stripes distill), use --variant full`);
    let params;
    try {
      params = await decodeGroup(source.manifest, net, (h) => source.fetchShard(h), variant === 'fast' ? { variant: 'fast' } : {});
    } catch (e) {
      throw new CliError(`${model}: ${(e as Error).message}`);
    }
    const init: TranslatorInit = { config: variant === 'fast' ? fast!.config : source.manifest.config.generator, params, backend, tile };

    if (!folder) {
      const t = await createTranslator(init);
      try {
        await t.translateFile(jobs[0].input, jobs[0].output);
      } catch (e) {
        throw new CliError((e as Error).message);
      } finally {
        t.dispose();
      }
      return 0;
    }

    const n = Math.min(jobsWanted, jobs.length);
    const bar = new ProgressBar({ total: jobs.length, unit: 'img', label: `${direction} ${net}` });
    let failed: number;
    try {
      failed = await runPool(jobs, init, n, bar);
    } finally {
      bar.done();
    }
    if (failed) {
      process.stderr.write(`stripes: ${failed} of ${jobs.length} images failed; the others are in ${output}\n`);
      return EXIT_FAILURE;
    }
    return 0;
  },
};
