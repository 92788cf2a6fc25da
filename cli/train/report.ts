/**
 * The training report, `DIR/index.html`: like the reference's HTML visualizer
 * (junyanz `util/html.py` + `util/visualizer.py`), one row of images per saved checkpoint
 * (real_A, fake_B, rec_A, real_B, fake_A, rec_B), and the loss curves over iterations drawn as
 * inline SVG, one chart per group of losses. Self-contained: no script, no external asset but
 * the PNGs beside it.
 */

/** Per-iteration losses, kept as means over buckets so a long run's history stays small. */
export interface LossHistoryState {
  /** Iterations per stored point; doubles when the history grows past `maxPoints`. */
  bucket: number;
  points: Array<{ iter: number; values: Record<string, number> }>;
  /** The bucket being filled. */
  pending: { count: number; iter: number; sums: Record<string, number> };
}

export class LossHistory {
  private s: LossHistoryState;

  constructor(
    private readonly maxPoints = 1024,
    state?: LossHistoryState,
  ) {
    this.s = state ? structuredClone(state) : { bucket: 1, points: [], pending: { count: 0, iter: 0, sums: {} } };
  }

  add(iter: number, losses: Record<string, number>): void {
    const p = this.s.pending;
    for (const [k, v] of Object.entries(losses)) p.sums[k] = (p.sums[k] ?? 0) + v;
    p.count++;
    p.iter = iter;
    if (p.count < this.s.bucket) return;
    this.s.points.push({ iter: p.iter, values: mapValues(p.sums, (v) => v / p.count) });
    this.s.pending = { count: 0, iter: 0, sums: {} };
    if (this.s.points.length >= this.maxPoints) this.halve();
  }

  /** Merges neighbouring points so the history keeps its span with half the points. */
  private halve(): void {
    const pts = this.s.points;
    const merged: LossHistoryState['points'] = [];
    for (let i = 0; i + 1 < pts.length; i += 2) {
      const [a, b] = [pts[i], pts[i + 1]];
      merged.push({ iter: b.iter, values: mapValues(a.values, (v, k) => (v + (b.values[k] ?? v)) / 2) });
    }
    if (pts.length % 2) merged.push(pts[pts.length - 1]);
    this.s.points = merged;
    this.s.bucket *= 2;
  }

  /** Stored points plus the partly filled bucket, for drawing. */
  series(): Array<{ iter: number; values: Record<string, number> }> {
    const p = this.s.pending;
    const pts = [...this.s.points];
    if (p.count > 0) pts.push({ iter: p.iter, values: mapValues(p.sums, (v) => v / p.count) });
    return pts;
  }

  state(): LossHistoryState {
    return structuredClone(this.s);
  }
}

function mapValues(o: Record<string, number>, f: (v: number, k: string) => number): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v, k)]));
}

export const SAMPLE_NAMES = ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B'] as const;
export type SampleName = (typeof SAMPLE_NAMES)[number];

export interface ReportRow {
  iter: number;
  /** Paths relative to the report, one per sample name. */
  images: Record<SampleName, string> | Record<string, string>;
}

export interface LossGroup {
  title: string;
  keys: string[];
}

/**
 * Charts for the losses present: the reference's loss names (D_A, G_A, cycle_A, idt_A and the B
 * side) grouped by what they measure, anything else on a chart of its own.
 */
export function groupLosses(keys: string[]): LossGroup[] {
  const groups: LossGroup[] = [
    { title: 'Discriminators (LSGAN, ×0.5)', keys: keys.filter((k) => /^D_/.test(k)) },
    { title: 'Generators, adversarial (LSGAN)', keys: keys.filter((k) => /^G_/.test(k) && !/cycle|idt/i.test(k)) },
    { title: 'Cycle consistency (L1 × λ)', keys: keys.filter((k) => /cycle/i.test(k)) },
    { title: 'Identity (L1 × 0.5λ)', keys: keys.filter((k) => /idt|identity/i.test(k)) },
  ];
  const used = new Set(groups.flatMap((g) => g.keys));
  for (const k of keys) if (!used.has(k)) groups.push({ title: k, keys: [k] });
  return groups.filter((g) => g.keys.length > 0);
}

/** Round tick steps (1, 2, 5 × 10^k) covering [lo, hi] with about `n` ticks. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    [lo, hi] = [lo - d, hi + d];
  }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** Centred moving average over up to 2w+1 points, shrinking at the ends. */
