/**
 * Collaborative vs solo (issue 5): the same total number of local steps spent by N contributors
 * over rounds (the worker's aggregation: clipped mean of float16 deltas + DiLoCo outer Nesterov)
 * and by one solo trainer holding all of their data, both from the same initial model, on the
 * tiny known-mapping task of test/rounds/simulate.ts. Prints both distances to the truth (mean
 * |G_AB(a) − truth(a)| on held-out images, [-1, 1] units) and the collaborative/solo ratio; the
 * issue's goal is a ratio ≤ 1.10.
 *
 *   node cli/run-ts.mjs scripts/rounds-collab-vs-solo.ts [--contributors 4] [--rounds 5] [--steps 16] [--crop 32] [--seed 3] [--backend wasm|cpu]
 *
 * It is a script rather than a test because 4 contributors plus the solo run cost about four
 * times the CI simulation (test/unit/rounds-simulation.test.ts, 2 contributors).
 */
import { parseArgs } from 'node:util';
import { useBackend } from '../cli/tf-backend.ts';
import { COLLAB_VS_SOLO, dataset, simulate, solo } from '../test/rounds/simulate.ts';

const { values } = parseArgs({
  options: {
    contributors: { type: 'string', default: String(COLLAB_VS_SOLO.contributors) },
    rounds: { type: 'string', default: String(COLLAB_VS_SOLO.rounds) },
    steps: { type: 'string', default: String(COLLAB_VS_SOLO.steps) },
    crop: { type: 'string', default: String(COLLAB_VS_SOLO.crop) },
    seed: { type: 'string', default: String(COLLAB_VS_SOLO.seed) },
    backend: { type: 'string', default: 'wasm' },
  },
});
const int = (name: keyof typeof values, min: number) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${values[name]}`);
  return n;
};
const o = { contributors: int('contributors', 1), rounds: int('rounds', 1), steps: int('steps', 1), crop: int('crop', 16), seed: int('seed', 1) };
const backend = values.backend;
if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend must be wasm or cpu, got ${backend}`);
await useBackend(backend);

const heldOut = dataset(99, 4, o.crop).A.images;
const total = o.contributors * o.rounds * o.steps;
console.log(`${o.contributors} contributors × ${o.rounds} rounds × ${o.steps} steps = ${total} local steps vs 1 solo trainer × ${total} steps (tiny preset, crop ${o.crop}, seed ${o.seed}, ${backend})`);

let t0 = performance.now();
const collab = await simulate({ ...o, heldOut, backend });
console.log(`collaborative, by round: ${collab.distances.map((d) => d.toFixed(4)).join(' → ')} (${((performance.now() - t0) / 1000).toFixed(0)} s; largest ‖δ‖/bound ${collab.maxBoundRatio.toFixed(3)})`);

t0 = performance.now();
const alone = await solo({ contributors: o.contributors, steps: total, crop: o.crop, seed: o.seed, heldOut, backend });
console.log(`solo: ${collab.distances[0].toFixed(4)} → ${alone.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);

const final = collab.distances.at(-1)!;
const ratio = final / alone;
console.log(`distance to truth: collaborative ${final.toFixed(4)}, solo ${alone.toFixed(4)}; ratio ${ratio.toFixed(3)} (goal ≤ 1.10: ${ratio <= 1.1 ? 'met' : 'not met'})`);
