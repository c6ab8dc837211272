// PocketEngine on the page: each call is proxied to the engine worker (started by warmUp or the first call) and resolved by
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

/** What the client needs of a Worker (a fake one in the tests). */
export interface WorkerLike {
  postMessage(msg: ToWorker): void;
  terminate(): void;
  onmessage: ((ev: { readonly data: FromWorker }) => void) | null;
  onerror: ((ev: { readonly message?: string }) => void) | null;
  onmessageerror: (() => void) | null;
}

function startWorker(): WorkerLike {
  const w = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'engine' });
  const like: WorkerLike = { postMessage: (m) => w.postMessage(m), terminate: () => w.terminate(), onmessage: null, onerror: null, onmessageerror: null };
  w.onmessage = (ev: MessageEvent<FromWorker>) => like.onmessage?.(ev);
  w.onerror = (ev) => like.onerror?.(ev);
  w.onmessageerror = () => like.onmessageerror?.();
  return like;
}

/** The calls in flight, one map per call so that each reply's value keeps its type. */
type InFlight = { [K in CallName]: Map<number, Waiting<Replies[K]>> };

export class EngineClient implements PocketEngine {
  private worker: WorkerLike | undefined;
  private nextId = 1;
  private readonly inFlight: InFlight = { load: new Map(), generate: new Map(), dispose: new Map() };

  constructor(private readonly start: () => WorkerLike = startWorker) {}

  private get w(): WorkerLike {
    if (!this.worker) {
      this.worker = this.start();
      this.worker.onmessage = (ev) => this.receive(ev.data);
      // A worker that failed is dropped (its calls rejected), so that the next call starts a fresh one.
      this.worker.onerror = (ev) => this.fail(`The engine stopped: ${ev.message || 'worker error'}. Press Generate to start it again, or reload the page.`);
      this.worker.onmessageerror = () => this.fail('The engine sent a message the page could not read. Reload the page.');
    }
    return this.worker;
  }

  /** Starts the worker now, and with it onnxruntime-web (engine-worker.ts), ahead of the first call. */
  warmUp(): void {
    void this.w;
  }

  private fail(message: string): void {
    this.worker?.terminate();
    this.worker = undefined;
    const err = new PocketError('internal', message);
    for (const calls of Object.values(this.inFlight)) {
      for (const c of calls.values()) c.reject(err);
      calls.clear();
    }
  }

  private send(msg: ToWorker): void {
    this.w.postMessage(msg);
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
  private call<K extends CallName>(msg: (id: number) => ToWorker & { readonly type: K }, calls: InFlight[K], options: { signal?: AbortSignal; onProgress?: (p: EngineProgress) => void } = {}): Promise<Replies[K]> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(aborted());
    const id = this.nextId++;
    const onAbort = () => this.send({ id: this.nextId++, type: 'cancel', target: id });
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise<Replies[K]>((resolve, reject) => {
      const done = () => signal?.removeEventListener('abort', onAbort);
      calls.set(id, {
        resolve: (v) => { done(); resolve(v); },
        reject: (e) => { done(); reject(e); },
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      this.send(msg(id));
    });
  }

  /** Load a pack that is stored on the device (see src/store); a newer load's signal aborts this one's wait. */
  load(params: LoadParams, options: { readonly signal?: AbortSignal } = {}): Promise<EngineInfo> {
    return this.call((id) => ({ id, type: 'load', params }), this.inFlight.load, options.signal ? { signal: options.signal } : {});
  }

  generate(request: GenerateRequest, options: EngineGenerateOptions = {}): Promise<GenerateResult> {
    const { signal, onProgress, preview, vaeTiles } = options;
    return this.call((id) => ({ id, type: 'generate', request, ...(preview ? { preview } : {}), ...(vaeTiles ? { vaeTiles } : {}) }), this.inFlight.generate,
      { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  }

  async dispose(): Promise<void> {
    if (!this.worker) return;
    await this.call((id) => ({ id, type: 'dispose' }), this.inFlight.dispose);
  }
}

function settle<T>(calls: Map<number, Waiting<T>>, id: number, value: T): void {
  const w = calls.get(id);
  calls.delete(id);
  w?.resolve(value);
}
