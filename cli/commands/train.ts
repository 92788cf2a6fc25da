/**
 * `stripes train`: a CycleGAN from two folders of unpaired images, with a live progress bar,
 * atomic checkpoints that resume exactly, and an HTML report beside them.
 *
 * `--out DIR` always holds the latest checkpoint (usable as `stripes translate --model DIR`),
 * plus what resuming needs under `training/` (optimizer moments, image pools, the data RNG and
 * sampler, the loss history) and the report (`index.html`, `report/*.png`). Each save rewrites
 * the whole folder through cli/checkpoint-dir.ts, so a crash leaves the previous save whole.
 */
import { CYCLEGAN_ADAM } from '../../shared/train/adam.ts';
import { trainScheduleMeta } from '../../shared/rounds/schedule.ts';
import { basename } from 'node:path';
import { isPresetName, NETWORKS, PRESET_NAMES, presetConfig, validateModelConfig, type ModelConfig } from '../../shared/model/config.ts';
import { decodeGroup, encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import type { NetworkWeights } from '../../shared/train/cyclegan.ts';
import { scheduleSplit } from '../../shared/train/schedule.ts';
import { readCheckpointDir, writeCheckpointDir, MANIFEST_FILE } from '../checkpoint-dir.ts';
import { intOption, oneOf, parseCommandArgs, required, type Command } from '../command.ts';
import { CliError, usageError } from '../errors.ts';
import { encodePng } from '../image-io.ts';
import { ProgressBar } from '../progress.ts';
import type { NodeBackend } from '../tf-backend.ts';
import { loadDomain } from '../train/data.ts';
import { digestOf, inspectRunDir, ResumeCheck, RUN_OPTIONS, type RunKind } from '../train/run-dir.ts';
import { nextBatch, toUnit, UnalignedSampler, type SamplerState } from '../../shared/train/sampling.ts';
import { LossHistory, renderReport, SAMPLE_NAMES, type LossHistoryState, type ReportRow, type SampleName } from '../train/report.ts';
import { Rng, type RngState } from '../../shared/train/rng.ts';
import { openTrainer, type TrainerMeta } from '../train/session.ts';
import { defaultTrainThreads, MAX_TRAIN_THREADS } from '../train/threads.ts';

const NAME = 'train';
const BACKENDS: readonly NodeBackend[] = ['wasm', 'cpu'];
export const STATE_FILE = 'training/state.json';
const RUN_KIND: RunKind = { noun: 'training run', stateFile: STATE_FILE, maker: 'stripes train' };
export const TENSORS_FILE = 'training/state.safetensors';
const STATE_FORMAT = 'stripes-training-state';
const STATE_VERSION = 1;

const usage = `usage: stripes train --a DIR --b DIR --out DIR [options]

Trains a CycleGAN (G_AB: A→B, G_BA: B→A and their discriminators) on two folders of unpaired
PNG/JPEG images, as the reference implementation does: each image resized to the load size
(bicubic), a random crop, a random horizontal flip, LSGAN + cycle (λ 10) + identity (0.5λ)
losses, Adam 2e-4 (β 0.5, 0.999), constant for the first half of --iters then decaying to zero.
A is visited in a shuffled order each epoch, B drawn at random. The same seed gives the same run.

With --resume, options left out come from the checkpoint and options given must match it; the
run then continues exactly as if it had never stopped (on the same backend).

--out DIR always holds the latest checkpoint (stripes translate --model DIR uses it) and a
report, DIR/index.html: sample translations per checkpoint and the loss curves.

Options:
  --a DIR            images of domain A
  --b DIR            images of domain B
  --out DIR          where checkpoints and the report go (new, empty, or resumed with --resume)
  --preset NAME      network size: ${PRESET_NAMES.join(', ')} (default small; full is the paper's)
  --ngf N            generator width, overriding the preset
  --blocks N         generator residual blocks, overriding the preset
  --load-size N      resize images to N×N first (default 286)
  --crop-size N      train on random N×N crops (default 256; a multiple of 4, at most the load size)
  --no-flip          no random horizontal flips
  --iters N          total iterations (default 1000)
  --batch-size N     images per iteration and domain (default 1)
  --seed N           seed for the weights and the data order (default 0)
  --save-every N     save a checkpoint and a report row every N iterations (default: iters/10)
  --resume           continue the run saved in --out exactly where it stopped
  --stop-at N        stop after iteration N with a checkpoint (train in sessions; --resume goes on)
  --backend B        TF.js backend: wasm (the default) or cpu
  --threads N        cores to train on (default 2 on wasm with 2+ cores, else 1; at most
                     ${MAX_TRAIN_THREADS}; wasm only; 3–4 split unevenly and add a replica each).
                     Every iteration is split across N worker threads; the run is identical,
                     bit for bit, to --threads 1 (same weights, losses, checkpoints), so a run
                     may be resumed with any --threads`;

/** Everything that defines a run; a resume must agree with all of it. */
export interface RunSpec {
  config: ModelConfig;
  loadSize: number;
  cropSize: number;
  flip: boolean;
  iters: number;
  batchSize: number;
  seed: number;
  saveEvery: number;
}

interface TrainingState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  spec: RunSpec;
  /** Iterations done. */
  iter: number;
  /** Which files the run saw, so a resume on changed folders is refused. */
  data: { a: { count: number; digest: string }; b: { count: number; digest: string } };
  rng: RngState;
  sampler: SamplerState;
  history: LossHistoryState;
  rows: ReportRow[];
  /** The trainer's own JSON state (pool fill, step counts); its tensors are in TENSORS_FILE. */
  trainer: TrainerMeta;
  skipped: { a: number; b: number };
}

