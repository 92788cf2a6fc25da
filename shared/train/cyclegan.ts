/**
 * The trainable state of a CycleGAN pair: the four networks' variables and the two optimizers.
 *
 * The paper's names and the code's, written down once (see also shared/model/config.ts):
 *
 *   paper  Stripes  reference  role
 *   G      G_AB     netG_A     translates A → B
 *   F      G_BA     netG_B     translates B → A
 *   D_Y    D_B      netD_A     judges domain B: real B vs G(a)
 *   D_X    D_A      netD_B     judges domain A: real A vs F(b)
 *
 * Optimizers follow the reference (cycle_gan_model.py): one Adam over both generators' parameters
 * and ONE Adam over both discriminators' parameters. Adam keeps its moments and step count per
 * parameter, so one optimizer over two networks is the same as one per network stepped together.
 *
 * Weights and optimizer state come out and go back in as Float32Arrays keyed by network and
 * parameter name (the reference's state_dict keys), for checkpoints, exact resumes and the
 * deltas of community rounds. Backend-free: runs wherever TF.js runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import {
  DISCRIMINATORS,
  GENERATORS,
  NETWORKS,
  discriminatorParamSpecs,
  generatorParamSpecs,
  initValues,
  validateModelConfig,
  type ModelConfig,
  type NetworkName,
  type ParamSpec,
} from '../model/index.ts';
import { registerWasmTrainingKernels } from '../tfjs/wasm-kernels.ts';
import { Adam, CYCLEGAN_ADAM, type AdamConfig, type AdamState } from './adam.ts';

/** Values of every parameter of every network: `weights[net][paramName]`. */
export type NetworkWeights = Record<NetworkName, Record<string, Float32Array>>;

/** Everything needed to continue training exactly where it stopped. */
export interface TrainingState {
  weights: NetworkWeights;
  /** Keys are `${network}/${paramName}`, e.g. `G_AB/model.1.weight`. */
  optimizer: { G: AdamState; D: AdamState };
}

export interface CycleGAN {
  readonly config: ModelConfig;
  /** The variables of each network, by parameter name. */
  readonly nets: Record<NetworkName, Record<string, Variable>>;
  /** Adam over G_AB and G_BA. */
  readonly optG: Adam;
  /** Adam over D_A and D_B (one optimizer, as the reference). */
  readonly optD: Adam;
}

export function specsOf(config: ModelConfig, net: NetworkName): ParamSpec[] {
  return net === 'G_AB' || net === 'G_BA' ? generatorParamSpecs(config.generator) : discriminatorParamSpecs(config.discriminator);
}

/** The optimizer key of a parameter. */
export function slotKey(net: NetworkName, param: string): string {
  return `${net}/${param}`;
}

function checkWeights(config: ModelConfig, weights: NetworkWeights): void {
  for (const net of NETWORKS) {
    const given = weights[net];
    if (!given) throw new Error(`weights: network ${net} is missing`);
    const specs = specsOf(config, net);
    const missing = specs.filter((s) => !(s.name in given)).map((s) => s.name);
    const names = new Set(specs.map((s) => s.name));
    const unexpected = Object.keys(given).filter((n) => !names.has(n));
    if (missing.length || unexpected.length)
      throw new Error(`weights: ${net} is missing [${missing.join(', ')}], has unexpected [${unexpected.join(', ')}]`);
    for (const s of specs) {
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (given[s.name].length !== size) throw new Error(`weights: ${net} ${s.name} has ${given[s.name].length} values, expected ${size} ([${s.shape}])`);
    }
  }
}

/**
 * A new pair: weights from `init.weights` (checked against the config first), or fresh from
 * `init.seed` (normal(0, 0.02), each network from its own derived seed). Also registers the wasm
 * gradient kernels, which training on the 'wasm' backend needs; harmless elsewhere.
 */
export function createCycleGAN(
  config: ModelConfig,
  init: { seed: number } | { weights: NetworkWeights },
  adam: AdamConfig = CYCLEGAN_ADAM,
): CycleGAN {
  const cfg = validateModelConfig(config);
  registerWasmTrainingKernels();
  let values: NetworkWeights;
  if ('weights' in init) {
    checkWeights(cfg, init.weights);
    values = init.weights;
  } else {
    if (!Number.isInteger(init.seed)) throw new Error(`cyclegan: seed must be an integer, got ${init.seed}`);
    values = {} as NetworkWeights;
    NETWORKS.forEach((net, i) => {
      values[net] = Object.fromEntries(initValues(specsOf(cfg, net), (init.seed * 4 + i) | 0));
    });
  }
  const nets = {} as Record<NetworkName, Record<string, Variable>>;
  for (const net of NETWORKS) {
    nets[net] = {};
    for (const s of specsOf(cfg, net)) nets[net][s.name] = tf.variable(tf.tensor(values[net][s.name], s.shape, 'float32'), true);
  }
  const group = (names: readonly NetworkName[]) => {
    const out: Record<string, Variable> = {};
    for (const net of names) for (const [p, v] of Object.entries(nets[net])) out[slotKey(net, p)] = v;
    return out;
  };
  return { config: cfg, nets, optG: new Adam(group(GENERATORS), adam), optD: new Adam(group(DISCRIMINATORS), adam) };
}

/** A network's parameters as the model functions take them. */
export function paramsOf(model: CycleGAN, net: NetworkName): Record<string, Tensor> {
  return model.nets[net];
}

/** Copies of every weight (read asynchronously, so GPU backends work too). */
export async function exportWeights(model: CycleGAN): Promise<NetworkWeights> {
  const out = {} as NetworkWeights;
  for (const net of NETWORKS) {
    out[net] = {};
    for (const [name, v] of Object.entries(model.nets[net])) out[net][name] = (await v.data()) as Float32Array;
  }
  return out;
}

/** Overwrites every weight; checks every network, name and size before changing anything. */
export function importWeights(model: CycleGAN, weights: NetworkWeights): void {
  checkWeights(model.config, weights);
  tf.tidy(() => {
    for (const net of NETWORKS) {
      for (const [name, v] of Object.entries(model.nets[net])) v.assign(tf.tensor(weights[net][name], v.shape, 'float32'));
    }
  });
}

export async function exportTrainingState(model: CycleGAN): Promise<TrainingState> {
  return {
    weights: await exportWeights(model),
    optimizer: { G: await model.optG.exportState(), D: await model.optD.exportState() },
  };
}

/** Restores weights and both optimizers; nothing changes unless all three are valid. */
export function importTrainingState(model: CycleGAN, state: TrainingState): void {
  checkWeights(model.config, state.weights);
  if (!state.optimizer) throw new Error('training state: optimizer is missing');
  model.optG.validateState(state.optimizer.G);
  model.optD.validateState(state.optimizer.D);
  importWeights(model, state.weights);
  model.optG.importState(state.optimizer.G);
  model.optD.importState(state.optimizer.D);
}

export function disposeCycleGAN(model: CycleGAN): void {
  model.optG.dispose();
  model.optD.dispose();
  for (const net of NETWORKS) for (const v of Object.values(model.nets[net])) v.dispose();
}
