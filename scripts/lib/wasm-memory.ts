// Memory figures of this Node process: its resident set from /proc, and onnxruntime-web's WASM heap
// (caught as the module is instantiated; a WASM heap grows and never shrinks).
import { readFileSync } from 'node:fs';

export const MB = 1024 * 1024;

/** A /proc/self/status figure in bytes ("VmRSS:", "VmHWM:"). */
export const procStatus = (key: string): number =>
  Number(/(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? NaN) * 1024;

// Typed by hand: the scripts' realm has no DOM (WebAssembly) typings.
interface WasmMemory { readonly buffer: ArrayBuffer }
interface WasmApi { Memory: abstract new (...a: never[]) => WasmMemory; instantiate: (source: unknown, imports?: Record<string, unknown>) => Promise<unknown> }

/** Call before onnxruntime-web loads; gives a function that reads the WASM heap's size in bytes. */
export function watchWasmMemory(): () => number {
  const wa = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const memories: WasmMemory[] = [];
  const collect = (o: unknown) => {
    if (o && typeof o === 'object') for (const v of Object.values(o)) if (v instanceof wa.Memory) memories.push(v);
  };
  const original = wa.instantiate.bind(wa);
  wa.instantiate = async (source, imports) => {
    for (const ns of Object.values(imports ?? {})) collect(ns);
    const result = await original(source, imports);
    const instance = (result as { instance?: { exports: unknown } }).instance ?? (result as { exports: unknown });
    collect(instance.exports);
    return result;
  };
  return () => memories.reduce((a, m) => a + m.buffer.byteLength, 0);
}