/** Spatial size of the PatchGAN's output for a crop, to refuse crops too small for it. */
function patchSize(crop: number, nLayers: number): number {
  let s = crop;
  for (let i = 0; i < nLayers; i++) s = Math.floor((s + 2 - 4) / 2) + 1;
  return s - 2; // two stride-1 4×4 convs with padding 1
}

function parse(argv: string[]) {
  const int = (name: string, v: string | undefined, min: number, max?: number) => intOption(NAME, name, v, min, max);
  const { values } = parseCommandArgs(
    NAME,
    argv,
    {
      ...RUN_OPTIONS,
      iters: { type: 'string' },
      'batch-size': { type: 'string' },
      threads: { type: 'string' },
    },
    { min: 0, max: 0, names: 'no positional arguments' },
  );
  const preset = values.preset === undefined ? undefined : values.preset;
  if (preset !== undefined && !isPresetName(preset)) throw usageError(NAME, `--preset must be ${PRESET_NAMES.join(', ')}, got ${JSON.stringify(preset)}`);
  return {
    a: required(NAME, 'a', values.a),
    b: required(NAME, 'b', values.b),
    out: required(NAME, 'out', values.out),
    resume: values.resume ?? false,
    backend: values.backend === undefined ? 'wasm' : oneOf(NAME, 'backend', values.backend, BACKENDS),
    // Left undefined when not given: a resume takes them from the checkpoint.
    preset,
    ngf: int('ngf', values.ngf, 1, 1024),
    blocks: int('blocks', values.blocks, 0, 64),
    loadSize: int('load-size', values['load-size'], 1, 8192),
    cropSize: int('crop-size', values['crop-size'], 4, 8192),
    flip: values['no-flip'] ? false : undefined,
    iters: int('iters', values.iters, 1),
    batchSize: int('batch-size', values['batch-size'], 1, 1024),
    seed: int('seed', values.seed, 0, 2 ** 32 - 1),
    saveEvery: int('save-every', values['save-every'], 1),
    stopAt: int('stop-at', values['stop-at'], 1),
    threads: int('threads', values.threads, 1, MAX_TRAIN_THREADS),
  };
}

type Parsed = ReturnType<typeof parse>;

