// PocketEngine on the page: each call is proxied to the engine worker (started lazily) and resolved by
// the reply that names it (protocol.ts), with progress callbacks and AbortSignal cancellation.
import { aborted, PocketError } from '../core/errors';
import type { GenerateRequest } from '../core/pipeline/request';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import type { EngineGenerateOptions, EngineInfo, EngineProgress, LoadParams, PocketEngine } from './engine-api';
import type { CallName, Calls, FromWorker, Replies, ToWorker } from './protocol';

interface Waiting<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (e: PocketError) => void;
  readonly onProgress?: (p: EngineProgress) => void;
}

/** The calls in flight, one map per call so that each reply's value keeps its type. */
type InFlight = { [K in CallName]: Map<number, Waiting<Replies[K]>> };

export class EngineClient implements PocketEngine {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly inFlight: InFlight = { load: new Map(), generate: new Map(), dispose: new Map() };

  private get w(): Worker {
    if (!this.worker) {
      this.worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'engine' });
      this.worker.onmessage = (ev: MessageEvent<FromWorker>) => this.receive(ev.data);
      this.worker.onerror = (ev) => {
        const err = new PocketError('internal', `The engine stopped: ${ev.message || 'worker error'}. Reload the page.`);
        for (const calls of Object.values(this.inFlight)) {
          for (const c of calls.values()) c.reject(err);
          calls.clear();
        }
      };
    }
    return this.worker;
  }

  private waiting(id: number): Waiting<never> | undefined {
    return this.inFlight.load.get(id) ?? this.inFlight.generate.get(id) ?? this.inFlight.dispose.get(id);
  }

  private forget(id: number): void {
    for (const calls of Object.values(this.inFlight)) calls.delete(id);
  }

  private receive(msg: FromWorker): void {
    switch (msg.type) {
      case 'progress':
        this.inFlight.generate.get(msg.id)?.onProgress?.(msg.progress);
        return;
      case 'reply':
        switch (msg.call) {
          case 'load': return settle(this.inFlight.load, msg.id, msg.value);
          case 'generate': return settle(this.inFlight.generate, msg.id, msg.value);
          case 'dispose': return settle(this.inFlight.dispose, msg.id, msg.value);
        }
        return;
      case 'error':
      case 'cancelled': {
        const w = this.waiting(msg.id);
        this.forget(msg.id);
        w?.reject(msg.type === 'error' ? PocketError.fromJSON(msg.error) : aborted());
        return;
      }
    }
  }

  /** Send one call; an abort of `signal` sends a cancel naming it. */
  private call<K extends CallName>(type: K, args: Calls[K], calls: InFlight[K], options: { signal?: AbortSignal; onProgress?: (p: EngineProgress) => void } = {}): Promise<Replies[K]> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(aborted());
    const id = this.nextId++;
    const onAbort = () => this.w.postMessage({ id: this.nextId++, type: 'cancel', target: id } satisfies ToWorker);
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise<Replies[K]>((resolve, reject) => {
      const done = () => signal?.removeEventListener('abort', onAbort);
      calls.set(id, {
        resolve: (v) => { done(); resolve(v); },
        reject: (e) => { done(); reject(e); },
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      this.w.postMessage({ id, type, ...args });
    });
  }

  /** Load a pack that is stored on the device (see src/store); a newer load's signal aborts this one's wait. */
  load(params: LoadParams, options: { readonly signal?: AbortSignal } = {}): Promise<EngineInfo> {
    return this.call('load', { params }, this.inFlight.load, options.signal ? { signal: options.signal } : {});
  }

  generate(request: GenerateRequest, options: EngineGenerateOptions = {}): Promise<GenerateResult> {
    const { signal, onProgress, preview, vaeTiles } = options;
    return this.call('generate', { request, ...(preview ? { preview } : {}), ...(vaeTiles ? { vaeTiles } : {}) }, this.inFlight.generate,
      { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  }

  async dispose(): Promise<void> {
    if (!this.worker) return;
    await this.call('dispose', {}, this.inFlight.dispose);
  }
}

function settle<T>(calls: Map<number, Waiting<T>>, id: number, value: T): void {
  const w = calls.get(id);
  calls.delete(id);
  w?.resolve(value);
}
