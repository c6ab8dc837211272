// The main thread's handle on the engine worker: the same load/generate calls the engine offers, as
// promises, with progress callbacks and AbortSignal cancellation. The worker starts lazily.
import { aborted, PocketError } from '../core/errors';
import type { GenerateRequest } from '../core/pipeline/request';
import type { BackendChoice } from '../runtime/capabilities';
import type { FromWorker, LoadedReply, ToWorker, WireProgress, WireResult } from './protocol';

type Pending = {
  resolve: (m: FromWorker) => void;
  reject: (e: PocketError) => void;
  onProgress?: (p: WireProgress) => void;
};

export class EngineClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private get w(): Worker {
    if (!this.worker) {
      this.worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'engine' });
      this.worker.onmessage = (ev: MessageEvent<FromWorker>) => this.receive(ev.data);
      this.worker.onerror = (ev) => {
        const err = new PocketError('internal', `The engine stopped: ${ev.message || 'worker error'}. Reload the page.`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
    }
    return this.worker;
  }

  private receive(msg: FromWorker): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.progress);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.type === 'error') p.reject(PocketError.fromJSON(msg.error));
    else if (msg.type === 'cancelled') p.reject(aborted());
    else p.resolve(msg);
  }

  private send(msg: ToWorker, pending: Omit<Pending, 'resolve' | 'reject'> = {}): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject, ...pending });
      this.w.postMessage(msg);
    });
  }

  /** Load a pack that is stored on the device (see src/store) on the chosen backend. */
  async load(packId: string, backend: BackendChoice, lowMemory = false): Promise<LoadedReply> {
    const reply = await this.send({ id: this.nextId++, type: 'load', packId, backend, lowMemory });
    if (reply.type !== 'loaded') throw new PocketError('internal', `unexpected reply ${reply.type}`);
    return reply.info;
  }

  async generate(request: GenerateRequest, options: { signal?: AbortSignal; onProgress?: (p: WireProgress) => void; preview?: 'fast' | 'vae'; tiledVae?: boolean } = {}): Promise<WireResult> {
    const id = this.nextId++;
    if (options.signal?.aborted) throw aborted();
    const onAbort = () => this.w.postMessage({ id: this.nextId++, type: 'cancel', target: id } satisfies ToWorker);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const reply = await this.send({ id, type: 'generate', request, ...(options.preview ? { preview: options.preview } : {}), ...(options.tiledVae ? { tiledVae: true } : {}) }, options.onProgress ? { onProgress: options.onProgress } : {});
      if (reply.type !== 'result') throw new PocketError('internal', `unexpected reply ${reply.type}`);
      return reply.result;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}
