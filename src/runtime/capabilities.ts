// What this device can run: WebGPU adapter, shader-f16, buffer limits, WASM threads. The GPU object is
// injectable (navigator.gpu in a page or worker; Dawn's in Node on a GPU machine).

/** The part of the WebGPU API the capability check reads (a subset of GPU / GPUAdapter). */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<AdapterLike | null>;
}
export interface AdapterLike {
  readonly features: { has(name: string): boolean };
  readonly limits: { readonly maxBufferSize: number; readonly maxStorageBufferBindingSize: number };
  readonly info?: { readonly vendor?: string; readonly architecture?: string; readonly description?: string; readonly isFallbackAdapter?: boolean };
  /** Older Chromium put the flag on the adapter itself. */
  readonly isFallbackAdapter?: boolean;
}

export type Backend = 'webgpu' | 'wasm';
export type BackendChoice = 'auto' | Backend;

export interface Capabilities {
  readonly webgpu: false | {
    readonly adapter: string;
    /**
     * A software renderer (a fallback adapter, or one that names SwiftShader, llvmpipe or a CPU device):
     * WebGPU emulated on the CPU, many times slower than WASM (SwiftShader here: 129.7 s against 2.4 s for
     * 20 steps at 256²). "Auto" does not choose it.
     */
    readonly software: boolean;
    readonly shaderF16: boolean;
    readonly maxBufferSize: number;
    readonly maxStorageBufferBindingSize: number;
  };
  readonly crossOriginIsolated: boolean;
  readonly hardwareConcurrency: number;
  /** WASM threads: only with cross-origin isolation (SharedArrayBuffer). */
  readonly wasmThreads: number;
}

interface NavigatorLike {
  readonly gpu?: GpuLike;
  readonly hardwareConcurrency?: number;
}

const nav = (): NavigatorLike | undefined => (globalThis as { navigator?: NavigatorLike }).navigator;

export function defaultGpu(): GpuLike | undefined {
  return nav()?.gpu;
}

/** Adapter names that mean WebGPU is emulated on the CPU. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|warp|\bcpu\b/i;

/** Why "auto" runs on WASM although a WebGPU adapter is there (it is a software renderer); undefined otherwise. */
export function autoChoseWasm(choice: BackendChoice, capabilities: Capabilities): string | undefined {
  const gpu = capabilities.webgpu;
  return choice === 'auto' && gpu && gpu.software
    ? `its adapter (${gpu.adapter}) is a software renderer, slower than the CPU. Choose WebGPU to use it anyway.`
    : undefined;
}

/** What the page says beside the Device choice: why WebGPU is not used, or that the one chosen is emulated. */
export function backendNote(choice: BackendChoice, capabilities: Capabilities, fallbackReason?: string): string {
  const reason = fallbackReason ?? autoChoseWasm(choice, capabilities);
  if (reason) return `WebGPU was not used: ${reason}`;
  const gpu = capabilities.webgpu;
  return choice === 'webgpu' && gpu && gpu.software
    ? 'Warning: this WebGPU adapter is a software renderer (the GPU emulated on the CPU): expect it to be many times slower than WASM.'
    : '';
}

export async function detectCapabilities(gpu: GpuLike | undefined = defaultGpu()): Promise<Capabilities> {
  let webgpu: Capabilities['webgpu'] = false;
  if (gpu) {
    try {
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (adapter) {
        const info = adapter.info;
        const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
        webgpu = {
          adapter: name,
          software: info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(name),
          shaderF16: adapter.features.has('shader-f16'),
          maxBufferSize: adapter.limits.maxBufferSize,
          maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        };
      }
    } catch {
      webgpu = false;
    }
  }
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return { webgpu, crossOriginIsolated: isolated, hardwareConcurrency: nav()?.hardwareConcurrency ?? 1, wasmThreads: wasmThreads() };
}

/** How many threads onnxruntime-web's WASM backend gets here: up to 4 cores where the page is cross-origin isolated. */
export function wasmThreads(): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return isolated ? Math.max(1, Math.min(nav()?.hardwareConcurrency ?? 1, 4)) : 1;
}
