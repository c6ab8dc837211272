// What this device offers the engine: backend and adapter, shader-f16, WebGPU buffer limits, WASM
// threads and cross-origin isolation, storage used and available.
import { formatBytes } from '../core/format';
import { storageSummary } from '../store/pack-store';
import type { EngineInfo } from '../worker/engine-api';

export async function renderDeviceReport(list: HTMLElement, loaded: EngineInfo): Promise<void> {
  const c = loaded.capabilities;
  const space = await storageSummary(navigator.storage);
  const rows: [string, string][] = [
    ['Backend in use', loaded.backend === 'webgpu' ? 'WebGPU' : 'WASM (CPU)'],
    ['WebGPU adapter', c.webgpu ? `${c.webgpu.adapter}${c.webgpu.software ? ' — a software renderer (the GPU emulated on the CPU, slower than WASM)' : ''}` : 'none (WebGPU unavailable)'],
    ['shader-f16', c.webgpu ? (c.webgpu.shaderF16 ? 'yes' : 'no (fp16 models cannot run on WebGPU here)') : '—'],
    ['Max buffer size', c.webgpu ? formatBytes(c.webgpu.maxBufferSize) : '—'],
    ['Max storage binding', c.webgpu ? formatBytes(c.webgpu.maxStorageBufferBindingSize) : '—'],
    ['Memory mode', loaded.lowMemory ? 'one network loaded at a time (low memory)' : 'all three networks stay loaded'],
    ['WASM threads', `${c.wasmThreads} of ${c.hardwareConcurrency} cores`],
    ['Cross-origin isolated', c.crossOriginIsolated ? 'yes (WASM threads allowed)' : 'no (WASM runs single-threaded)'],
    ['Storage', space.quota ? `${formatBytes(space.usage)} used of ${formatBytes(space.quota)}${space.persisted ? ', persistent' : ''}` : 'not reported'],
  ];
  if (loaded.fallbackReason) rows.unshift(['Fell back to WASM because', loaded.fallbackReason]);
  list.replaceChildren(...rows.flatMap(([k, v]) => [
    Object.assign(document.createElement('dt'), { textContent: k }),
    Object.assign(document.createElement('dd'), { textContent: v }),
  ]));
}
