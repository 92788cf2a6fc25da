/**
 * `stripes distill`: a compact student generator per direction (shared/model/student.ts),
 * distilled from a trained pair (shared/train/distill.ts), with the same progress bar, atomic
 * checkpoints that resume exactly, and HTML report as `stripes train`.
 *
 * `--out DIR` always holds the teacher's checkpoint (every group, unchanged: same shards) plus the
 * students as its `variants.fast` (float16), so `stripes translate --model DIR --variant fast`
 * and `stripes push DIR` use it as it stands. What resuming needs (the students' float32 master,
 * the discriminators, both optimizers, the data RNG and sampler, the loss history) is under
 * `training/`, beside the report (`index.html`, `report/*.png`).
 */
import { basename } from 'node:path';
import { DISCRIMINATORS, GENERATORS, type DiscriminatorName, type GeneratorName } from '../../shared/model/config.ts';
import { generatorMacs, mobileGeneratorMacs } from '../../shared/model/macs.ts';
import {
  fastStudentConfig,
  STUDENT_ARCH,
  STUDENT_PRESET_NAMES,
  validateStudentConfig,
  type StudentConfig,
} from '../../shared/model/student-config.ts';
import { decodeGroup, encodeFastVariant } from '../../shared/weights/checkpoint.ts';
import type { CheckpointManifest } from '../../shared/weights/format.ts';
import { allShards } from '../../shared/weights/manifest.ts';
import { readSafetensors, writeSafetensors } from '../../shared/weights/safetensors.ts';
import type { AdamState } from '../../shared/train/adam.ts';
import { DISTILL_WEIGHTS } from '../../shared/train/distill-config.ts';
import type { DistillState } from '../../shared/train/distill.ts';
import { nextBatch, toUnit, UnalignedSampler, type SamplerState } from '../../shared/train/sampling.ts';
import { learningRate, scheduleSplit } from '../../shared/train/schedule.ts';
import { Rng, type RngState } from '../../shared/train/rng.ts';
import { readCheckpointDir, writeCheckpointDir } from '../checkpoint-dir.ts';
import { intOption, oneOf, parseCommandArgs, required, type Command } from '../command.ts';
import { CliError, usageError } from '../errors.ts';
import { encodePng } from '../image-io.ts';
import { ProgressBar } from '../progress.ts';
import type { NodeBackend } from '../tf-backend.ts';
import { loadDomain } from '../train/data.ts';
import { digestOf, inspectRunDir, ResumeCheck, RUN_OPTIONS, type RunKind } from '../train/run-dir.ts';
import { LossHistory, renderReport, type LossHistoryState, type ReportRow } from '../train/report.ts';

const NAME = 'distill';
const BACKENDS: readonly NodeBackend[] = ['wasm', 'cpu'];
export const DISTILL_STATE_FILE = 'training/distill.json';
const RUN_KIND: RunKind = { noun: 'distillation', stateFile: DISTILL_STATE_FILE, maker: 'stripes distill' };
export const DISTILL_TENSORS_FILE = 'training/distill.safetensors';
const STATE_FORMAT = 'stripes-distill-state';
const STATE_VERSION = 1;
/** The report's columns: each real image, the teacher's translation and the student's. */
export const DISTILL_SAMPLES = ['real_A', 'teacher_B', 'student_B', 'real_B', 'teacher_A', 'student_A'] as const;

