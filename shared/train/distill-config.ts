/** The distillation's loss weights, without TF.js (the CLI's help text shows them). See ./distill.ts. */
export interface DistillWeights {
  /** L1 between the student's and the teacher's translation (10, GAN Compression's λ_recon). */
  pixel: number;
  /** LSGAN term against the (trained-on) teacher discriminator (1; 0 turns discriminators off). */
  gan: number;
}
export const DISTILL_WEIGHTS: DistillWeights = { pixel: 10, gan: 1 };
