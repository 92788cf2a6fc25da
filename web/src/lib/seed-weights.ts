/**
 * A fresh pair's first version, made in the browser: all four networks initialised as the
 * reference initialises them (shared/model/init.ts: N(0, 0.02²) weights, zero biases, from one
 * seed), encoded like any checkpoint and published with the shared publish code, so round 1 can
 * train it from the Contribute page. Loaded on demand: it brings the TF.js core with it.
 */
import { NETWORKS, presetConfig, type PresetName } from '../../../shared/model/config.ts';
import { initValues } from '../../../shared/model/init.ts';
import type { RoundConfigPatch } from '../../../shared/rounds/protocol.ts';
import { encodeCheckpoint, type EncodedCheckpoint } from '../../../shared/weights/checkpoint.ts';
import { specsFor } from '../../../shared/weights/manifest.ts';
import { putRoundConfig } from './api.ts';
import { publishCheckpoint } from './publish.ts';

/** The presets a browser can train: `full` takes hours per round on a laptop. */
export const SEED_PRESETS = ['small', 'tiny'] as const satisfies readonly PresetName[];
export type SeedPreset = (typeof SEED_PRESETS)[number];

/**
 * Round settings a browser contributor can finish in minutes, as the demo pair uses: 20 steps on
 * 64×64 crops, and one contribution makes a version. The owner can change them later.
 */
export const BROWSER_ROUND: RoundConfigPatch = { train: { steps: 20, cropSize: 64, batchSize: 1 }, quorum: { min: 1, max: 1 } };

export async function seededCheckpoint(preset: SeedPreset, seed: number): Promise<EncodedCheckpoint> {
  const config = presetConfig(preset);
  // One seed per network, as the CLI's fresh training does (seed, seed+1, …).
  const nets = Object.fromEntries(NETWORKS.map((net, i) => [net, Object.fromEntries(initValues(specsFor(net, config), seed + i))]));
  return encodeCheckpoint(config, nets, { meta: { source: 'init', preset, seed, createdWith: 'web' } });
}

/** Publishes freshly initialised weights as the pair's next version and sets browser-sized rounds; returns the version number. */
export async function seedFirstVersion(
  slug: string,
  preset: SeedPreset,
  token: string,
  onProgress: (sent: number, total: number) => void,
): Promise<number> {
  const ckpt = await seededCheckpoint(preset, (Math.random() * 0x7fffffff) >>> 0);
  const n = await publishCheckpoint(slug, ckpt, token, onProgress);
  await putRoundConfig(slug, BROWSER_ROUND, token);
  return n;
}