const usage = `usage: stripes distill --model DIR --a DIR --b DIR --out DIR [options]

Distils a trained pair's generators (the teacher, a checkpoint folder from stripes train or
import-torch) into compact students, both directions: GAN Compression's mobile ResNet generator
(depthwise-separable residual blocks). Each student learns to reproduce its teacher's translation
of real images (L1, ×10) and to fool the teacher's discriminator, trained on alongside (LSGAN,
×1; docs/distill.md). Adam 2e-4 (β 0.5, 0.999), constant for the first half, then decaying to zero.

--out DIR holds the teacher's checkpoint with the students added as its "fast" variant
(stripes translate --variant fast, stripes push), and a report, DIR/index.html. With --resume,
options left out come from DIR and options given must match; --model may then be left out.

Options:
  --model DIR        the teacher: a Stripes checkpoint folder with G_AB and G_BA (and D_A, D_B
                     for the adversarial term)
  --a DIR, --b DIR   images of domain A and of domain B
  --out DIR          where the checkpoint and report go (new, empty, or resumed with --resume)
  --preset NAME      student size: ${STUDENT_PRESET_NAMES.join(', ')} (default fast: the teacher's
                     blocks, the widest ngf with ≤ 1/10 of its MACs, 1/20 for a full-size teacher)
  --ngf N, --blocks N  student width and residual blocks, overriding the preset
  --iterations N     total iterations (default 2000)
  --load-size N      resize images to N×N first (default 286)
  --crop-size N      distil on random N×N crops (default 256; a multiple of 4)
  --no-flip          no random horizontal flips
  --gan-weight W     weight of the adversarial term (default ${DISTILL_WEIGHTS.gan}; 0: pixel L1 only)
  --seed N           seed for the students' weights and the data order (default 0)
  --save-every N     checkpoint and report row every N iterations (default: iterations/10)
  --resume           continue the run saved in --out exactly where it stopped
  --stop-at N        stop after iteration N with a checkpoint (--resume goes on)
  --backend B        TF.js backend: wasm (the default) or cpu`;

export interface DistillSpec {
  student: StudentConfig;
  iterations: number;
  loadSize: number;
  cropSize: number;
  flip: boolean;
  ganWeight: number;
  seed: number;
  saveEvery: number;
}

interface DistillRunState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  spec: DistillSpec;
  iter: number;
  /** The teacher's generator shards: a resume must distil the same teacher. */
  teacher: string;
  data: { a: { count: number; digest: string }; b: { count: number; digest: string } };
  rng: RngState;
  sampler: SamplerState;
  history: LossHistoryState;
  rows: Array<ReportRow & { l1?: { AB: number; BA: number } }>;
  /** Adam step counts per optimizer and parameter; the moments are in DISTILL_TENSORS_FILE. */
  steps: { S: Record<string, number>; D?: Record<string, number> };
}

function parse(argv: string[]) {
  const int = (name: string, v: string | undefined, min: number, max?: number) => intOption(NAME, name, v, min, max);
  const { values } = parseCommandArgs(
    NAME,
    argv,
    {
      ...RUN_OPTIONS,
      model: { type: 'string' },
      iterations: { type: 'string' },
      'gan-weight': { type: 'string' },
    },
    { min: 0, max: 0, names: 'no positional arguments' },
  );
  if (values.preset !== undefined && !(STUDENT_PRESET_NAMES as readonly string[]).includes(values.preset))
    throw usageError(NAME, `--preset must be ${STUDENT_PRESET_NAMES.join(', ')}, got ${JSON.stringify(values.preset)}`);
  let ganWeight: number | undefined;
  if (values['gan-weight'] !== undefined) {
    ganWeight = Number(values['gan-weight']);
    if (!Number.isFinite(ganWeight) || ganWeight < 0 || values['gan-weight'].trim() === '')
      throw usageError(NAME, `--gan-weight must be a number ≥ 0, got ${JSON.stringify(values['gan-weight'])}`);
  }
  const resume = values.resume ?? false;
  return {
    model: resume ? values.model : required(NAME, 'model', values.model),
    a: required(NAME, 'a', values.a),
    b: required(NAME, 'b', values.b),
    out: required(NAME, 'out', values.out),
    resume,
    backend: values.backend === undefined ? 'wasm' : oneOf(NAME, 'backend', values.backend, BACKENDS),
    preset: values.preset,
    ngf: int('ngf', values.ngf, 1, 1024),
    blocks: int('blocks', values.blocks, 0, 64),
    iterations: int('iterations', values.iterations, 1),
    loadSize: int('load-size', values['load-size'], 1, 8192),
    cropSize: int('crop-size', values['crop-size'], 8, 8192),
    flip: values['no-flip'] ? false : undefined,
    ganWeight,
    seed: int('seed', values.seed, 0, 2 ** 32 - 1),
    saveEvery: int('save-every', values['save-every'], 1),
    stopAt: int('stop-at', values['stop-at'], 1),
  };
}
type Parsed = ReturnType<typeof parse>;

