/**
 * One small typed request/reply channel between the page and a Web Worker, for every worker the
 * app runs: calls carry an id, replies and progress come back matched by it, a call can be
 * cancelled with an AbortSignal, errors arrive as Errors, and a worker that dies (an `error`
 * event, a fatal error such as a WebAssembly abort or out-of-memory, no answer for too long, or
 * a cancel it does not honour in time) is terminated and started afresh, with every call in
 * flight rejected by a `WorkerDiedError` that says why.
 *
 * Page side: `new RpcClient<Methods>(() => new Worker(...))`, then `client.call('name', args,
 * { signal, onProgress, transfer })`. Worker side: `serveRpc<Methods>({ name: async (args,
 * { signal, progress }) => result })`. `Methods` maps each method to its args, result and
 * progress types, so both sides are checked against one declaration.
 */

export interface RpcMethod {
  args: unknown;
  result: unknown;
  progress?: unknown;
}
export type RpcMethods = Record<string, RpcMethod>;

type ProgressOf<M extends RpcMethod> = M['progress'] extends undefined ? never : M['progress'];

/** Page → worker. */
export type RpcRequest = { rpc: 'call'; id: number; method: string; args: unknown } | { rpc: 'cancel'; id: number };
/** Worker → page. */
export type RpcReply =
  | { rpc: 'result'; id: number; value: unknown }
  | { rpc: 'progress'; id: number; value: unknown }
  | { rpc: 'error'; id: number; message: string; cancelled?: boolean; fatal?: boolean };

/** A call stopped by its AbortSignal. */
export class CancelledError extends Error {
  override name = 'AbortError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

export type DeathReason =
  /** The worker raised an `error` event (an uncaught exception, or it failed to start). */
  | 'crashed'
  /** A call failed in a way that leaves the worker unusable (WebAssembly abort, out of memory). */
  | 'fatal'
  /** No message for a call within its idle timeout. */
  | 'unresponsive'
  /** A cancelled call was not stopped within the grace time (busy inside one long kernel). */
  | 'cancel-timeout'
  /** `terminate()` was called. */
  | 'closed';

/** The worker died (or was restarted) while this call was in flight. */
export class WorkerDiedError extends Error {
  override name = 'WorkerDiedError';
  constructor(
    readonly reason: DeathReason,
    /** What the worker or the browser said, if anything. */
    readonly detail: string,
  ) {
    super(`the worker ${reason === 'closed' ? 'was closed' : `stopped (${reason}${detail ? `: ${detail}` : ''})`}`);
  }
}

export interface CallOptions<P> {
  transfer?: Transferable[];
  signal?: AbortSignal;
  onProgress?: (p: P) => void;
  /** Declare the worker dead when this call hears nothing (no progress, no reply) for this long. */
  idleTimeoutMs?: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: unknown) => void;
  idleTimeoutMs?: number;
  idleTimer?: ReturnType<typeof setTimeout>;
  /** Set once the caller has been answered with a CancelledError; the worker's reply is still awaited. */
  cancelled?: boolean;
  cancelTimer?: ReturnType<typeof setTimeout>;
}

export interface RpcClientOptions {
  /** How long a cancelled call may take to stop before the worker is terminated (default 700 ms). */
  cancelGraceMs?: number;
  /** Told after a dead worker has been terminated; the next call starts a new one. */
  onDeath?: (e: WorkerDiedError) => void;
}

export class RpcClient<M extends RpcMethods> {
  #spawn: () => Worker;
  #worker: Worker | null = null;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #opts: RpcClientOptions;
  /** Resolves when no cancelled call is still running in the worker: new calls wait for it. */
  #drained: Promise<void> = Promise.resolve();
  #releaseDrain: (() => void) | null = null;
  /** Workers started so far (1 after the first call; each restart adds one). */
  generation = 0;

