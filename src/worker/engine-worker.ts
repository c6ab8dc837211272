/// <reference lib="webworker" />
// The engine's home: a dedicated worker holding one Engine (engine.ts), reading packs from IndexedDB;
// each message is dispatched as one PocketEngine call (dispatch.ts).
import { ChunkStore } from '../store/chunk-store';
import { storedPackReader } from '../store/pack-store';
import { createDispatcher } from './dispatch';
import { warmUp } from '../runtime/ort-runtime';
import { Engine } from './engine';
import type { ToWorker } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

// The weights come from IndexedDB, where the page's download put them verified: no network request.
// onnxruntime-web's .mjs/.wasm are self-hosted under /ort/ (scripts/copy-ort.mjs).
const runtime = { wasmPaths: new URL(`${import.meta.env.BASE_URL}ort/`, self.location.href).href };
const engine = new Engine({ open: (packId) => storedPackReader(new ChunkStore(), packId), runtime });
// onnxruntime-web starts now, beside the page's own start (and a first visit's download), not inside the first load.
warmUp(runtime);

const dispatch = createDispatcher(engine, (msg, transfer = []) => {
  // Only real ArrayBuffers can be transferred (a SharedArrayBuffer is shared already).
  self.postMessage(msg, transfer.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer));
});
self.onmessage = (ev: MessageEvent<ToWorker>) => dispatch(ev.data);
