/**
 * After committing, a contributor waits to learn what became of its work: merged into a version
 * that became current, or not merged because the round's candidate failed the quality gate (with
 * the gate's reasons). Polls GET …/round/leases/{lease}; the CLI and the browser both use this.
 */
import { ContributionStatusSchema, roundPaths, type ContributionStatus } from './protocol.ts';

export interface OutcomeOptions {
  server: string;
  slug: string;
  token: string;
  lease: string;
  /** Give up waiting after this long (the round may wait for other contributors until its deadline). */
  timeoutMs: number;
  pollMs?: number;
  fetch?: typeof fetch;
  onPoll?: (s: ContributionStatus) => void;
  signal?: AbortSignal;
}

/** The contribution's state once it is final (merged, not_merged, expired), or the last one seen at the timeout. */
export async function waitForOutcome(o: OutcomeOptions): Promise<ContributionStatus> {
  const f = o.fetch ?? fetch;
  const until = Date.now() + o.timeoutMs;
  const url = o.server.replace(/\/+$/, '') + roundPaths.contribution(o.slug, o.lease);
  for (;;) {
    const res = await f(url, { headers: { Authorization: `Bearer ${o.token}` }, signal: o.signal });
    if (!res.ok) throw new Error(`contribution ${o.lease}: the server answered ${res.status}: ${await res.text()}`);
    const s = ContributionStatusSchema.parse(await res.json());
    o.onPoll?.(s);
    if (s.state === 'merged' || s.state === 'not_merged' || s.state === 'expired' || Date.now() >= until) return s;
    await new Promise((r) => setTimeout(r, o.pollMs ?? 2000));
  }
}

/** One line for people: what became of a contribution. */
export function describeOutcome(s: ContributionStatus): string {
  switch (s.state) {
    case 'merged':
      return `merged: version ${s.version} passed the quality gate and is now the pair's current version`;
    case 'not_merged':
      return `not merged: ${s.reason ?? 'the round did not produce a new current version'}`;
    case 'expired':
      return 'expired: the lease ran out before it was committed';
    case 'committed':
      return `committed to round ${s.round}; the round has not closed yet (it waits for its other contributors, then checks the result on the validation images)`;
    default:
      return `leased in round ${s.round}, not committed`;
  }
}
