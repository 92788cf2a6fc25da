/**
 * The page's handle on the training worker: requests go out with an id, replies come back
 * matched by it, and what the Contribute page shows (phase, steps, it/s, losses, previews,
 * upload progress) is reactive state here.
 */
import type {
  BackendAttempt,
  BackendChoice,
  BackendName,
  ContributeResult,
  Pixels,
  StopMode,
  TrainBudget,
  TrainerPhase,
  TrainerReply,
  TrainerRequest,
} from './messages.ts';
import { requestedThreads } from './messages.ts';

type Payload<T extends TrainerRequest['type']> = Omit<Extract<TrainerRequest, { type: T }>, 'id' | 'type'>;

export interface StepPoint {
  step: number;
  losses: Record<string, number>;
}

export class TrainerError extends Error {
  override name = 'TrainerError';
  constructor(
    message: string,
    /** The server's HTTP status when the round refused something. */
    readonly status?: number,
    /** The user stopped the training and chose to discard it: nothing was sent. */
    readonly discarded = false,
  ) {
    super(message);
  }
}

export class Trainer {
  backend = $state<BackendName | 'cpu' | null>(null);
  /** The wasm backend's thread count when training runs on wasm, else null. */
  threads = $state<number | null>(null);
  attempts = $state<BackendAttempt[]>([]);
  phase = $state<TrainerPhase | null>(null);
  phaseDetail = $state<string | null>(null);
  step = $state(0);
  steps = $state(0);
  elapsedMs = $state(0);
  /** Losses of every step so far, for the live chart. */
  history = $state.raw<StepPoint[]>([]);
  preview = $state.raw<{ step: number; realA: Pixels; fakeB: Pixels; recA: Pixels } | null>(null);
  upload = $state<{ sentBytes: number; totalBytes: number } | null>(null);

  #worker: Worker;
  #nextId = 1;
  #pending = new Map<number, { resolve: (r: TrainerReply) => void; reject: (e: Error) => void }>();

  constructor() {
    this.#worker = new Worker(new URL('./trainer.worker.ts', import.meta.url), { type: 'module', name: 'trainer' });
    this.#worker.onmessage = (ev: MessageEvent<TrainerReply>) => this.#receive(ev.data);
    this.#worker.onerror = (ev) => {
      const err = new TrainerError(`the training worker failed: ${ev.message || 'unknown error'}`);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
  }

  /** Steps per second over the training so far. */
  get itPerSec(): number {
    return this.step > 0 && this.elapsedMs > 0 ? (this.step * 1000) / this.elapsedMs : 0;
  }

  /** Seconds left at the current pace, or null before the first step. */
  get etaSec(): number | null {
    return this.itPerSec > 0 ? (this.steps - this.step) / this.itPerSec : null;
  }

  #receive(r: TrainerReply): void {
    switch (r.type) {
      case 'phase':
        this.phase = r.phase;
        this.phaseDetail = r.detail ?? null;
        return;
      case 'step':
        this.step = r.step;
        this.steps = r.of;
        this.elapsedMs = r.elapsedMs;
        this.history = [...this.history, { step: r.step, losses: r.losses }];
        return;
      case 'preview':
        this.preview = { step: r.step, realA: r.realA, fakeB: r.fakeB, recA: r.recA };
        return;
      case 'upload':
        this.upload = { sentBytes: r.sentBytes, totalBytes: r.totalBytes };
        return;
    }
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    if (r.type === 'error') p.reject(new TrainerError(r.message, r.status, r.discarded ?? false));
    else p.resolve(r);
  }

  #send<T extends TrainerRequest['type']>(type: T, payload: Payload<T>): Promise<TrainerReply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, type, ...payload } as unknown as TrainerRequest);
    });
  }

  async setBackend(choice: BackendChoice | 'cpu'): Promise<BackendName | 'cpu'> {
    const r = await this.#send('setBackend', { choice, threads: requestedThreads() });
    if (r.type !== 'backend') throw new TrainerError(`unexpected reply ${r.type}`);
    this.backend = r.backend;
    this.threads = r.threads ?? null;
    this.attempts = r.attempts;
    return r.backend;
  }

  /** Takes part in the pair's current round with these images; resolves to what the round said. */
  async contribute(o: { server: string; slug: string; token: string; images: { A: File[]; B: File[] }; budget: TrainBudget; previewEvery: number }): Promise<ContributeResult> {
    this.phase = null;
    this.phaseDetail = null;
    this.step = 0;
    this.steps = 0;
    this.elapsedMs = 0;
    this.history = [];
    this.preview = null;
    this.upload = null;
    this.stopping = null;
    const r = await this.#send('contribute', o).finally(() => (this.stopping = null));
    if (r.type !== 'contributed') throw new TrainerError(`unexpected reply ${r.type}`);
    const { id: _id, type: _type, ...result } = r;
    return result;
  }

  /** What the user asked of a stop, while the worker winds down; null when none. */
  stopping = $state<StopMode | null>(null);

  /**
   * Stops the training in progress: 'upload' sends the steps done so far (at least one) to the
   * round as a smaller contribution; 'discard' drops them, and `contribute` rejects with a
   * TrainerError whose `discarded` is true.
   */
  stop(mode: StopMode): void {
    this.stopping = mode;
    this.#worker.postMessage({ id: 0, type: 'stop', mode } satisfies TrainerRequest);
  }

  terminate(): void {
    this.#worker.terminate();
    for (const p of this.#pending.values()) p.reject(new TrainerError('the training worker was closed'));
    this.#pending.clear();
  }
}