export function movingAverage(ys: number[], w: number): number[] {
  return ys.map((_, i) => {
    const lo = Math.max(0, i - w);
    const hi = Math.min(ys.length - 1, i + w);
    let sum = 0;
    for (let j = lo; j <= hi; j++) sum += ys[j];
    return sum / (hi - lo + 1);
  });
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10000 || a < 0.001) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** One line chart as an SVG element: axes, ticks with labels, a legend, a line per key. */
export function lineChart(title: string, series: Array<{ iter: number; values: Record<string, number> }>, keys: string[]): string {
  const W = 480, H = 270, L = 56, R = 16, T = 46, B = 42;
  const pts = series.filter((p) => keys.some((k) => Number.isFinite(p.values[k])));
  const xs = pts.map((p) => p.iter);
  const ys = pts.flatMap((p) => keys.map((k) => p.values[k]).filter(Number.isFinite));
  const xt = niceTicks(xs.length ? Math.min(0, ...xs) : 0, xs.length ? Math.max(...xs) : 1);
  const yt = niceTicks(ys.length ? Math.min(0, ...ys) : 0, ys.length ? Math.max(...ys) : 1);
  const [x0, x1, y0, y1] = [xt[0], xt[xt.length - 1], yt[0], yt[yt.length - 1]];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" class="title">${esc(title)}</text>`);
  for (const t of yt) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${L - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" class="tick">${fmt(t)}</text>`);
  }
  for (const t of xt) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${H - B}" y2="${H - B + 4}" class="axis"/>`);
    out.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle" class="tick">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/>`);
  out.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" class="axis"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" class="label">iteration</text>`);
  out.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" class="label">loss</text>`);
  keys.forEach((k, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const own = pts.filter((p) => Number.isFinite(p.values[k]));
    const raw = own.map((p) => p.values[k]);
    const poly = (ys: number[]) => own.map((p, j) => `${sx(p.iter).toFixed(1)},${sy(ys[j]).toFixed(1)}`).join(' ');
    // GAN losses jump from one iteration to the next: draw them faintly and their trend on top.
    const w = Math.floor(raw.length / 40);
    if (w >= 2) {
      out.push(`<polyline points="${poly(raw)}" fill="none" stroke="${colour}" stroke-width="1" opacity="0.25"/>`);
      out.push(`<polyline points="${poly(movingAverage(raw, w))}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    } else if (own.length) {
      out.push(`<polyline points="${poly(raw)}" fill="none" stroke="${colour}" stroke-width="1.5"/>`);
    }
    const lx = W - R - 8 - (keys.length - i) * 76;
    out.push(`<rect x="${lx}" y="${T - 16}" width="14" height="3" fill="${colour}"/><text x="${lx + 18}" y="${T - 13}" dominant-baseline="middle" class="legend">${esc(k)}</text>`);
  });
  if (!pts.length) out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="tick">no data yet</text>`);
  out.push('</svg>');
  return out.join('');
}

export interface ReportInput {
  title: string;
  /** Lines shown under the title: the config, the data, the schedule. */
  facts: string[];
  /** Saved checkpoints, in training order. */
  rows: ReportRow[];
  history: Array<{ iter: number; values: Record<string, number> }>;
  /** The columns of a sample row (default SAMPLE_NAMES; stripes distill shows teacher and student). */
  samples?: readonly string[];
}

export function renderReport(r: ReportInput): string {
  const keys = [...new Set(r.history.flatMap((p) => Object.keys(p.values)))];
  const charts = groupLosses(keys).map((g) => lineChart(g.title, r.history, g.keys));
  const rows = [...r.rows]
    .reverse()
    .map(
      (row) =>
        `<h3>iteration ${row.iter}</h3><table><tr>${(r.samples ?? SAMPLE_NAMES).map(
          (n) => `<td><figure><img src="${esc((row.images as Record<string, string>)[n])}" alt="${n} at iteration ${row.iter}"><figcaption>${n}</figcaption></figure></td>`,
        ).join('')}</tr></table>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px} h3{font-size:14px;margin:16px 0 4px;color:#555}
.facts{color:#555;margin:0 0 12px;padding:0;list-style:none}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.charts svg{border:1px solid #ddd;border-radius:4px;background:#fff}
.title{font-size:14px;font-weight:600} .tick{font-size:11px;fill:#555} .label{font-size:12px;fill:#333} .legend{font-size:12px}
.grid{stroke:#eee} .axis{stroke:#888}
table{border-collapse:collapse} td{padding:2px}
figure{margin:0;text-align:center} figcaption{font-size:12px;color:#555}
img{width:160px;height:160px;image-rendering:pixelated;border:1px solid #ddd}
</style></head><body>
<h1>${esc(r.title)}</h1>
<ul class="facts">${r.facts.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>
<h2>Losses</h2>
<div class="charts">${charts.join('\n')}</div>
<h2>Samples (newest first)</h2>
${rows || '<p>No checkpoint saved yet.</p>'}
</body></html>
`;
}
