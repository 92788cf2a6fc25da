/**
 * `stripes contribute`: a headless contributor to a pair's community training rounds (a GPU box
 * or a laptop). Each round: lease → fetch the base version → K local steps of the shared
 * training step on the images in --a and --b (which never leave this machine) → upload the
 * float16 delta → commit. The protocol is shared/rounds/client.ts, the same code the browser runs.
 */
import type { NetworkName } from '../../shared/model/config.ts';
import { describeOutcome, waitForOutcome } from '../../shared/rounds/outcome.ts';
import { contributeRound, RoundClientError, type RoundSummary, type RoundTrainer, type Weights } from '../../shared/rounds/client.ts';
import type { Lease } from '../../shared/rounds/protocol.ts';
import { parseCommandArgs, required, type Command } from '../command.ts';
import { CliError, usageError } from '../errors.ts';
import { ProgressBar } from '../progress.ts';
import { loadDomain, type Domain } from '../train/data.ts';
import { ApiClient, createToken } from '../remote.ts';
import { isNodeBackend, NODE_BACKENDS, type NodeBackend } from '../tf-backend.ts';
import { defaultTrainThreads, MAX_TRAIN_THREADS } from '../train/threads.ts';

const NAME = 'contribute';

const USAGE = `usage: stripes contribute --server URL --pair SLUG --a DIR --b DIR [--rounds N] [--token T] [--backend wasm|cpu] [--threads N] [--seed N]

Lends this machine to a pair's community training: takes a lease, trains the pair's four networks
for the round's K steps on the images in --a and --b (they never leave this machine), uploads the
change (local − base) as float16 shards and commits it. Repeats for --rounds rounds (default 1).

  --server URL    the Stripes server, e.g. http://127.0.0.1:8787
  --pair SLUG     the pair to train
  --a DIR         images of domain A        --b DIR   images of domain B
  --rounds N      rounds to contribute to (default 1)
  --token T       API token (default: $STRIPES_TOKEN, else a new one is made)
  --backend B     TF.js backend: ${NODE_BACKENDS.join(' or ')} (default wasm)
  --threads N     cores to train on (default 2 on wasm with 2+ cores, else 1; at most
                  ${MAX_TRAIN_THREADS}; wasm only). Every step is split across N worker threads; the
                  uploaded change and the losses are identical, bit for bit, to --threads 1
  --seed N        seed for cropping, flipping and the fake pools (default 1)
  --wait S        after committing, wait up to S seconds to learn whether the round's result passed
                  the quality gate and became the pair's current version (default 120; 0: don't wait)`;


