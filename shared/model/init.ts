/**
 * Fresh network parameters as the reference initialises them (init_type 'normal', gain 0.02):
 * conv and transposed-conv weights from N(0, 0.02²), biases zero.
 *
 * Drawn from a small seeded generator (mulberry32 + Box–Muller) rather than tf.randomNormal,
 * so the same seed gives the same weights in Node and in every browser and backend: a
 * community round can start all contributors from one seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { ParamSpec } from './param-specs.ts';

export const INIT_STD = 0.02;

/** mulberry32: a 32-bit state PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws by Box–Muller, both values of each pair used. */
export function normalStream(seed: number): () => number {
  const uniform = mulberry32(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u1 = 1 - uniform(); // (0, 1]: log stays finite
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

/** The initial values of each parameter, in spec order, from one stream seeded by `seed`. */
export function initValues(specs: ParamSpec[], seed: number, std = INIT_STD): Map<string, Float32Array> {
  if (!Number.isInteger(seed)) throw new Error(`init seed must be an integer, got ${seed}`);
  const normal = normalStream(seed);
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    const v = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    if (s.kind !== 'bias') for (let i = 0; i < v.length; i++) v[i] = normal() * std;
    out.set(s.name, v);
  }
  return out;
}

/** Tensors for a fresh network; the caller owns (and disposes) them. */
export function initNetwork(specs: ParamSpec[], seed: number): Record<string, Tensor> {
  const params: Record<string, Tensor> = {};
  const specByName = new Map(specs.map((s) => [s.name, s]));
  for (const [name, v] of initValues(specs, seed)) params[name] = tf.tensor(v, specByName.get(name)!.shape, 'float32');
  return params;
}