/** The run's spec from the command line, with defaults for what was not given. */
function specFromArgs(p: Parsed): RunSpec {
  const config = presetConfig(p.preset ?? 'small');
  if (p.ngf !== undefined) config.generator.ngf = p.ngf;
  if (p.blocks !== undefined) config.generator.nBlocks = p.blocks;
  const iters = p.iters ?? 1000;
  return {
    config: validateModelConfig(config),
    loadSize: p.loadSize ?? 286,
    cropSize: p.cropSize ?? 256,
    flip: p.flip ?? true,
    iters,
    batchSize: p.batchSize ?? 1,
    seed: p.seed ?? 0,
    saveEvery: p.saveEvery ?? Math.max(1, Math.ceil(iters / 10)),
  };
}

function checkSpec(s: RunSpec): void {
  if (s.cropSize > s.loadSize) throw usageError(NAME, `--crop-size ${s.cropSize} is larger than --load-size ${s.loadSize}`);
  if (s.cropSize % 4 !== 0) throw usageError(NAME, `--crop-size must be a multiple of 4 (the generator downsamples twice), got ${s.cropSize}`);
  if (patchSize(s.cropSize, s.config.discriminator.nLayers) < 1)
    throw usageError(NAME, `--crop-size ${s.cropSize} is too small for the ${s.config.discriminator.nLayers}-layer PatchGAN (use at least 24)`);
}

/** A resume must describe the same run: every option given must match the checkpoint's. */
function checkResume(p: Parsed, saved: RunSpec, out: string): void {
  const c = saved.config;
  const r = new ResumeCheck('the checkpoint');
  const describe = (m: ModelConfig) => `ngf ${m.generator.ngf}, ${m.generator.nBlocks} blocks, ndf ${m.discriminator.ndf}`;
  if (p.preset !== undefined) {
    const asked = specFromArgs(p).config;
    if (JSON.stringify(asked) !== JSON.stringify(c)) r.add(`--preset ${p.preset} gives ${describe(asked)} (the checkpoint has ${describe(c)})`);
  } else {
    r.check('--ngf', p.ngf, c.generator.ngf);
    r.check('--blocks', p.blocks, c.generator.nBlocks);
  }
  r.check('--load-size', p.loadSize, saved.loadSize);
  r.check('--crop-size', p.cropSize, saved.cropSize);
  r.check('--no-flip', p.flip === false ? 'set' : undefined, saved.flip ? 'not set' : 'set');
  r.check('--iters', p.iters, saved.iters);
  r.check('--batch-size', p.batchSize, saved.batchSize);
  r.check('--seed', p.seed, saved.seed);
  r.check('--save-every', p.saveEvery, saved.saveEvery);
  r.finish(out, 'a different run');
}

function parseState(bytes: Uint8Array, out: string): TrainingState {
  let s: TrainingState;
  try {
    s = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new CliError(`--resume: ${out}/${STATE_FILE} is not JSON (${(e as Error).message})`);
  }
  if (s?.format !== STATE_FORMAT || s.version !== STATE_VERSION)
    throw new CliError(`--resume: ${out}/${STATE_FILE} is not a version-${STATE_VERSION} ${STATE_FORMAT} file`);
  return s;
}

/** Centre crop of a load-size image, unflipped: the fixed inputs of the report's rows. */
function centreCrop(img: Uint8Array, loadSize: number, cropSize: number): Float32Array {
  const out = new Float32Array(cropSize * cropSize * 3);
  const off = Math.floor((loadSize - cropSize) / 2);
  for (let y = 0; y < cropSize; y++)
    for (let i = 0; i < cropSize * 3; i++) out[y * cropSize * 3 + i] = toUnit(img[((off + y) * loadSize + off) * 3 + i]);
  return out;
}

/** [-1, 1] floats → bytes, as the reference's tensor2im ((x + 1) / 2 · 255), rounded. */
function toPng(x: Float32Array, size: number): Uint8Array {
  const data = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) data[i] = Math.max(0, Math.min(255, Math.round(((x[i] + 1) / 2) * 255)));
  return encodePng({ width: size, height: size, data });
}

