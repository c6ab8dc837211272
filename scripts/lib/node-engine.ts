// PocketEngine in Node (the command line, the benchmarks, the tests): the worker's Engine on
// onnxruntime-web's WASM backend — the same .wasm the browser runs — with pack ids that are folders.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { GpuLike } from '../../src/runtime/capabilities';
import { Engine, type PackReader } from '../../src/worker/engine';

export const WASM_BINARY = resolve('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm');

/** A pack folder's files by their manifest paths. */
export const folderReader = (folder: string): PackReader => (path) => readFile(resolve(folder, path));

/** An Engine whose `packId`s are pack folders (diffusers layouts need a manifest.json beside them). */
export async function nodeEngine(options: { readonly threads?: number; readonly open?: (packId: string) => PackReader; readonly gpu?: GpuLike } = {}): Promise<Engine> {
  return new Engine({
    open: options.open ?? folderReader,
    runtime: { wasmBinary: await readFile(WASM_BINARY), numThreads: options.threads ?? 1, ...(options.gpu ? { gpu: options.gpu } : {}) },
  });
}