  constructor(spawn: () => Worker, opts: RpcClientOptions = {}) {
    this.#spawn = spawn;
    this.#opts = opts;
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const w = this.#spawn();
    this.generation++;
    w.onmessage = (ev: MessageEvent<RpcReply>) => this.#receive(ev.data);
    w.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.#die(new WorkerDiedError('crashed', ev.message || 'unknown error'));
    };
    w.onmessageerror = () => this.#die(new WorkerDiedError('crashed', 'a message could not be read'));
    this.#worker = w;
    return w;
  }

  #armIdle(id: number, p: Pending): void {
    if (!p.idleTimeoutMs) return;
    clearTimeout(p.idleTimer);
    p.idleTimer = setTimeout(() => this.#die(new WorkerDiedError('unresponsive', `no answer for ${Math.round(p.idleTimeoutMs! / 1000)} s`)), p.idleTimeoutMs);
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    clearTimeout(p.idleTimer);
    clearTimeout(p.cancelTimer);
    this.#checkDrained();
    return p;
  }

  #checkDrained(): void {
    if (this.#releaseDrain && ![...this.#pending.values()].some((p) => p.cancelled)) {
      this.#releaseDrain();
      this.#releaseDrain = null;
    }
  }

  #receive(reply: RpcReply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    if (reply.rpc === 'progress') {
      this.#armIdle(reply.id, p);
      if (!p.cancelled) p.onProgress?.(reply.value);
      return;
    }
    this.#settle(reply.id);
    if (reply.rpc === 'error' && reply.fatal) {
      // The worker said it cannot go on: restart it, and tell this call (and any other) why.
      const err = new WorkerDiedError('fatal', reply.message);
      if (!p.cancelled) p.reject(err);
      this.#die(err);
      return;
    }
    if (p.cancelled) return;
    if (reply.rpc === 'result') p.resolve(reply.value);
    else if (reply.cancelled) p.reject(new CancelledError(reply.message));
    else p.reject(new Error(reply.message));
  }

  /** Terminates the worker, rejects what is in flight, and leaves the next call to start a new one. */
  #die(err: WorkerDiedError): void {
    const w = this.#worker;
    if (!w) return;
    this.#worker = null;
    w.onmessage = w.onerror = w.onmessageerror = null;
    w.terminate();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.idleTimer);
      clearTimeout(p.cancelTimer);
      if (!p.cancelled) p.reject(err);
    }
    this.#checkDrained();
    if (err.reason !== 'closed') this.#opts.onDeath?.(err);
  }

  /** Calls a method in the worker. Rejects with CancelledError when `signal` aborts, WorkerDiedError when the worker dies. */
  async call<K extends keyof M & string>(method: K, args: M[K]['args'], opts: CallOptions<ProgressOf<M[K]>> = {}): Promise<M[K]['result']> {
    opts.signal?.throwIfAborted();
    // A call made just after a cancel goes out once the worker has stopped the cancelled work.
    await this.#drained;
    opts.signal?.throwIfAborted();
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise<M[K]['result']>((resolve, reject) => {
      const p: Pending = { resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress as (p: unknown) => void, idleTimeoutMs: opts.idleTimeoutMs };
      this.#pending.set(id, p);
      this.#armIdle(id, p);
      opts.signal?.addEventListener(
        'abort',
        () => {
          if (this.#pending.get(id) !== p || p.cancelled) return;
          p.cancelled = true;
          clearTimeout(p.idleTimer);
          if (!this.#releaseDrain) this.#drained = new Promise((r) => (this.#releaseDrain = r));
          worker.postMessage({ rpc: 'cancel', id } satisfies RpcRequest);
          p.cancelTimer = setTimeout(() => {
            if (this.#worker === worker) this.#die(new WorkerDiedError('cancel-timeout', `a cancelled ${method} did not stop within ${this.#grace} ms`));
          }, this.#grace);
          reject(new CancelledError());
        },
        { once: true },
      );
      worker.postMessage({ rpc: 'call', id, method, args } satisfies RpcRequest, { transfer: opts.transfer ?? [] });
    });
  }

  /**
   * Resolves once no cancelled call is still running in the worker (it answered, or it was
   * restarted): what the worker holds is then settled, and a restart has already been reported.
   */
  async drained(): Promise<void> {
    await this.#drained;
  }

  get #grace(): number {
    return this.#opts.cancelGraceMs ?? 700;
  }

  /** Restarts the worker now: what is in flight is rejected with `err`. */
  restart(reason: DeathReason = 'crashed', detail = 'restarted'): void {
    this.#die(new WorkerDiedError(reason, detail));
  }

  /** Ends the worker for good; calls in flight are rejected. */
  terminate(): void {
    this.#die(new WorkerDiedError('closed', ''));
  }
}

// ---------------------------------------------------------------------------------------------
// Worker side.

export interface HandlerContext<P> {
  /** Aborted when the page cancels this call. */
  signal: AbortSignal;
  progress: (p: P) => void;
}

/** A result with the buffers to transfer (not copy) back to the page. */
export class Transfer<T> {
  constructor(
    readonly value: T,
    readonly transfer: Transferable[],
  ) {}
}

export type Handlers<M extends RpcMethods> = {
  [K in keyof M]: (args: M[K]['args'], ctx: HandlerContext<ProgressOf<M[K]>>) => Promise<M[K]['result'] | Transfer<M[K]['result']>>;
};

export interface ServeOptions {
  /** Errors after which the worker cannot go on: the page restarts it (default: none). */
  isFatal?: (e: unknown) => boolean;
}

/**
 * Serves calls in this worker one at a time (a call never starts in the middle of another);
 * cancel messages act at once, on the running call or on one still queued.
 */
export function serveRpc<M extends RpcMethods>(handlers: Handlers<M>, opts: ServeOptions = {}): void {
  const scope = self as unknown as { postMessage(m: RpcReply, o?: { transfer?: Transferable[] }): void; onmessage: ((ev: MessageEvent<RpcRequest>) => void) | null };
  const post = (m: RpcReply, transfer: Transferable[] = []) => scope.postMessage(m, { transfer });
  const controllers = new Map<number, AbortController>();
  let queue: Promise<void> = Promise.resolve();

  const run = async (id: number, method: string, args: unknown): Promise<void> => {
    const ctl = controllers.get(id)!;
    try {
      ctl.signal.throwIfAborted();
      const handler = (handlers as Record<string, Handlers<M>[keyof M]>)[method];
      if (!handler) throw new Error(`unknown method ${method}`);
      const out = await handler(args as never, { signal: ctl.signal, progress: (value) => post({ rpc: 'progress', id, value }) });
      if (out instanceof Transfer) post({ rpc: 'result', id, value: out.value }, out.transfer);
      else post({ rpc: 'result', id, value: out });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (ctl.signal.aborted) post({ rpc: 'error', id, message: 'cancelled', cancelled: true });
      else post({ rpc: 'error', id, message, fatal: opts.isFatal?.(e) ?? false });
    } finally {
      controllers.delete(id);
    }
  };

  scope.onmessage = (ev: MessageEvent<RpcRequest>) => {
    const m = ev.data;
    if (m.rpc === 'cancel') {
      controllers.get(m.id)?.abort(new CancelledError());
      return;
    }
    controllers.set(m.id, new AbortController());
    queue = queue.then(() => run(m.id, m.method, m.args));
  };
}
