/**
 * `stripes import-torch`: official (or any reference-layout) PyTorch generators, saved as
 * safetensors, into a Stripes checkpoint folder. Every input is read and checked before
 * anything is written, and the folder is written atomically.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { paramCount, generatorParamSpecs } from '../../shared/model/param-specs.ts';
import { encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';
import { importTorchGenerators } from '../../shared/weights/torch-import.ts';
import { writeCheckpointDir } from '../checkpoint-dir.ts';
import { parseCommandArgs, required, type Command } from '../command.ts';
import { CliError } from '../errors.ts';

const NAME = 'import-torch';

const usage = `usage: stripes import-torch <G_AB.safetensors> [<G_BA.safetensors>] --out DIR [--force]

Imports reference CycleGAN ResnetGenerator weights (PyTorch state_dicts saved as safetensors,
F32 or F16, keys like model.1.weight, model.10.conv_block.1.weight) into a Stripes checkpoint:
DIR/manifest.json and DIR/shards/<sha256>. ngf and the number of residual blocks are read from
the shapes. G_AB translates A→B (the reference's netG_A, file latest_net_G_A.pth); G_BA is
optional (netG_B). Discriminators are not part of the official release and are not imported.

Convert a .pth once with Python (torch and safetensors installed):
  python -c "import torch,safetensors.torch as s;s.save_file(torch.load('latest_net_G.pth',map_location='cpu'),'G_AB.safetensors')"

Options:
  --out DIR   the checkpoint folder to create (written atomically; must not exist or be empty)
  --force     replace DIR if it already holds a Stripes checkpoint`;

async function readTensors(path: string) {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`);
  }
  return { tensors: readSafetensors(bytes, path).tensors, what: path };
}

export const command: Command = {
  name: NAME,
  summary: 'import reference PyTorch generators (safetensors) as a Stripes checkpoint',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      NAME,
      argv,
      { out: { type: 'string' }, force: { type: 'boolean', default: false } },
      { min: 1, max: 2, names: '<G_AB.safetensors> [<G_BA.safetensors>]' },
    );
    const out = required(NAME, 'out', values.out);
    const [abPath, baPath] = positionals;
    const ab = await readTensors(abPath);
    const ba = baPath === undefined ? undefined : await readTensors(baPath);
    const { config, networks } = importTorchGenerators(ab, ba);
    const meta = {
      source: 'stripes import-torch',
      // The reference's published weights finished their schedule: rounds fine-tune them.
      converged: true,
      files: Object.fromEntries(Object.entries({ G_AB: abPath, G_BA: baPath }).filter(([, p]) => p).map(([k, p]) => [k, basename(p!)])),
    };
    const ckpt = await encodeCheckpoint(config, networks, { meta });
    await writeCheckpointDir(out, ckpt, { replace: values.force });
    const nets = Object.keys(networks).join(' and ');
    const params = paramCount(generatorParamSpecs(config.generator));
    process.stdout.write(
      `wrote ${out}: ${nets}, ngf ${config.generator.ngf}, ${config.generator.nBlocks} blocks, ${params.toLocaleString('en')} parameters each, ${ckpt.shards.size} shards (float32 + float16)\n`,
    );
  },
};