function fmtLoss(losses: Record<string, number>): string {
  return Object.entries(losses)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(' ');
}

export async function train(argv: string[]): Promise<number> {
  const p = parse(argv);
  const mode = inspectRunDir(p.out, p.resume, RUN_KIND);

  let saved: TrainingState | undefined;
  let resumeFrom: { weights: NetworkWeights; meta: TrainerMeta; tensors: Uint8Array } | undefined;
  const reportFiles = new Map<string, Uint8Array>();
  if (mode === 'resume') {
    const dir = await readCheckpointDir(p.out);
    saved = parseState(await dir.readExtra(STATE_FILE), p.out);
    checkResume(p, saved.spec, p.out);
    if (JSON.stringify(dir.manifest.config) !== JSON.stringify(validateModelConfig(saved.spec.config)))
      throw new CliError(`--resume: ${p.out}/${MANIFEST_FILE} and ${STATE_FILE} disagree on the model config`);
    const weights = {} as NetworkWeights;
    for (const net of NETWORKS) weights[net] = await decodeGroup(dir.manifest, net, (h) => dir.fetchShard(h));
    resumeFrom = { weights, meta: saved.trainer, tensors: await dir.readExtra(TENSORS_FILE) };
    for (const row of saved.rows) for (const n of SAMPLE_NAMES) reportFiles.set(row.images[n], await dir.readExtra(row.images[n]));
  }
  const spec = saved?.spec ?? specFromArgs(p);
  checkSpec(spec);

  const log = (m: string) => process.stderr.write(m + '\n');
  const A = loadDomain(p.a, '--a', spec.loadSize, undefined, log);
  const B = loadDomain(p.b, '--b', spec.loadSize, undefined, log);
  const data = { a: digestOf(A, p.a), b: digestOf(B, p.b) };
  if (saved) {
    for (const side of ['a', 'b'] as const)
      if (saved.data[side].digest !== data[side].digest)
        throw new CliError(
          `--resume: the images in --${side} ${side === 'a' ? p.a : p.b} are not the ones the run started with (${data[side].count} readable now, ${saved.data[side].count} then)`,
        );
  }
  const skipped = { a: A.skipped.length, b: B.skipped.length };
  if (skipped.a + skipped.b) log(`skipped ${skipped.a} unreadable image(s) in --a and ${skipped.b} in --b`);

  const rng = new Rng(spec.seed);
  const sampler = new UnalignedSampler(A.images.length, B.images.length, rng);
  const history = new LossHistory(1024, saved?.history);
  const rows: ReportRow[] = saved ? [...saved.rows] : [];
  if (saved) {
    rng.restore(saved.rng);
    sampler.restore(saved.sampler);
  }

  const threads = p.threads ?? defaultTrainThreads(p.backend as NodeBackend);
  if (threads > 1 && p.backend !== 'wasm') throw usageError(NAME, `--threads ${threads} needs --backend wasm (the cpu backend trains on one thread)`);
  const trainer = await openTrainer({
    backend: p.backend as NodeBackend,
    threads,
    config: spec.config,
    seed: spec.seed,
    totalIters: spec.iters,
    resumeFrom,
  });

  const sampleA = centreCrop(A.images[0], spec.loadSize, spec.cropSize);
  const sampleB = centreCrop(B.images[0], spec.loadSize, spec.cropSize);
  const crop = { loadSize: spec.loadSize, cropSize: spec.cropSize, flip: spec.flip };
  const facts = [
    `G: ngf ${spec.config.generator.ngf}, ${spec.config.generator.nBlocks} residual blocks; D: ndf ${spec.config.discriminator.ndf}, ${spec.config.discriminator.nLayers} layers`,
    `data: ${A.images.length} A images (${p.a}), ${B.images.length} B images (${p.b})${skipped.a + skipped.b ? `, ${skipped.a + skipped.b} unreadable skipped` : ''}`,
    `preprocessing: resize ${spec.loadSize}×${spec.loadSize} bicubic, random crop ${spec.cropSize}, ${spec.flip ? 'random flip' : 'no flip'}; batch ${spec.batchSize}`,
    `schedule: ${spec.iters} iterations, lr 2e-4 constant for ${scheduleSplit(spec.iters).nConst} then linear decay to 0; seed ${spec.seed}; backend ${p.backend}, ${threads} thread${threads === 1 ? '' : 's'}`,
  ];

  const save = async (iter: number): Promise<void> => {
    const s = await trainer.samples(sampleA, sampleB, spec.cropSize);
    const row: ReportRow = { iter, images: {} as Record<SampleName, string> };
    for (const n of SAMPLE_NAMES) {
      const file = `report/${String(iter).padStart(7, '0')}_${n}.png`;
      reportFiles.set(file, toPng(s[n], spec.cropSize));
      row.images[n] = file;
    }
    rows.push(row);
    const snap = await trainer.snapshot();
    const ckpt = await encodeCheckpoint(spec.config, snap.weights, {
      // `schedule` says where this run's lr schedule stands, so a round on this version continues it
      // (shared/rounds/schedule.ts); iterations/totalIterations stay for older readers.
      meta: {
        trainedBy: 'stripes train',
        iterations: iter,
        totalIterations: spec.iters,
        ...trainScheduleMeta(iter, spec.iters, CYCLEGAN_ADAM.lr),
        seed: spec.seed,
        data: { a: basename(p.a), b: basename(p.b) },
      },
    });
    const state: TrainingState = {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      spec,
      iter,
      data,
      rng: rng.state(),
      sampler: sampler.state(),
      history: history.state(),
      rows,
      trainer: snap.meta,
      skipped,
    };
    const html = renderReport({ title: `stripes train → ${basename(p.out)} (iteration ${iter} of ${spec.iters})`, facts, rows, history: history.series() });
    await writeCheckpointDir(p.out, ckpt, {
      replace: true,
      extraFiles: { [STATE_FILE]: JSON.stringify(state), [TENSORS_FILE]: snap.tensors, 'index.html': html, ...Object.fromEntries(reportFiles) },
    });
  };

  const start = saved?.iter ?? 0;
  if (start >= spec.iters) {
    log(`${p.out} already holds all ${spec.iters} iterations of this run; nothing to do`);
    await trainer.dispose();
    return 0;
  }
  const end = Math.min(spec.iters, p.stopAt ?? spec.iters);
  if (end <= start) throw new CliError(`--stop-at ${p.stopAt}: ${p.out} is already at iteration ${start}`);
  const bar = new ProgressBar({ total: end - start, unit: 'it', label: NAME });
  try {
    for (let iter = start + 1; iter <= end; iter++) {
      const batch = nextBatch(A, B, sampler, rng, crop, spec.batchSize);
      const losses: Record<string, number> = await trainer.step(batch, iter - 1);
      for (const [k, v] of Object.entries(losses))
        if (!Number.isFinite(v)) throw new CliError(`training diverged at iteration ${iter}: ${k} is ${v}; the last checkpoint in ${p.out} is untouched`);
      history.add(iter, losses);
      bar.setDetail(`iter ${iter}/${spec.iters} ${fmtLoss(losses)}`);
      bar.tick();
      if (iter % spec.saveEvery === 0 || iter === end) await save(iter);
    }
  } finally {
    bar.done();
    await trainer.dispose();
  }
  log(
    end < spec.iters
      ? `stopped at iteration ${end} of ${spec.iters}; continue with --resume (checkpoint and report in ${p.out})`
      : `trained ${spec.iters} iterations; checkpoint and report in ${p.out} (open ${p.out}/index.html)`,
  );
  return 0;
}

export const command: Command = {
  name: NAME,
  summary: 'train a CycleGAN on two folders of unpaired images, with checkpoints and a report',
  usage,
  run: train,
};
