/**
 * Adam exactly as PyTorch's `torch.optim.Adam` (1.x, weight_decay 0, amsgrad off), which the
 * reference trains with:
 *
 *     m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²          t ← t + 1
 *     p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
 *
 * ε is added to √v̂ after the bias correction. TF.js's `tf.train.adam` folds the correction
 * into the step size and adds ε to the uncorrected √v, which differs early in training (the
 * first steps, exactly when a contribution from a fresh round is made), so it is not used.
 *
 * The state of every parameter (m, v and its step count t) exports to and imports from plain
 * Float32Arrays, so a checkpoint resumes training exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /**
   * False leaves the first moment uncorrected (m instead of m / (1 − β1ᵗ)): the first steps are
   * (1 − β1ᵗ) times shorter, a built-in warm-up. Default true (PyTorch's Adam).
   */
  correctFirstMoment?: boolean;
  /** 'sgd' turns the update into plain SGD, p ← p − lr·g (moments kept but unused). Default 'adam'. */
  rule?: 'adam' | 'sgd';
}

/** The paper's settings: lr 2e-4, β1 0.5 (not PyTorch's default 0.9), β2 0.999, PyTorch's ε. */
export const CYCLEGAN_ADAM: AdamConfig = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 };

/** One parameter's optimizer state as plain arrays. */
export interface AdamSlot {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export type AdamState = Record<string, AdamSlot>;

interface Slot {
  step: number;
  m: Variable;
  v: Variable;
}

export class Adam {
  private readonly slots = new Map<string, Slot>();

  constructor(
    /** The parameters it updates, by name. It does not own them. */
    private readonly params: Record<string, Variable>,
    readonly config: AdamConfig = CYCLEGAN_ADAM,
  ) {
    for (const [name, p] of Object.entries(params)) {
      this.slots.set(name, { step: 0, m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false) });
    }
  }

  /**
   * One update of every parameter that has a gradient, at learning rate `lr` (the schedule's
   * value; defaults to the configured one). Gradients are not consumed.
   */
  step(grads: Record<string, Tensor>, lr = this.config.lr): void {
    const { beta1, beta2, eps } = this.config;
    const correct1 = this.config.correctFirstMoment ?? true;
    const sgd = this.config.rule === 'sgd';
    for (const name of Object.keys(grads)) {
      if (!this.slots.has(name)) throw new Error(`adam: gradient for unknown parameter "${name}"`);
    }
    tf.tidy(() => {
      for (const [name, g] of Object.entries(grads)) {
        const slot = this.slots.get(name)!;
        const p = this.params[name];
        slot.step += 1;
        const t = slot.step;
        if (sgd) {
          p.assign(tf.sub(p, tf.mul(g, lr)));
          continue;
        }
        const m = tf.add(tf.mul(slot.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        const stepSize = correct1 ? lr / (1 - beta1 ** t) : lr;
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(1 - beta2 ** t)), eps);
        slot.m.assign(m);
        slot.v.assign(v);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }

  /** The state of every parameter, as arrays (read asynchronously, so it works on GPU backends). */
  async exportState(): Promise<AdamState> {
    const out: AdamState = {};
    for (const [name, s] of this.slots) {
      out[name] = { step: s.step, m: (await s.m.data()) as Float32Array, v: (await s.v.data()) as Float32Array };
    }
    return out;
  }

  /** Throws, naming the problem, unless `state` fits these parameters. */
  validateState(state: AdamState): void {
    if (typeof state !== 'object' || state === null) throw new Error('adam state: must be an object of per-parameter slots');
    const missing = [...this.slots.keys()].filter((n) => !(n in state));
    const unexpected = Object.keys(state).filter((n) => !this.slots.has(n));
    if (missing.length || unexpected.length)
      throw new Error(`adam state: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
    for (const [name, s] of this.slots) {
      const st = state[name];
      const size = s.m.size;
      if (!(st.m instanceof Float32Array) || !(st.v instanceof Float32Array)) throw new Error(`adam state: "${name}" m and v must be Float32Arrays`);
      if (!Number.isInteger(st.step) || st.step < 0) throw new Error(`adam state: "${name}" step must be a non-negative integer, got ${st.step}`);
      if (st.m.length !== size || st.v.length !== size)
        throw new Error(`adam state: "${name}" has ${st.m.length}/${st.v.length} values for m/v, expected ${size}`);
    }
  }

  /** Restores a state from `exportState`; checks every name and size before changing anything. */
  importState(state: AdamState): void {
    this.validateState(state);
    for (const [name, s] of this.slots) {
      const st = state[name];
      s.step = st.step;
      tf.tidy(() => {
        s.m.assign(tf.tensor(st.m, s.m.shape, 'float32'));
        s.v.assign(tf.tensor(st.v, s.v.shape, 'float32'));
      });
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }
}
