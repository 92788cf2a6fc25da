/**
 * `stripes validation`: uploads a pair's validation images (owner only). Every community round's
 * candidate is measured on them against its base before it may become current (docs/gate.md), so
 * they must be held out: never give the same images to training.
 */
import { parseCommandArgs, required, type Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { ApiClient } from '../remote.ts';
import { DEFAULT_VALIDATION_SIDE, validationSetFromFolder } from '../validation-set.ts';

const NAME = 'validation';

const USAGE = `usage: stripes validation --server URL --pair SLUG --a DIR --b DIR [--size N] [--token T]

Uploads the pair's validation images: 8 to 64 held-out images of each domain (PNG or JPEG), each
centre-cropped and resized to N×N (default ${DEFAULT_VALIDATION_SIDE}). Rounds open only once both
domains have a set, and a round's result becomes the pair's current version only if it is not
worse than its base on them. Replaces any earlier set. Owner only.

  --server URL   the Stripes server        --pair SLUG   the pair
  --a DIR        held-out images of domain A
  --b DIR        held-out images of domain B
  --size N       side of the square the gate measures at (default ${DEFAULT_VALIDATION_SIDE}; a multiple of 4, 32–256)
  --token T      the pair owner's token (default: $STRIPES_TOKEN)`;

export const command: Command = {
  name: NAME,
  summary: "upload a pair's held-out validation images (the quality gate's test set)",
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandArgs(
      NAME,
      argv,
      { server: { type: 'string' }, pair: { type: 'string' }, a: { type: 'string' }, b: { type: 'string' }, size: { type: 'string' }, token: { type: 'string' } },
      { min: 0, max: 0, names: 'no positional arguments' },
    );
    const slug = required(NAME, 'pair', values.pair);
    const side = values.size === undefined ? DEFAULT_VALIDATION_SIDE : Number(values.size);
    if (!Number.isInteger(side) || side % 4 !== 0 || side < 32 || side > 256) throw usageError(NAME, `--size must be a multiple of 4 from 32 to 256, got ${JSON.stringify(values.size)}`);
    const token = values.token ?? process.env.STRIPES_TOKEN;
    if (!token) throw usageError(NAME, '--token (or $STRIPES_TOKEN) is required: only the pair owner uploads validation images');
    const client = new ApiClient(required(NAME, 'server', values.server), token);
    const sets = { A: validationSetFromFolder(required(NAME, 'a', values.a), '--a', side), B: validationSetFromFolder(required(NAME, 'b', values.b), '--b', side) };
    for (const d of ['A', 'B'] as const) {
      await client.request('PUT', `/api/pairs/${encodeURIComponent(slug)}/validation/${d}`, { body: sets[d].bytes });
      process.stdout.write(`domain ${d}: ${sets[d].count} validation images at ${side}×${side} uploaded\n`);
    }
    return 0;
  },
};
