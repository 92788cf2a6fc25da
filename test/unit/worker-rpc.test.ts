/**
 * web/src/lib/worker-rpc.ts with both ends in this process: a fake Worker whose messages go
 * through the event loop as a real one's do, the worker side served by serveRpc. Checks results,
 * progress, errors, cancellation (cooperative, and a stuck worker terminated after the grace
 * time), and every kind of worker death: fatal error, `error` event, no answer.
 */
import { describe, expect, it } from 'vitest';
import { CancelledError, RpcClient, serveRpc, Transfer, WorkerDiedError, type Handlers } from '../../web/src/lib/worker-rpc.ts';

type Methods = {
  echo: { args: { v: number }; result: number; progress: number };
  fail: { args: { fatal: boolean }; result: void };
  /** Works in steps, checking the signal between them unless `stuck`. */
  steps: { args: { n: number; ms: number; stuck?: boolean }; result: number; progress: number };
  silent: { args: null; result: void };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake Worker running `handlers` in this process; `spawned` counts the workers started. */
function harness(opts: { cancelGraceMs?: number } = {}) {
  const deaths: WorkerDiedError[] = [];
  let spawned = 0;
  const workers: Array<{ crash: (msg: string) => void; terminated: boolean }> = [];
  const spawn = () => {
    spawned++;
    let terminated = false;
    const scope: { onmessage: ((ev: { data: unknown }) => void) | null; postMessage: (m: unknown) => void } = {
      onmessage: null,
      postMessage: (m) => setTimeout(() => !terminated && client.onmessage?.({ data: structuredClone(m) } as MessageEvent)),
    };
    const client = {
      onmessage: null as ((ev: MessageEvent) => void) | null,
      onerror: null as ((ev: ErrorEvent) => void) | null,
      onmessageerror: null as (() => void) | null,
      postMessage: (m: unknown) => setTimeout(() => !terminated && scope.onmessage?.({ data: structuredClone(m) })),
      terminate: () => {
        terminated = true;
        handle.terminated = true;
      },
    };
    const handle = { crash: (message: string) => client.onerror?.({ message } as ErrorEvent), terminated: false };
    workers.push(handle);
    const handlers: Handlers<Methods> = {
      async echo({ v }, { progress }) {
        progress(v / 2);
        return new Transfer(v * 2, []);
      },
      async fail({ fatal }) {
        throw fatal ? new Error('Aborted(oom)') : new Error('bad input');
      },
      async steps({ n, ms, stuck }, { signal, progress }) {
        for (let i = 1; i <= n; i++) {
          await sleep(ms);
          if (!stuck) signal.throwIfAborted();
          progress(i);
        }
        return n;
      },
      async silent() {
        await new Promise(() => {});
      },
    };
    const g = globalThis as unknown as { self?: unknown };
    const saved = g.self;
    g.self = scope;
    try {
      serveRpc<Methods>(handlers, { isFatal: (e) => /Aborted\(/.test(String(e)) });
    } finally {
      g.self = saved;
    }
    return client as unknown as Worker;
  };
  const rpc = new RpcClient<Methods>(spawn, { cancelGraceMs: opts.cancelGraceMs ?? 150, onDeath: (e) => deaths.push(e) });
  return { rpc, deaths, workers, spawned: () => spawned };
}

describe('worker-rpc', () => {
  it('matches replies to calls by id, with progress, transfers and plain errors', async () => {
    const h = harness();
    const seen: number[] = [];
    const [a, b] = await Promise.all([h.rpc.call('echo', { v: 3 }, { onProgress: (p) => seen.push(p) }), h.rpc.call('echo', { v: 5 })]);
    expect([a, b]).toEqual([6, 10]);
    expect(seen).toEqual([1.5]);
    await expect(h.rpc.call('fail', { fatal: false })).rejects.toThrow('bad input');
    // A plain error leaves the worker alive.
    expect(await h.rpc.call('echo', { v: 1 })).toBe(2);
    expect(h.spawned()).toBe(1);
    expect(h.deaths).toEqual([]);
  });

  it('cancels at once; the worker stops at its next check, and a later call waits for that', async () => {
    const h = harness();
    const ctl = new AbortController();
    const progress: number[] = [];
    const run = h.rpc.call('steps', { n: 50, ms: 20 }, { signal: ctl.signal, onProgress: (p) => progress.push(p) });
    while (progress.length === 0) await sleep(5);
    const t0 = Date.now();
    ctl.abort();
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - t0).toBeLessThan(20);
    const n = progress.length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(50);
    expect(await h.rpc.call('steps', { n: 2, ms: 1 })).toBe(2);
    // No progress of the cancelled call reached the caller afterwards, and no restart was needed.
    expect(progress.length).toBe(n);
    expect(h.spawned()).toBe(1);
    expect(h.deaths).toEqual([]);
  });

  it('terminates and restarts a worker that does not stop within the grace time', async () => {
    const h = harness({ cancelGraceMs: 100 });
    const ctl = new AbortController();
    const run = h.rpc.call('steps', { n: 1000, ms: 20, stuck: true }, { signal: ctl.signal });
    await sleep(50);
    ctl.abort();
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    const t0 = Date.now();
    expect(await h.rpc.call('echo', { v: 4 })).toBe(8);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
    expect(h.workers[0].terminated).toBe(true);
    expect(h.spawned()).toBe(2);
    expect(h.deaths.map((d) => d.reason)).toEqual(['cancel-timeout']);
  });

  it('treats a fatal error as a dead worker: the call says why, a call queued behind it fails too, the next gets a new worker', async () => {
    const h = harness();
    const fatal = h.rpc.call('fail', { fatal: true });
    const queued = h.rpc.call('steps', { n: 100, ms: 20 });
    expect((await queued.catch((e) => e)).reason).toBe('fatal');
    const err = await fatal.catch((e) => e);
    expect(err).toBeInstanceOf(WorkerDiedError);
    expect(err.reason).toBe('fatal');
    expect(err.detail).toBe('Aborted(oom)');
    expect(h.workers[0].terminated).toBe(true);
    expect(await h.rpc.call('echo', { v: 1 })).toBe(2);
    expect(h.spawned()).toBe(2);
  }, 10_000);

  it('restarts on an error event, rejecting what was in flight', async () => {
    const h = harness();
    const run = h.rpc.call('steps', { n: 100, ms: 20 });
    await sleep(30);
    h.workers[0].crash('Uncaught RangeError: Array buffer allocation failed');
    const err = await run.catch((e) => e);
    expect(err).toBeInstanceOf(WorkerDiedError);
    expect(err.reason).toBe('crashed');
    expect(err.detail).toContain('allocation failed');
    expect(await h.rpc.call('echo', { v: 2 })).toBe(4);
    expect(h.spawned()).toBe(2);
  });

  it('declares a worker that sends nothing within the idle timeout dead', async () => {
    const h = harness();
    const err = await h.rpc.call('silent', null, { idleTimeoutMs: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(WorkerDiedError);
    expect(err.reason).toBe('unresponsive');
    // Progress keeps a long call alive past the idle timeout.
    expect(await h.rpc.call('steps', { n: 8, ms: 40 }, { idleTimeoutMs: 100 })).toBe(8);
  });
});
