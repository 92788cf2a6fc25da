/**
 * The output folder of a long, resumable run (`stripes train`, `stripes distill`): whether it is
 * new or a run to resume, and what a resume must match. Both commands refuse the same mistakes
 * with the same words, so a user who has met one knows the other.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { CliError } from '../errors.ts';
import { MANIFEST_FILE } from '../checkpoint-dir.ts';
import type { Domain } from './data.ts';

/**
 * The options both long-running commands take, with the same names and meaning: the two image
 * folders, the output folder and resume, the network size, the crops, the seed, snapshots and
 * the backend. Each command adds its own (train: --iters, --batch-size, --threads; distill:
 * --model, --iterations, --gan-weight).
 */
export const RUN_OPTIONS = {
  a: { type: 'string' },
  b: { type: 'string' },
  out: { type: 'string' },
  preset: { type: 'string' },
  ngf: { type: 'string' },
  blocks: { type: 'string' },
  'load-size': { type: 'string' },
  'crop-size': { type: 'string' },
  'no-flip': { type: 'boolean' },
  seed: { type: 'string' },
  'save-every': { type: 'string' },
  resume: { type: 'boolean' },
  'stop-at': { type: 'string' },
  backend: { type: 'string' },
} as const;

export interface RunKind {
  /** What the folder holds, for messages: "training run", "distillation". */
  noun: string;
  /** The JSON state file that marks a resumable run. */
  stateFile: string;
  /** The command that makes such a folder, for the hint on a foreign folder. */
  maker: string;
}

/** What is in `out` before we start: nothing, a run to resume, or something we must not touch. */
export function inspectRunDir(out: string, resume: boolean, kind: RunKind): 'fresh' | 'resume' {
  if (!existsSync(out)) {
    if (resume) throw new CliError(`--resume: ${out} does not exist`);
    return 'fresh';
  }
  if (!statSync(out).isDirectory()) throw new CliError(`--out ${out} is a file, not a folder`);
  if (readdirSync(out).length === 0) {
    if (resume) throw new CliError(`--resume: ${out} is empty: there is no ${kind.noun} to resume`);
    return 'fresh';
  }
  const hasState = existsSync(`${out}/${kind.stateFile}`) && existsSync(`${out}/${MANIFEST_FILE}`);
  if (!resume) {
    if (hasState) throw new CliError(`--out ${out} already holds a ${kind.noun}: pass --resume to continue it, or choose another folder`);
    throw new CliError(`--out ${out} is not empty: choose a new or empty folder`);
  }
  if (!hasState) throw new CliError(`--resume: ${out} holds no ${kind.noun} state (${kind.stateFile}); was it made by ${kind.maker}?`);
  return 'resume';
}

/** The files a domain used, names and pixels hashed: resuming on changed folders would not be the same run. */
export function digestOf(dom: Domain, dir: string): { count: number; digest: string } {
  const h = createHash('sha256');
  dom.paths.forEach((p, i) => h.update(relative(dir, p) + '\n').update(dom.images[i]));
  return { count: dom.paths.length, digest: h.digest('hex').slice(0, 16) };
}

/**
 * Collects the options a resume was given that disagree with the saved run, and refuses them all
 * in one message: `check('--seed', given, saved)` ignores options that were not given.
 */
export class ResumeCheck {
  private readonly diffs: string[] = [];
  constructor(private readonly holder: string) {}

  check(flag: string, given: unknown, have: unknown): void {
    if (given !== undefined && given !== have) this.diffs.push(`${flag} ${given} (${this.holder} has ${have})`);
  }

  /** A difference that is not one flag's value (e.g. a preset that expands to another config). */
  add(difference: string): void {
    this.diffs.push(difference);
  }

  /** Throws when anything disagreed; `what` names the saved thing: "a different run". */
  finish(out: string, what: string): void {
    if (this.diffs.length) throw new CliError(`--resume: ${out} holds ${what}: ${this.diffs.join('; ')}`);
  }
}
