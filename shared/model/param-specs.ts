/**
 * The parameters of each network: names, shapes and roles, in the order of the reference's
 * PyTorch `state_dict`. Everything that stores, imports or aggregates weights walks these lists,
 * so the names are the reference's keys (`model.1.weight`, `model.10.conv_block.1.weight`, …)
 * and an official checkpoint maps onto them one to one.
 *
 * Layout in Stripes (TF.js, NHWC): a conv weight is `[kh, kw, in, out]`; a transposed-conv
 * weight is `[kh, kw, out, in]` (TF.js `conv2dTranspose`'s filter); biases are `[out]`.
 * PyTorch stores conv weights as `[out, in, kh, kw]` and ConvTranspose weights as
 * `[in, out, kh, kw]`; `torchToStripes` in shared/weights converts.
 */
import type { DiscriminatorConfig, GeneratorConfig } from './config.ts';

/** `depthwise`: a depthwise conv weight `[kh, kw, channels, 1]` (the student's; PyTorch `[channels, 1, kh, kw]`). */
export type ParamKind = 'conv' | 'convTranspose' | 'depthwise' | 'bias';

export interface ParamSpec {
  /** The reference's state_dict key. */
  name: string;
  /** Shape in Stripes layout. */
  shape: number[];
  kind: ParamKind;
}

function conv(name: string, k: number, cin: number, cout: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [k, k, cin, cout], kind: 'conv' },
    { name: `${name}.bias`, shape: [cout], kind: 'bias' },
  ];
}

function convT(name: string, k: number, cin: number, cout: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [k, k, cout, cin], kind: 'convTranspose' },
    { name: `${name}.bias`, shape: [cout], kind: 'bias' },
  ];
}

/**
 * Index of each layer in the reference ResnetGenerator's `nn.Sequential` (no dropout, instance
 * norm so every conv has a bias). Pads, norms and activations hold no parameters but take an index.
 */
export function generatorLayout(cfg: Pick<GeneratorConfig, 'nBlocks'>) {
  const n = cfg.nBlocks;
  return {
    stem: 1, // ReflectionPad(3) at 0, Conv7x7 at 1, IN 2, ReLU 3
    down: [4, 7], // Conv3x3 s2 at 4 and 7
    blocks: Array.from({ length: n }, (_, i) => 10 + i), // ResnetBlock at 10..10+n-1
    up: [10 + n, 13 + n], // ConvTranspose3x3 s2 at 10+n and 13+n
    head: 17 + n, // ReflectionPad(3) at 16+n, Conv7x7 at 17+n, Tanh 18+n
  };
}

export function generatorParamSpecs(cfg: GeneratorConfig): ParamSpec[] {
  const { ngf } = cfg;
  const L = generatorLayout(cfg);
  const specs: ParamSpec[] = [...conv(`model.${L.stem}`, 7, 3, ngf)];
  specs.push(...conv(`model.${L.down[0]}`, 3, ngf, 2 * ngf));
  specs.push(...conv(`model.${L.down[1]}`, 3, 2 * ngf, 4 * ngf));
  for (const b of L.blocks) {
    specs.push(...conv(`model.${b}.conv_block.1`, 3, 4 * ngf, 4 * ngf));
    specs.push(...conv(`model.${b}.conv_block.5`, 3, 4 * ngf, 4 * ngf));
  }
  specs.push(...convT(`model.${L.up[0]}`, 3, 4 * ngf, 2 * ngf));
  specs.push(...convT(`model.${L.up[1]}`, 3, 2 * ngf, ngf));
  specs.push(...conv(`model.${L.head}`, 7, ngf, 3));
  return specs;
}

/** One conv of the reference NLayerDiscriminator: its Sequential index, channels and stride. */
export interface DiscriminatorLayer {
  index: number;
  cin: number;
  cout: number;
  stride: number;
  /** Instance norm after the conv (every layer but the first and the last). */
  norm: boolean;
  /** LeakyReLU(0.2) after the conv (every layer but the last). */
  act: boolean;
}

export function discriminatorLayers(cfg: DiscriminatorConfig): DiscriminatorLayer[] {
  const { ndf, nLayers } = cfg;
  const layers: DiscriminatorLayer[] = [{ index: 0, cin: 3, cout: ndf, stride: 2, norm: false, act: true }];
  let index = 2;
  let mult = 1;
  for (let n = 1; n < nLayers; n++) {
    const prev = mult;
    mult = Math.min(2 ** n, 8);
    layers.push({ index, cin: ndf * prev, cout: ndf * mult, stride: 2, norm: true, act: true });
    index += 3;
  }
  const prev = mult;
  mult = Math.min(2 ** nLayers, 8);
  layers.push({ index, cin: ndf * prev, cout: ndf * mult, stride: 1, norm: true, act: true });
  index += 3;
  layers.push({ index, cin: ndf * mult, cout: 1, stride: 1, norm: false, act: false });
  return layers;
}

export function discriminatorParamSpecs(cfg: DiscriminatorConfig): ParamSpec[] {
  return discriminatorLayers(cfg).flatMap((l) => conv(`model.${l.index}`, 4, l.cin, l.cout));
}

export function paramCount(specs: ParamSpec[]): number {
  return specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}
