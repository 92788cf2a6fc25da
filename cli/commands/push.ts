/** `stripes push`: publish a checkpoint folder as a new version of a pair on a Stripes server. */
import { readCheckpointDir } from '../checkpoint-dir.ts';
import { parseCommandArgs, required, type Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { ProgressBar } from '../progress.ts';
import { ApiClient, createPair, createToken, getPair, pushCheckpoint } from '../remote.ts';
import { SlugSchema } from '../../shared/api/pairs.ts';
import { recordedSchedule } from '../../shared/rounds/schedule.ts';
import type { CheckpointManifest } from '../../shared/weights/format.ts';

const NAME = 'push';

/**
 * The version's meta says where its training schedule stands (shared/rounds/schedule.ts), so the
 * pair's rounds continue it: a checkpoint from an older `stripes train` has only
 * iterations/totalIterations, which push turns into `meta.schedule`. Anything else is sent as is.
 */
export function withScheduleMeta<T extends { manifest: CheckpointManifest }>(source: T): T {
  const meta = source.manifest.meta;
  if (!meta || 'schedule' in meta || meta.converged === true) return source;
  const rec = recordedSchedule(meta);
  if (!rec) return source;
  return { ...source, manifest: { ...source.manifest, meta: { ...meta, schedule: { ...rec.schedule, position: rec.position } } } };
}
const usage = `usage: stripes push --server URL --pair SLUG DIR [--token T] [--title T --domain-a A --domain-b B --licence L]

Uploads the checkpoint folder DIR (from stripes train or stripes import-torch) as the next version
of pair SLUG, then makes it current. Shards the server already holds are skipped, so an
interrupted push resumes where it stopped.

  --server URL     the Stripes server, e.g. http://127.0.0.1:8787 (npm start)
  --pair SLUG      the pair; created (owned by the token) when the server has none by that name
  --token T        an API token owning the pair (default: $STRIPES_TOKEN); without one, a new
                   token is issued and printed: keep it, it is how you own the pair
  --title T, --domain-a A, --domain-b B, --licence L
                   metadata for a pair created by this push (defaults: SLUG, A, B, unspecified)`;

export const command: Command = {
  name: NAME,
  summary: 'upload a checkpoint folder as a new version of a pair on a server',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      NAME,
      argv,
      {
        server: { type: 'string' },
        pair: { type: 'string' },
        token: { type: 'string' },
        title: { type: 'string' },
        'domain-a': { type: 'string' },
        'domain-b': { type: 'string' },
        licence: { type: 'string' },
      },
      { min: 1, max: 1, names: 'the checkpoint folder DIR' },
    );
    const server = required(NAME, 'server', values.server);
    const slug = required(NAME, 'pair', values.pair);
    if (!SlugSchema.safeParse(slug).success)
      throw new CliError(`--pair ${JSON.stringify(slug)}: a slug is 3-64 characters of a-z, 0-9 and inner dashes`);
    const source = withScheduleMeta(await readCheckpointDir(positionals[0]));

    let token = values.token ?? process.env.STRIPES_TOKEN;
    if (!token) {
      const t = await createToken(new ApiClient(server), `stripes push ${slug}`);
      token = t.token;
      process.stderr.write(`stripes: issued a new token (it owns what this push creates; pass it as --token next time):\n${token}\n`);
    }
    const client = new ApiClient(server, token);
    if (!(await getPair(client, slug))) {
      await createPair(client, {
        slug,
        title: values.title ?? slug,
        domainA: values['domain-a'] ?? 'A',
        domainB: values['domain-b'] ?? 'B',
        licence: values.licence ?? 'unspecified',
      });
      process.stderr.write(`stripes: created pair ${slug}\n`);
    }

    let bar: ProgressBar | null = null;
    let result;
    try {
      result = await pushCheckpoint(client, slug, source, {
        start: (n, skipped) => {
          if (skipped) process.stderr.write(`stripes: ${skipped} shards already on the server\n`);
          bar = new ProgressBar({ total: n, unit: 'shard', label: `push ${slug}` });
        },
        uploaded: () => bar?.tick(),
      });
    } finally {
      (bar as ProgressBar | null)?.done();
    }
    process.stdout.write(`${client.server}/api/pairs/${slug}/versions/${result.number} (${result.uploaded} shards uploaded, ${result.skipped} already there)\n`);
    return 0;
  },
};
