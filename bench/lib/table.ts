/** One benchmark's result table, printed to the console and written as markdown. */

export interface BenchTable {
  id: string;
  title: string;
  columns: string[];
  rows: string[][];
  notes: string[];
  /** Raw numbers for results.json. */
  data?: unknown;
}

export function toMarkdown(t: BenchTable): string {
  // A '|' inside a cell would end it early.
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  const out = [`### ${t.title}`, '', line(t.columns), line(t.columns.map(() => '---')), ...t.rows.map(line)];
  if (t.notes.length) out.push('', ...t.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}

export function toConsole(t: BenchTable): string {
  const all = [t.columns, ...t.rows];
  const widths = t.columns.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ');
  return [`\n== ${t.title}`, fmt(t.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(fmt), ...t.notes.map((n) => `  * ${n}`)].join('\n');
}

export function fmtS(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '—';
  return s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s.toFixed(3);
}

export function fmtX(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`;
}
