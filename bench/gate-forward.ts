/**
 * Milliseconds per image of the Worker-side generator forward (shared/gate/forward.ts) in this
 * Node, for the `small` and `full` presets at 64×64 (the gate's validation size), on random
 * weights (speed does not depend on the values). Single-threaded, like a Durable Object. Reports
 * CPU time of this process (process.cpuUsage), which a busy machine inflates less than wall time.
 *
 *   node cli/run-ts.mjs bench/gate-forward.ts [--reps N] [--side S]
 */
import { macsPerImage, prepareGenerator, runGenerator, type GeneratorParams } from '../shared/gate/forward.ts';
import { PRESETS, type PresetName } from '../shared/model/config.ts';
import { generatorParamSpecs } from '../shared/model/param-specs.ts';
import { Rng } from '../shared/train/rng.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const reps = arg('reps', 3);
const side = arg('side', 64);
const rng = new Rng(1);
for (const preset of ['small', 'full'] as PresetName[]) {
  const cfg = PRESETS[preset].generator;
  const params: GeneratorParams = {};
  for (const s of generatorParamSpecs(cfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    params[s.name] = Float32Array.from({ length: n }, () => (rng.random() - 0.5) * 0.1);
  }
  const g = prepareGenerator(cfg, params);
  const x = Float32Array.from({ length: side * side * 3 }, () => rng.random() * 2 - 1);
  runGenerator(g, x, side, side); // warm-up (JIT)
  const times: number[] = [];
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (let r = 0; r < reps; r++) {
    const t0 = cpu();
    runGenerator(g, x, side, side);
    times.push(cpu() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  const macs = macsPerImage(cfg, side, side);
  console.log(`${preset} (ngf ${cfg.ngf}, ${cfg.nBlocks} blocks) ${side}×${side}: median ${ms.toFixed(1)} ms CPU of ${reps} (min ${times[0].toFixed(1)}), ${(macs / 1e6).toFixed(0)} MMACs, ${(macs / ms / 1e6).toFixed(2)} GMAC/s`);
}
