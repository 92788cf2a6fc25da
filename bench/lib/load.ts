/** The machine's load while a benchmark ran: on a shared machine the numbers mean little without it. */
import { cpus, loadavg } from 'node:os';

export interface LoadSample {
  /** 1, 5 and 15 minute load averages. */
  loadavg: [number, number, number];
  cores: number;
  at: string;
}

export function sampleLoad(): LoadSample {
  const [a, b, c] = loadavg();
  return { loadavg: [a, b, c], cores: cpus().length, at: new Date().toISOString() };
}

export function formatLoad(s: LoadSample): string {
  return `load average ${s.loadavg.map((x) => x.toFixed(2)).join(', ')} on ${s.cores} cores`;
}
