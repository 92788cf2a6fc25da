/**
 * The contributor's side of a round, for any host (the `stripes contribute` CLI, the browser's
 * training worker, tests): lease → fetch the base version → train locally → delta → upload
 * float16 shards → commit. The network and the training are passed in, so the protocol is the
 * same code everywhere and the images never leave the contributor's machine.
 */
import { NETWORKS, type ModelConfig, type NetworkName } from '../model/config.ts';
import { decodeGroup } from '../weights/checkpoint.ts';
import type { CheckpointManifest } from '../weights/format.ts';
import { validateManifest } from '../weights/manifest.ts';
import { computeDelta, encodeDelta, flattenNetwork } from './delta.ts';
import { CommitReceiptSchema, LeaseSchema, roundPaths, type CommitReceipt, type Lease } from './protocol.ts';

export type Weights = Record<NetworkName, Record<string, Float32Array>>;

export interface LocalTraining {
  weights: Weights;
  /** Steps actually taken (at most the lease's) and images seen. */
  steps: number;
  samples: number;
  /** Mean losses over the steps, for the round's history. */
  losses: Record<string, number>;
}

/** Trains the four networks (of `config`) from `base` with the lease's settings (fresh optimizer state). */
export type RoundTrainer = (
  base: Weights,
  lease: Lease,
  onStep: (step: number, losses: Record<string, number>) => void,
  config: ModelConfig,
) => Promise<LocalTraining>;

export type ContributorEvent =
  | { kind: 'leased'; lease: Lease }
  | { kind: 'downloaded'; bytes: number }
  | { kind: 'step'; step: number; of: number; losses: Record<string, number> }
  | { kind: 'uploaded'; network: NetworkName; index: number; of: number; bytes: number };

export interface ContributeOptions {
  server: string;
  slug: string;
  token: string;
  trainer: RoundTrainer;
  fetch?: typeof fetch;
  onEvent?: (e: ContributorEvent) => void;
  name?: string;
}

export interface RoundSummary {
  round: number;
  baseVersion: number;
  lease: string;
  steps: number;
  samples: number;
  losses: Record<string, number>;
  norms: Record<NetworkName, number>;
  uploadedBytes: number;
  receipt: CommitReceipt;
}

export class RoundClientError extends Error {
  override name = 'RoundClientError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function contributeRound(o: ContributeOptions): Promise<RoundSummary> {
  const f = o.fetch ?? fetch;
  const base = o.server.replace(/\/+$/, '');
  const auth = { Authorization: `Bearer ${o.token}` };
  const request = async (what: string, path: string, init: RequestInit = {}): Promise<Response> => {
    const res = await f(`${base}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    if (!res.ok) {
      const text = await res.text();
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        /* not our JSON error: show the body as is */
      }
      throw new RoundClientError(res.status, `${what}: the server answered ${res.status}: ${msg}`);
    }
    return res;
  };
  const json = { 'Content-Type': 'application/json' };

  const lease = LeaseSchema.parse(
    await (await request('lease', roundPaths.leases(o.slug), { method: 'POST', headers: json, body: JSON.stringify({ name: o.name }) })).json(),
  );
  o.onEvent?.({ kind: 'leased', lease });

  const version = (await (await request('base version', `/api/pairs/${encodeURIComponent(o.slug)}/versions/${lease.baseVersion}`)).json()) as {
    manifest: CheckpointManifest;
  };
  const manifest = validateManifest(version.manifest);
  let downloaded = 0;
  const fetchShard = async (hash: string) => {
    const bytes = new Uint8Array(await (await request(`shard ${hash}`, `/api/shards/${hash}`)).arrayBuffer());
    downloaded += bytes.byteLength;
    return bytes;
  };
  const baseWeights = {} as Weights;
  for (const net of NETWORKS) baseWeights[net] = await decodeGroup(manifest, net, fetchShard);
  o.onEvent?.({ kind: 'downloaded', bytes: downloaded });

  const local = await o.trainer(baseWeights, lease, (step, losses) => o.onEvent?.({ kind: 'step', step, of: lease.train.steps, losses }), manifest.config);

  const norms = {} as Record<NetworkName, number>;
  const shards = {} as Record<NetworkName, string[]>;
  let uploadedBytes = 0;
  for (const net of NETWORKS) {
    const delta = computeDelta(flattenNetwork(manifest.config, net, local.weights[net]), flattenNetwork(manifest.config, net, baseWeights[net]));
    const enc = await encodeDelta(delta, lease.maxShardBytes);
    for (const [i, s] of enc.shards.entries()) {
      await request(`upload ${net} shard ${i}`, roundPaths.delta(o.slug, lease.lease, net, i), {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'X-Shard-Sha256': s.hash },
        body: s.bytes as Uint8Array<ArrayBuffer>,
      });
      uploadedBytes += s.bytes.byteLength;
      o.onEvent?.({ kind: 'uploaded', network: net, index: i, of: enc.shards.length, bytes: s.bytes.byteLength });
    }
    norms[net] = enc.norm;
    shards[net] = enc.shards.map((s) => s.hash);
  }

  const body = { samples: local.samples, steps: local.steps, norms, losses: local.losses, shards };
  // A lost answer is safe to retry: the round acknowledges a repeated commit without counting it twice.
  let receipt: CommitReceipt | undefined;
  for (let attempt = 1; !receipt; attempt++) {
    try {
      receipt = CommitReceiptSchema.parse(
        await (await request('commit', roundPaths.commit(o.slug, lease.lease), { method: 'POST', headers: json, body: JSON.stringify(body) })).json(),
      );
    } catch (e) {
      if (e instanceof RoundClientError || attempt >= 3) throw e;
    }
  }
  return {
    round: lease.round,
    baseVersion: lease.baseVersion,
    lease: lease.lease,
    steps: local.steps,
    samples: local.samples,
    losses: local.losses,
    norms,
    uploadedBytes,
    receipt,
  };
}
