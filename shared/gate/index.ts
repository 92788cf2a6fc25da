/**
 * The quality gate's instruments: a plain-TypeScript generator forward, the validation-set file
 * format, discriminator-free metrics and the verdict. No Node, DOM or TF.js APIs: runs in a
 * Cloudflare Worker / Durable Object. docs/gate.md explains the metrics and tolerances.
 */
export * from './forward.ts';
export * from './validation-set.ts';
export * from './metrics.ts';
export * from './judge.ts';