function positiveInt(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError(NAME, `--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Trains with the project's training step from the lease's base and settings, with fresh Adam
 * state each round (DiLoCo's inner optimizer). Heavy imports stay inside so `stripes help` is fast.
 */
export type DomainLoader = (loadSize: number) => { A: Domain; B: Domain };

/** Reads --a and --b at a load size (once per size). */
export function folderDomains(dirs: { a: string; b: string }, log: (m: string) => void): DomainLoader {
  return (loadSize) => ({ A: loadDomain(dirs.a, '--a', loadSize, undefined, log), B: loadDomain(dirs.b, '--b', loadSize, undefined, log) });
}

export async function tfTrainer(load: DomainLoader, backend: NodeBackend, seed: number, threads = 1): Promise<RoundTrainer> {
  if (threads > 1 && backend !== 'wasm') throw new Error(`training on ${threads} threads needs the wasm backend, not ${backend}`);
  const [{ useBackend }, sampling, { Rng }, lease, { threadedLeaseStepper }] = await Promise.all([
    import('../tf-backend.ts'),
    import('../../shared/train/sampling.ts'),
    import('../../shared/train/rng.ts'),
    import('../../shared/rounds/lease-training.ts'),
    import('../train/lease-stepper.ts'),
  ]);
  await useBackend(backend);
  // Each lease's steps: on this thread, or split across worker threads with the same results.
  const stepper = threadedLeaseStepper(threads);
  const rng = new Rng(seed);
  const domains = new Map<number, { A: Domain; B: Domain }>();
  let leases = 0;

  return async (base: Weights, l: Lease, onStep, config) => {
    const t = l.train;
    const loadSize = lease.loadSizeFor(t);
    let dom = domains.get(loadSize);
    if (!dom) {
      dom = load(loadSize);
      domains.set(loadSize, dom);
    }
    const { A, B } = dom;
    const sampler = new sampling.UnalignedSampler(A.images.length, B.images.length, rng);
    const batches = { next: (n: number, crop: number) => sampling.nextBatch(A, B, sampler, rng, { loadSize, cropSize: crop, flip: true }, n) };
    try {
      // The pools' stream: from --seed and how many leases this process has trained, so reruns repeat.
      return await lease.trainLease({ config, base, train: t, batches, seed: (seed * 7919 + ++leases) >>> 0, onStep: (r) => onStep(r.step, r.losses), stepper });
    } catch (e) {
      if (e instanceof lease.LeaseDiverged) throw new CliError(`round ${l.round}: ${e.message}`);
      throw e;
    }
  };
}

function summaryLine(s: RoundSummary, seconds: number): string {
  const losses = Object.entries(s.losses)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(' ');
  const norms = (Object.keys(s.norms) as NetworkName[]).map((n) => `${n} ${s.norms[n].toExponential(2)}`).join(', ');
  return (
    `round ${s.round}: ${s.steps} steps on version ${s.baseVersion} in ${seconds.toFixed(1)} s; mean losses ${losses}; ` +
    `‖δ‖ ${norms}; uploaded ${(s.uploadedBytes / 2 ** 20).toFixed(2)} MiB; ${s.receipt.repeated ? 'already ' : ''}accepted (${s.receipt.committed} of ${s.receipt.quorum.max} for this round)`
  );
}

export const command: Command = {
  name: NAME,
  summary: "train a pair's networks in its community rounds on local images",
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandArgs(
      NAME,
      argv,
      {
        server: { type: 'string' },
        pair: { type: 'string' },
        a: { type: 'string' },
        b: { type: 'string' },
        rounds: { type: 'string' },
        token: { type: 'string' },
        backend: { type: 'string' },
        seed: { type: 'string' },
        threads: { type: 'string' },
        wait: { type: 'string' },
      },
      { min: 0, max: 0, names: 'no positional arguments' },
    );
    const server = required(NAME, 'server', values.server);
    const slug = required(NAME, 'pair', values.pair);
    const a = required(NAME, 'a', values.a);
    const b = required(NAME, 'b', values.b);
    const rounds = positiveInt('rounds', values.rounds, 1);
    const seed = positiveInt('seed', values.seed, 1);
    const wait = values.wait === undefined ? 120_000 : values.wait === '0' ? 0 : positiveInt('wait', values.wait, 120) * 1000;
    const backend = values.backend ?? 'wasm';
    if (!isNodeBackend(backend)) throw usageError(NAME, `--backend must be ${NODE_BACKENDS.join(' or ')}, got ${JSON.stringify(backend)}`);
    const threads = positiveInt('threads', values.threads, defaultTrainThreads(backend));
    if (threads > MAX_TRAIN_THREADS) throw usageError(NAME, `--threads must be at most ${MAX_TRAIN_THREADS}, got ${threads}`);
    if (threads > 1 && backend !== 'wasm') throw usageError(NAME, `--threads ${threads} needs --backend wasm (the cpu backend trains on one thread)`);
    const log = (m: string) => process.stderr.write(m + '\n');

    let client = new ApiClient(server, values.token ?? process.env.STRIPES_TOKEN);
    if (!client.token) {
      const t = await createToken(client, 'stripes contribute');
      client = new ApiClient(server, t.token);
      log(`made a new API token (id ${t.id}); pass --token ${t.token} to keep contributing under it`);
    }
    const trainer = await tfTrainer(folderDomains({ a, b }, log), backend, seed, threads);

    for (let r = 1; r <= rounds; r++) {
      let bar: ProgressBar | null = null;
      const started = performance.now();
      let summary: RoundSummary;
      try {
        summary = await contributeRound({
          server: client.server,
          slug,
          token: client.token!,
          trainer,
          name: 'stripes contribute',
          onEvent: (e) => {
            if (e.kind === 'leased') {
              log(`round ${e.lease.round}: leased ${e.lease.lease} on version ${e.lease.baseVersion}, ${e.lease.train.steps} steps at lr ${e.lease.train.lr.toExponential(2)}, deadline ${new Date(e.lease.deadline).toISOString()}`);
              bar = new ProgressBar({ total: e.lease.train.steps, unit: 'step', label: `round ${e.lease.round}` });
            } else if (e.kind === 'step') {
              bar?.setDetail(`G_A ${e.losses.G_A?.toFixed(3)} cycle_A ${e.losses.cycle_A?.toFixed(3)} D_A ${e.losses.D_A?.toFixed(3)}`);
              bar?.tick();
            } else if (e.kind === 'uploaded' && e.index === 0 && e.network === 'G_AB') {
              bar?.done();
              bar = null;
            }
          },
        });
      } catch (e) {
        (bar as ProgressBar | null)?.done();
        if (e instanceof RoundClientError) throw new CliError(e.message);
        throw e;
      }
      log(summaryLine(summary, (performance.now() - started) / 1000));
      if (wait > 0) {
        log(`waiting up to ${Math.round(wait / 1000)} s for round ${summary.round} to close and its result to pass the quality gate…`);
        const outcome = await waitForOutcome({ server: client.server, slug, token: client.token!, lease: summary.lease, timeoutMs: wait });
        log(`round ${summary.round}: ${describeOutcome(outcome)}`);
      }
    }
    return 0;
  },
};