function specFromArgs(p: Parsed, teacher: CheckpointManifest): DistillSpec {
  const student = fastStudentConfig(teacher.config.generator);
  if (p.ngf !== undefined) student.ngf = p.ngf;
  if (p.blocks !== undefined) student.nBlocks = p.blocks;
  const iterations = p.iterations ?? 2000;
  const spec: DistillSpec = {
    student: validateStudentConfig(student),
    iterations,
    loadSize: p.loadSize ?? 286,
    cropSize: p.cropSize ?? 256,
    flip: p.flip ?? true,
    ganWeight: p.ganWeight ?? DISTILL_WEIGHTS.gan,
    seed: p.seed ?? 0,
    saveEvery: p.saveEvery ?? Math.max(1, Math.ceil(iterations / 10)),
  };
  if (spec.cropSize > spec.loadSize) throw usageError(NAME, `--crop-size ${spec.cropSize} is larger than --load-size ${spec.loadSize}`);
  if (spec.cropSize % 4 !== 0) throw usageError(NAME, `--crop-size must be a multiple of 4, got ${spec.cropSize}`);
  if (spec.ganWeight > 0 && spec.cropSize < 24)
    throw usageError(NAME, `--crop-size ${spec.cropSize} is too small for the teacher's PatchGAN (use at least 24, or --gan-weight 0)`);
  return spec;
}

function checkResume(p: Parsed, saved: DistillSpec, out: string): void {
  const r = new ResumeCheck('the run');
  r.check('--ngf', p.ngf, saved.student.ngf);
  r.check('--blocks', p.blocks, saved.student.nBlocks);
  r.check('--iterations', p.iterations, saved.iterations);
  r.check('--load-size', p.loadSize, saved.loadSize);
  r.check('--crop-size', p.cropSize, saved.cropSize);
  r.check('--no-flip', p.flip === false ? 'set' : undefined, saved.flip ? 'not set' : 'set');
  r.check('--gan-weight', p.ganWeight, saved.ganWeight);
  r.check('--seed', p.seed, saved.seed);
  r.check('--save-every', p.saveEvery, saved.saveEvery);
  r.finish(out, 'a different distillation');
}

const teacherId = (m: CheckpointManifest) => GENERATORS.map((g) => `${g}:${m.groups[g]?.paths.join(',')}`).join(';');

function centreCrop(img: Uint8Array, loadSize: number, cropSize: number): Float32Array {
  const out = new Float32Array(cropSize * cropSize * 3);
  const off = Math.floor((loadSize - cropSize) / 2);
  for (let y = 0; y < cropSize; y++)
    for (let i = 0; i < cropSize * 3; i++) out[y * cropSize * 3 + i] = toUnit(img[((off + y) * loadSize + off) * 3 + i]);
  return out;
}

function toPng(x: Float32Array, size: number): Uint8Array {
  const data = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) data[i] = Math.max(0, Math.min(255, Math.round(((x[i] + 1) / 2) * 255)));
  return encodePng({ width: size, height: size, data });
}

function encodeTensors(st: DistillState): Uint8Array {
  const t: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  const add = (name: string, data: Float32Array) => t.push({ name, shape: [data.length], data });
  for (const g of GENERATORS) for (const [k, v] of Object.entries(st.students[g])) add(`student.${g}/${k}`, v);
  if (st.discriminators) for (const d of DISCRIMINATORS) for (const [k, v] of Object.entries(st.discriminators[d])) add(`disc.${d}/${k}`, v);
  for (const which of ['S', 'D'] as const)
    for (const [k, s] of Object.entries(st.optimizer[which] ?? {})) {
      add(`adam.${which}/${k}/m`, s.m);
      add(`adam.${which}/${k}/v`, s.v);
    }
  return writeSafetensors(t, { format: 'stripes-distill-state' });
}

