/**
 * Turns reference PyTorch ResnetGenerator state_dicts (the official CycleGAN release's
 * `latest_net_G.pth`, saved as safetensors) into Stripes generator parameters.
 *
 * The official release ships generators only, so this imports generators only; the resulting
 * checkpoint's discriminator config is the paper's default, ready for training to add D_A/D_B.
 */
import { PRESETS, type GeneratorConfig, type ModelConfig } from '../model/config.ts';
import { generatorParamSpecs } from '../model/param-specs.ts';
import type { NetworkParams } from './checkpoint.ts';

export class TorchImportError extends Error {
  override name = 'TorchImportError';
}

/** What readSafetensors gives: a shape in PyTorch layout and float32 values. */
export interface TorchTensor {
  shape: number[];
  data: Float32Array;
}

// Old PyTorch saved running stats for InstanceNorm; the reference drops them on load
// (`__patch_instance_norm_state_dict` in models/base_model.py), and so do we.
const IGNORED = /\.(running_mean|running_var|num_batches_tracked)$/;

const BLOCK_KEY = /^model\.(\d+)\.conv_block\./;

/** ngf from the stem conv's shape, blocks from the distinct residual-block indices. */
export function inferGeneratorConfig(tensors: Map<string, TorchTensor>, what = 'state_dict'): GeneratorConfig {
  const stem = tensors.get('model.1.weight');
  if (!stem) {
    const keys = [...tensors.keys()];
    const shown = keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, … (${keys.length} keys)` : '');
    throw new TorchImportError(
      `${what}: no "model.1.weight", so not a reference ResnetGenerator state_dict (it has ${shown || 'no tensors'})`,
    );
  }
  const s = stem.shape;
  if (s.length !== 4 || s[1] !== 3 || s[2] !== 7 || s[3] !== 7 || s[0] < 1)
    throw new TorchImportError(`${what}: "model.1.weight" has shape [${s}], expected [ngf, 3, 7, 7] (the 7×7 RGB stem conv)`);
  const blocks = new Set<number>();
  for (const k of tensors.keys()) {
    const m = BLOCK_KEY.exec(k);
    if (m) blocks.add(Number(m[1]));
  }
  return { ngf: s[0], nBlocks: blocks.size };
}

/** [a, b, kh, kw] → [kh, kw, b, a]: conv `[out,in,…]`→`[…,in,out]` and ConvTranspose `[in,out,…]`→`[…,out,in]` alike. */
function fromTorchLayout(src: Float32Array, [a, b, kh, kw]: number[]): Float32Array {
  const dst = new Float32Array(src.length);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) dst[((y * kw + x) * b + j) * a + i] = src[((i * b + j) * kh + y) * kw + x];
  return dst;
}

/** The PyTorch shape a Stripes spec shape comes from (inverse of fromTorchLayout's permutation). */
function torchShape(stripes: number[]): number[] {
  if (stripes.length !== 4) return stripes;
  const [kh, kw, b, a] = stripes;
  return [a, b, kh, kw];
}

/** Checks every key and shape against the inferred config and converts to Stripes layout. */
export function torchToStripes(
  tensors: Map<string, TorchTensor>,
  what = 'state_dict',
): { config: GeneratorConfig; params: NetworkParams } {
  const config = inferGeneratorConfig(tensors, what);
  const specs = generatorParamSpecs(config);
  const expected = specs.map((s) => s.name);
  const names = [...tensors.keys()].filter((k) => !IGNORED.test(k));
  const missing = expected.filter((n) => !tensors.has(n));
  const extra = names.filter((n) => !expected.includes(n));
  if (missing.length || extra.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (extra.length) parts.push(`unexpected ${extra.join(', ')}`);
    throw new TorchImportError(
      `${what}: keys do not match a ResnetGenerator with ngf ${config.ngf} and ${config.nBlocks} blocks: ${parts.join('; ')} (expected ${expected.join(', ')})`,
    );
  }
  const params: NetworkParams = {};
  for (const spec of specs) {
    const t = tensors.get(spec.name)!;
    const want = torchShape(spec.shape);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      throw new TorchImportError(
        `${what}: "${spec.name}" has shape [${t.shape}], expected [${want}] for ngf ${config.ngf} (inconsistent shapes)`,
      );
    params[spec.name] = spec.kind === 'bias' ? new Float32Array(t.data) : fromTorchLayout(t.data, t.shape);
  }
  return { config, params };
}

/**
 * Imports G_AB and optionally G_BA; both must be the same architecture, since a checkpoint has
 * one config. Returns what encodeCheckpoint takes.
 */
export function importTorchGenerators(
  ab: { tensors: Map<string, TorchTensor>; what: string },
  ba?: { tensors: Map<string, TorchTensor>; what: string },
): { config: ModelConfig; networks: { G_AB: NetworkParams; G_BA?: NetworkParams } } {
  const a = torchToStripes(ab.tensors, ab.what);
  const networks: { G_AB: NetworkParams; G_BA?: NetworkParams } = { G_AB: a.params };
  if (ba) {
    const b = torchToStripes(ba.tensors, ba.what);
    if (b.config.ngf !== a.config.ngf || b.config.nBlocks !== a.config.nBlocks)
      throw new TorchImportError(
        `${ba.what} (G_BA) has ngf ${b.config.ngf} and ${b.config.nBlocks} blocks but ${ab.what} (G_AB) has ngf ${a.config.ngf} and ${a.config.nBlocks}: both generators of a pair must share one architecture`,
      );
    networks.G_BA = b.params;
  }
  return { config: { generator: a.config, discriminator: { ...PRESETS.full.discriminator } }, networks };
}
