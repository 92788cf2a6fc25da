/**
 * `stripes versions`: a pair's versions with who made them and what the quality gate said, and
 * (owner only) `--rollback N` to point the pair's current version back at an earlier one.
 */
import { VersionListSchema, type VersionSummary } from '../../shared/api/versions.ts';
import { parseCommandArgs, required, type Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { ApiClient } from '../remote.ts';

const NAME = 'versions';

const USAGE = `usage: stripes versions --server URL --pair SLUG [--rollback N --token T]

Lists the pair's committed versions, oldest first: who made each (the owner, a community round,
a fork), the quality gate's verdict on round versions with its measurements against the base
(cycle = mean |F(G(x)) − x|, realism = patch-statistics distance to the other domain's validation
images; lower is better), and which one is current.

  --rollback N   make version N current again (owner only; no bytes are copied, the round
                 history records it). Round versions the gate rejected cannot be made current.
  --token T      the pair owner's token (default: $STRIPES_TOKEN)`;

const fmt = (v: number | boolean | undefined) => (typeof v === 'number' ? v.toPrecision(3) : String(v ?? '—'));

export function versionLine(v: VersionSummary): string {
  const who = v.source === 'round' ? `round ${v.round}` : v.source;
  let gate = '';
  if (v.gate) {
    const m = v.gate.metrics ?? {};
    const b = v.gate.baseMetrics ?? {};
    const pairs = ['cycleA', 'cycleB', 'realismAB', 'realismBA'].filter((k) => k in m).map((k) => `${k} ${fmt(m[k])} (base ${fmt(b[k])})`);
    gate = `  gate ${v.gate.status} vs version ${v.gate.base}${pairs.length ? `: ${pairs.join(', ')}` : ''}${v.gate.reasons?.length ? `; ${v.gate.reasons.join(' ')}` : ''}`;
  }
  return `${v.current ? '*' : ' '} v${v.number}  ${v.committedAt}  ${who}${gate}`;
}

export const command: Command = {
  name: NAME,
  summary: "list a pair's versions and their quality-gate results; roll back the current one",
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandArgs(
      NAME,
      argv,
      { server: { type: 'string' }, pair: { type: 'string' }, rollback: { type: 'string' }, token: { type: 'string' } },
      { min: 0, max: 0, names: 'no positional arguments' },
    );
    const slug = required(NAME, 'pair', values.pair);
    const client = new ApiClient(required(NAME, 'server', values.server), values.token ?? process.env.STRIPES_TOKEN);
    const path = `/api/pairs/${encodeURIComponent(slug)}`;
    if (values.rollback !== undefined) {
      const n = Number(values.rollback);
      if (!Number.isInteger(n) || n < 1) throw usageError(NAME, `--rollback must be a version number, got ${JSON.stringify(values.rollback)}`);
      if (!client.token) throw usageError(NAME, '--rollback needs the owner\'s --token (or $STRIPES_TOKEN)');
      await client.json('POST', `${path}/rollback`, { version: n });
      process.stdout.write(`version ${n} is now the current version of ${slug}\n`);
    }
    const list = VersionListSchema.parse(await client.json('GET', `${path}/versions`));
    for (const v of list.versions) process.stdout.write(versionLine(v) + '\n');
    return 0;
  },
};