function decodeTensors(bytes: Uint8Array, steps: DistillRunState['steps'], names: { student: string[]; disc: string[] }): DistillState {
  const { tensors } = readSafetensors(bytes, 'distillation state');
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new CliError(`--resume: the distillation state lacks "${name}"`);
    return t.data;
  };
  const net = (prefix: string, keys: string[]) => Object.fromEntries(keys.map((k) => [k, get(`${prefix}/${k}`)]));
  const st: DistillState = {
    students: { G_AB: net('student.G_AB', names.student), G_BA: net('student.G_BA', names.student) },
    optimizer: { S: {} },
  };
  const adam = (which: 'S' | 'D', counts: Record<string, number>): AdamState =>
    Object.fromEntries(Object.entries(counts).map(([k, step]) => [k, { step, m: get(`adam.${which}/${k}/m`), v: get(`adam.${which}/${k}/v`) }]));
  st.optimizer.S = adam('S', steps.S);
  if (steps.D) {
    st.discriminators = { D_A: net('disc.D_A', names.disc), D_B: net('disc.D_B', names.disc) };
    st.optimizer.D = adam('D', steps.D);
  }
  return st;
}

/** Mean |student − teacher| over the report's fixed images, in [-1, 1] units: the run's yardstick. */
function meanAbs(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

export async function distill(argv: string[]): Promise<number> {
  const p = parse(argv);
  const mode = inspectRunDir(p.out, p.resume, RUN_KIND);
  const log = (m: string) => process.stderr.write(m + '\n');

  let saved: DistillRunState | undefined;
  let resumeTensors: Uint8Array | undefined;
  const reportFiles = new Map<string, Uint8Array>();
  const teacherDir = mode === 'resume' ? await readCheckpointDir(p.out) : await readCheckpointDir(p.model!);
  if (mode === 'resume') {
    try {
      saved = JSON.parse(new TextDecoder().decode(await teacherDir.readExtra(DISTILL_STATE_FILE)));
    } catch (e) {
      throw new CliError(`--resume: ${p.out}/${DISTILL_STATE_FILE} is not JSON (${(e as Error).message})`);
    }
    if (saved?.format !== STATE_FORMAT || saved.version !== STATE_VERSION)
      throw new CliError(`--resume: ${p.out}/${DISTILL_STATE_FILE} is not a version-${STATE_VERSION} ${STATE_FORMAT} file`);
    checkResume(p, saved.spec, p.out);
    if (p.model !== undefined) {
      const given = await readCheckpointDir(p.model);
      if (teacherId(given.manifest) !== saved.teacher) throw new CliError(`--resume: --model ${p.model} is not the teacher ${p.out} was distilled from`);
    }
    resumeTensors = await teacherDir.readExtra(DISTILL_TENSORS_FILE);
    for (const row of saved.rows) for (const n of DISTILL_SAMPLES) reportFiles.set(row.images[n as never], await teacherDir.readExtra(row.images[n as never]));
  }
  const teacherManifest = teacherDir.manifest;
  for (const g of GENERATORS)
    if (!teacherManifest.groups[g]) throw new CliError(`--model ${teacherDir.where}: the teacher has no ${g}; distilling needs both generators`);
  const spec = saved?.spec ?? specFromArgs(p, teacherManifest);

  const A = loadDomain(p.a, '--a', spec.loadSize, undefined, log);
  const B = loadDomain(p.b, '--b', spec.loadSize, undefined, log);
  const data = { a: digestOf(A, p.a), b: digestOf(B, p.b) };
  if (saved)
    for (const side of ['a', 'b'] as const)
      if (saved.data[side].digest !== data[side].digest)
        throw new CliError(`--resume: the images in --${side} ${side === 'a' ? p.a : p.b} are not the ones the run started with`);

  // Every shard of the teacher travels into --out unchanged.
  const shards = new Map<string, Uint8Array>();
  for (const { hash } of allShards(teacherManifest)) shards.set(hash, await teacherDir.fetchShard(hash));
  const teacher: Partial<Record<GeneratorName | DiscriminatorName, Record<string, Float32Array>>> = {};
  for (const net of [...GENERATORS, ...DISCRIMINATORS])
    if (teacherManifest.groups[net]) teacher[net] = await decodeGroup(teacherManifest, net, async (h) => shards.get(h)!);
  if (spec.ganWeight > 0 && !(teacher.D_A && teacher.D_B))
    log(`note: ${teacherDir.where} holds no discriminators; distilling with the pixel loss alone`);

  const tf = await import('@tensorflow/tfjs-core');
  const { useBackend } = await import('../tf-backend.ts');
  const { createDistiller } = await import('../../shared/train/distill.ts');
  const { studentParamSpecs } = await import('../../shared/model/student-config.ts');
  const { discriminatorParamSpecs } = await import('../../shared/model/param-specs.ts');
  tf.env().set('PROD', true);
  await useBackend(p.backend as NodeBackend);

  const resumeFrom = saved
    ? decodeTensors(resumeTensors!, saved.steps, {
        student: studentParamSpecs(spec.student).map((s) => s.name),
        disc: discriminatorParamSpecs(teacherManifest.config.discriminator).map((s) => s.name),
      })
    : undefined;
  const distiller = createDistiller({
    teacherConfig: teacherManifest.config,
    studentConfig: spec.student,
    teacher,
    weights: { pixel: DISTILL_WEIGHTS.pixel, gan: spec.ganWeight },
    seed: spec.seed,
    resumeFrom,
  });

  const rng = new Rng(spec.seed);
  const sampler = new UnalignedSampler(A.images.length, B.images.length, rng);
  const history = new LossHistory(1024, saved?.history);
  const rows: DistillRunState['rows'] = saved ? [...saved.rows] : [];
  if (saved) {
    rng.restore(saved.rng);
    sampler.restore(saved.sampler);
  }
  const crop = { loadSize: spec.loadSize, cropSize: spec.cropSize, flip: spec.flip };
  const sampleA = centreCrop(A.images[0], spec.loadSize, spec.cropSize);
  const sampleB = centreCrop(B.images[0], spec.loadSize, spec.cropSize);
  const tMacs = generatorMacs(teacherManifest.config.generator, 256, 256);
  const sMacs = mobileGeneratorMacs(spec.student, 256, 256);
  const facts = [
    `teacher: ${basename(teacherDir.where)}, ResNet generator ngf ${teacherManifest.config.generator.ngf}, ${teacherManifest.config.generator.nBlocks} blocks, ${(tMacs / 1e9).toFixed(2)} GMAC at 256×256`,
    `student: ${STUDENT_ARCH} ngf ${spec.student.ngf}, ${spec.student.nBlocks} separable blocks, ${(sMacs / 1e9).toFixed(3)} GMAC at 256×256 (${(tMacs / sMacs).toFixed(1)}× fewer)`,
    `losses: ${DISTILL_WEIGHTS.pixel}·L1(student, teacher)${distiller.adversarial ? ` + ${spec.ganWeight}·LSGAN against the teacher's discriminators (trained on)` : ' only'}`,
    `data: ${A.images.length} A images (${p.a}), ${B.images.length} B images (${p.b}); resize ${spec.loadSize}, random crop ${spec.cropSize}${spec.flip ? ', flip' : ''}`,
    `schedule: ${spec.iterations} iterations, lr 2e-4 constant for ${scheduleSplit(spec.iterations).nConst} then linear decay to 0; seed ${spec.seed}; backend ${p.backend}`,
  ];

  const save = async (iter: number): Promise<void> => {
    const t = tf.tidy(() => {
      const a = tf.tensor4d(sampleA, [1, spec.cropSize, spec.cropSize, 3]);
      const b = tf.tensor4d(sampleB, [1, spec.cropSize, spec.cropSize, 3]);
      const r = distiller.translate(a, b);
      return { teacher_B: r.teacherB.dataSync() as Float32Array, student_B: r.studentB.dataSync() as Float32Array, teacher_A: r.teacherA.dataSync() as Float32Array, student_A: r.studentA.dataSync() as Float32Array };
    });
    const images: Record<string, Float32Array> = { real_A: sampleA, real_B: sampleB, ...t };
    const row: DistillRunState['rows'][number] = { iter, images: {}, l1: { AB: meanAbs(t.student_B, t.teacher_B), BA: meanAbs(t.student_A, t.teacher_A) } };
    for (const n of DISTILL_SAMPLES) {
      const file = `report/${String(iter).padStart(7, '0')}_${n}.png`;
      reportFiles.set(file, toPng(images[n], spec.cropSize));
      (row.images as Record<string, string>)[n] = file;
    }
    rows.push(row);
    const st = await distiller.exportState();
    const manifest: CheckpointManifest = structuredClone(teacherManifest);
    const allShardsNow = new Map(shards);
    manifest.variants = { ...manifest.variants, fast: await encodeFastVariant(spec.student, st.students, allShardsNow) };
    const steps = (s: AdamState) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.step]));
    const state: DistillRunState = {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      spec,
      iter,
      teacher: saved?.teacher ?? teacherId(teacherManifest),
      data,
      rng: rng.state(),
      sampler: sampler.state(),
      history: history.state(),
      rows,
      steps: { S: steps(st.optimizer.S), ...(st.optimizer.D ? { D: steps(st.optimizer.D) } : {}) },
    };
    const l1Facts = rows.map((r) => `iteration ${r.iter}: L1 to the teacher on the sample images A→B ${r.l1!.AB.toFixed(4)}, B→A ${r.l1!.BA.toFixed(4)}`);
    const html = renderReport({
      title: `stripes distill → ${basename(p.out)} (iteration ${iter} of ${spec.iterations})`,
      facts: [...facts, l1Facts[l1Facts.length - 1]],
      rows,
      history: history.series(),
      samples: DISTILL_SAMPLES,
    });
    await writeCheckpointDir(p.out, { manifest, shards: allShardsNow }, {
      replace: true,
      extraFiles: { [DISTILL_STATE_FILE]: JSON.stringify(state), [DISTILL_TENSORS_FILE]: encodeTensors(st), 'index.html': html, ...Object.fromEntries(reportFiles) },
    });
  };

  const start = saved?.iter ?? 0;
  if (start >= spec.iterations) {
    log(`${p.out} already holds all ${spec.iterations} iterations of this distillation; nothing to do`);
    distiller.dispose();
    return 0;
  }
  const end = Math.min(spec.iterations, p.stopAt ?? spec.iterations);
  if (end <= start) throw new CliError(`--stop-at ${p.stopAt}: ${p.out} is already at iteration ${start}`);
  const bar = new ProgressBar({ total: end - start, unit: 'it', label: NAME });
  try {
    for (let iter = start + 1; iter <= end; iter++) {
      const batch = nextBatch(A, B, sampler, rng, crop, 1);
      const a = tf.tensor4d(batch.a, batch.shape);
      const b = tf.tensor4d(batch.b, batch.shape);
      let losses;
      try {
        losses = await distiller.step(a, b, learningRate(iter - 1, spec.iterations, 2e-4));
      } finally {
        tf.dispose([a, b]);
      }
      for (const [k, v] of Object.entries(losses))
        if (!Number.isFinite(v)) throw new CliError(`distillation diverged at iteration ${iter}: ${k} is ${v}; the last checkpoint in ${p.out} is untouched`);
      history.add(iter, losses as Record<string, number>);
      bar.setDetail(`iter ${iter}/${spec.iterations} ${Object.entries(losses).map(([k, v]) => `${k} ${v!.toFixed(3)}`).join(' ')}`);
      bar.tick();
      if (iter % spec.saveEvery === 0 || iter === end) await save(iter);
    }
  } finally {
    bar.done();
    distiller.dispose();
  }
  const last = rows[rows.length - 1].l1!;
  log(
    `${end < spec.iterations ? `stopped at iteration ${end} of ${spec.iterations}; continue with --resume` : `distilled ${spec.iterations} iterations`}; ` +
      `student L1 to the teacher on the sample images: A→B ${last.AB.toFixed(4)}, B→A ${last.BA.toFixed(4)}; checkpoint (variant "fast") and report in ${p.out}`,
  );
  return 0;
}

export const command: Command = {
  name: NAME,
  summary: 'distil a pair into compact student generators (the "fast" variant), with checkpoints and a report',
  usage,
  run: distill,
};
