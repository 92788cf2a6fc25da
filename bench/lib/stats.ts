/** Summary statistics of timing samples (seconds). Medians, because a loaded machine has long tails. */

export interface Summary {
  n: number;
  median: number;
  /** Nearest-rank 99th percentile: with fewer than 100 samples this is the slowest run. */
  p99: number;
  min: number;
  max: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function summarize(xs: readonly number[]): Summary {
  return { n: xs.length, median: median(xs), p99: percentile(xs, 99), min: Math.min(...xs), max: Math.max(...xs) };
}
