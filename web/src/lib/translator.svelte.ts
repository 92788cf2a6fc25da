/**
 * The page's handle on the translator worker: requests go out with an id, replies come back
 * matched by it, and what the page shows (backend, download progress, busy) is reactive state.
 */
import type { Direction } from '../../../shared/model/config.ts';
import type { CheckpointManifest } from '../../../shared/weights/format.ts';
import type {
  BackendAttempt,
  BackendChoice,
  BackendName,
  LoadResult,
  Pixels,
  Quality,
  TranslateResult,
  TranslatorReply,
  TranslatorRequest,
} from './messages.ts';

type Payload<T extends TranslatorRequest['type']> = Omit<Extract<TranslatorRequest, { type: T }>, 'id' | 'type'>;

interface Pending {
  resolve: (reply: TranslatorReply) => void;
  reject: (e: Error) => void;
}

export class Translator {
  /** The backend the worker runs on, once one has started. */
  backend = $state<BackendName | null>(null);
  attempts = $state<BackendAttempt[]>([]);
  /** Weight download progress of the current load, or null when none is running. */
  progress = $state<{ loadedBytes: number; totalBytes: number; networkBytes: number } | null>(null);
  /** Requests in flight; `busy` while any is. */
  #inFlight = $state(0);
  get busy(): boolean {
    return this.#inFlight > 0;
  }

  #worker: Worker;
  #nextId = 1;
  #pending = new Map<number, Pending>();

  constructor() {
    this.#worker = new Worker(new URL('./translator.worker.ts', import.meta.url), { type: 'module', name: 'translator' });
    this.#worker.onmessage = (ev: MessageEvent<TranslatorReply>) => this.#receive(ev.data);
    this.#worker.onerror = (ev) => {
      const err = new Error(`the translator worker failed: ${ev.message || 'unknown error'}`);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
  }

  #receive(reply: TranslatorReply): void {
    if (reply.type === 'progress') {
      this.progress = { loadedBytes: reply.loadedBytes, totalBytes: reply.totalBytes, networkBytes: reply.networkBytes };
      return;
    }
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    if (reply.type === 'error') p.reject(new Error(reply.message));
    else p.resolve(reply);
  }

  #send<T extends TranslatorRequest['type']>(type: T, payload: Payload<T>, transfer: Transferable[] = []) {
    const id = this.#nextId++;
    const req = { id, type, ...payload } as unknown as TranslatorRequest;
    return new Promise<TranslatorReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(req, { transfer });
    });
  }

  async #tracked<R>(work: () => Promise<R>): Promise<R> {
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }

  /** Starts the chosen backend (or the first that works); forcing one that fails throws. */
  setBackend(choice: BackendChoice): Promise<BackendName> {
    return this.#tracked(async () => {
      const reply = await this.#send('setBackend', { choice });
      if (reply.type !== 'backend') throw new Error(`unexpected reply ${reply.type}`);
      this.backend = reply.backend;
      this.attempts = reply.attempts;
      return reply.backend;
    });
  }

  /** Downloads (or reads from cache) the generator for a direction: the pair's own, or its distilled student with quality 'fast'. */
  load(modelKey: string, manifest: CheckpointManifest, direction: Direction, shardBase: string, quality?: Quality): Promise<LoadResult> {
    return this.#tracked(async () => {
      this.progress = null;
      try {
        const reply = await this.#send('load', { modelKey, manifest: $state.snapshot(manifest), direction, shardBase, quality });
        if (reply.type !== 'loaded') throw new Error(`unexpected reply ${reply.type}`);
        const { id: _id, type: _type, ...result } = reply;
        return result;
      } finally {
        this.progress = null;
      }
    });
  }

  /** Translates pixels on the device; the input buffer is copied, the result is new. */
  translate(modelKey: string, direction: Direction, image: Pixels, quality?: Quality): Promise<TranslateResult> {
    return this.#tracked(async () => {
      const copy = { width: image.width, height: image.height, data: new Uint8ClampedArray(image.data) };
      const reply = await this.#send('translate', { modelKey, direction, image: copy, quality }, [copy.data.buffer]);
      if (reply.type !== 'translated') throw new Error(`unexpected reply ${reply.type}`);
      this.backend = reply.backend;
      const { id: _id, type: _type, ...result } = reply;
      return result;
    });
  }

  terminate(): void {
    this.#worker.terminate();
    for (const p of this.#pending.values()) p.reject(new Error('the translator was closed'));
    this.#pending.clear();
  }
}
