/// <reference lib="webworker" />
// The engine's home: a dedicated worker, and only a dispatcher — each message is one PocketEngine call
// on the worker's Engine (engine.ts), answered by a reply that names the call. Calls are serialised:
// one load or generation at a time on one set of sessions; a cancel aborts the call it names.
import { PocketError } from '../core/errors';
import { ChunkStore } from '../store/chunk-store';
import { storedPackReader } from '../store/pack-store';
import { Engine } from './engine';
import type { FromWorker, ToWorker } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

// The weights come from IndexedDB, where the page's download put them verified: no network request.
// onnxruntime-web's .mjs/.wasm are self-hosted under /ort/ (scripts/copy-ort.mjs).
const engine = new Engine({
  open: (packId) => storedPackReader(new ChunkStore(), packId),
  runtime: { wasmPaths: new URL(`${import.meta.env.BASE_URL}ort/`, self.location.href).href },
});
const running = new Map<number, AbortController>();
let queue: Promise<unknown> = Promise.resolve();

function post(msg: FromWorker, transfer: ArrayBufferLike[] = []): void {
  // Only real ArrayBuffers can be transferred (a SharedArrayBuffer is shared already).
  self.postMessage(msg, transfer.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer));
}

/** Runs one call after the ones before it; its abort controller is what a cancel message reaches. */
function serialised(id: number, call: (signal: AbortSignal) => Promise<void>): void {
  const ac = new AbortController();
  running.set(id, ac);
  queue = queue.then(async () => {
    try {
      await call(ac.signal);
    } catch (err) {
      const e = PocketError.from(err);
      if (e.code === 'aborted') post({ id, type: 'cancelled' });
      else post({ id, type: 'error', error: e.toJSON() });
    } finally {
      running.delete(id);
    }
  });
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'cancel':
      running.get(msg.target)?.abort();
      return;
    case 'load':
      return serialised(msg.id, async (signal) => {
        post({ id: msg.id, type: 'reply', call: 'load', value: await engine.load(msg.params, { signal }) });
      });
    case 'generate':
      return serialised(msg.id, async (signal) => {
        const result = await engine.generate(msg.request, {
          signal,
          ...(msg.preview ? { preview: msg.preview } : {}),
          ...(msg.vaeTiles ? { vaeTiles: msg.vaeTiles } : {}),
          onProgress: (progress) => post({ id: msg.id, type: 'progress', progress }, progress.preview ? [progress.preview.pixels.buffer] : []),
        });
        post({ id: msg.id, type: 'reply', call: 'generate', value: result }, [result.pixels.buffer]);
      });
    case 'dispose':
      return serialised(msg.id, async () => {
        await engine.dispose();
        post({ id: msg.id, type: 'reply', call: 'dispose', value: null });
      });
  }
};
