/**
 * Fixed-window write limits kept in D1: one row per key and window, counted atomically by an
 * upsert. Coarse (a burst may straddle two windows) but needs no extra service.
 */
export interface RateDecision {
  ok: boolean;
  /** Seconds until the window resets. */
  retryAfter: number;
}

export async function hit(db: D1Database, key: string, limit: number, windowSeconds: number, now = Date.now()): Promise<RateDecision> {
  const windowStart = Math.floor(now / 1000 / windowSeconds) * windowSeconds;
  const [, counted] = await db.batch<{ count: number }>([
    // Old windows of this key are dead weight; drop them as the key moves on.
    db.prepare('DELETE FROM rate_limits WHERE key = ? AND window_start < ?').bind(key, windowStart),
    db
      .prepare(
        'INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1) ' +
          'ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count',
      )
      .bind(key, windowStart),
  ]);
  const count = counted.results[0]?.count ?? 1;
  const retryAfter = Math.max(1, Math.ceil(windowStart + windowSeconds - now / 1000));
  return { ok: count <= limit, retryAfter };
}

/** A positive integer from a string var, or the default. */
export function limitFrom(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
