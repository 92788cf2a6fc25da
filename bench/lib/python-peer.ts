/**
 * The PyTorch peer (bench/py/peer.py) as a long-lived child process answering one JSON request
 * per line, so PyTorch runs interleaved with the Node runtimes.
 *
 * Debian's torch uses the reference BLAS unless pointed at OpenBLAS (libopenblas0-pthread).
 * OMP_WAIT_POLICY=PASSIVE: on a machine with more runnable threads than cores, OpenMP's default
 * busy-waiting makes 2-thread PyTorch 20-30× slower (a spinning thread holds the core its peer
 * needs); passive waiting is what a shared machine needs. BENCH_OMP_WAIT_POLICY overrides it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
export const OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';
const PEER = new URL('../py/peer.py', import.meta.url).pathname;

export function pythonEnv(): NodeJS.ProcessEnv {
  const ld = [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return { ...process.env, LD_LIBRARY_PATH: ld, OMP_WAIT_POLICY: process.env.BENCH_OMP_WAIT_POLICY ?? 'PASSIVE', PYTHONUNBUFFERED: '1' };
}

export class PythonPeer {
  private child: ChildProcessWithoutNullStreams;
  private pending: ((line: string) => void)[] = [];
  private stderr = '';
  private exited: string | null = null;

  constructor() {
    this.child = spawn(PYTHON, [PEER], { env: pythonEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.pending.shift()?.(line));
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `PyTorch peer exited (${signal ?? code}): ${this.stderr.trim().split('\n').slice(-1)[0] ?? ''}`;
      for (const p of this.pending.splice(0)) p(JSON.stringify({ error: this.exited }));
    });
  }

  async request<T = Record<string, unknown>>(req: Record<string, unknown>): Promise<T> {
    if (this.exited) throw new Error(this.exited);
    const line = await new Promise<string>((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(JSON.stringify(req) + '\n');
    });
    const reply = JSON.parse(line) as T & { error?: string };
    if (reply.error) throw new Error(`PyTorch peer: ${reply.error}`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.write(JSON.stringify({ op: 'quit' }) + '\n');
    this.child.stdin.end();
    await done;
  }
}
