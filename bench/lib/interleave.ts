/**
 * Runs peers side by side, one run of each in turn (A, B, C, A, B, C, ...), so every peer sees
 * the same machine load over the same minutes and the ratios stay meaningful on a shared,
 * loaded machine. Slow peers get fewer repeats (`repeats`) and may stop early once they have
 * spent `budgetS` of timed runs and have at least `minRepeats`.
 */
import { summarize, type Summary } from './stats.ts';

export interface Peer {
  name: string;
  /** One timed run; resolves to its seconds (measured by the peer around the work only). */
  run(): Promise<number>;
  /** Untimed runs before the timed ones (JIT, kernel set-up, allocator). Default 1. */
  warmup?: number;
  /** Timed runs wanted. */
  repeats: number;
  minRepeats?: number;
  budgetS?: number;
}

export interface PeerResult {
  name: string;
  samples: number[];
  summary: Summary | null;
  warmupS: number[];
  error?: string;
}

export async function interleave(peers: Peer[], log: (msg: string) => void = () => {}): Promise<PeerResult[]> {
  const res = peers.map((p) => ({ name: p.name, samples: [] as number[], warmupS: [] as number[], error: undefined as string | undefined }));
  const attempt = async (i: number, into: number[]) => {
    try {
      const s = await peers[i].run();
      into.push(s);
      log(`  ${peers[i].name}: ${s.toFixed(3)} s`);
    } catch (e) {
      res[i].error = (e as Error).message.split('\n')[0];
      log(`  ${peers[i].name}: failed: ${res[i].error}`);
    }
  };
  const maxWarm = Math.max(0, ...peers.map((p) => p.warmup ?? 1));
  for (let w = 0; w < maxWarm; w++) for (let i = 0; i < peers.length; i++) if (!res[i].error && w < (peers[i].warmup ?? 1)) await attempt(i, res[i].warmupS);
  const active = (i: number) => {
    const p = peers[i];
    const r = res[i];
    if (r.error || r.samples.length >= p.repeats) return false;
    const spent = r.samples.reduce((a, b) => a + b, 0);
    return !(p.budgetS !== undefined && spent >= p.budgetS && r.samples.length >= (p.minRepeats ?? 1));
  };
  for (;;) {
    const now = peers.map((_, i) => i).filter(active);
    if (now.length === 0) break;
    for (const i of now) await attempt(i, res[i].samples);
  }
  return res.map((r) => ({ ...r, summary: r.samples.length ? summarize(r.samples) : null }));
}
