import { describe, expect, it } from 'vitest';
import { detectCapabilities, type GpuLike } from '../../src/runtime/capabilities';
import { createRuntime } from '../../src/runtime/ort-runtime';

const adapter = (f16: boolean) => ({
  features: { has: (n: string) => f16 && n === 'shader-f16' },
  limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 },
  info: { vendor: 'qualcomm', architecture: 'adreno-7xx' },
});

describe('detectCapabilities', () => {
  it('reads the adapter: name, shader-f16, buffer limits', async () => {
    const gpu: GpuLike = { requestAdapter: async () => adapter(false) };
    const c = await detectCapabilities(gpu);
    expect(c.webgpu).toEqual({ adapter: 'qualcomm adreno-7xx', shaderF16: false, maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 });
  });

  it('reports no WebGPU when there is no adapter or the request throws', async () => {
    expect((await detectCapabilities({ requestAdapter: async () => null })).webgpu).toBe(false);
    expect((await detectCapabilities({ requestAdapter: async () => { throw new Error('blocked'); } })).webgpu).toBe(false);
    expect((await detectCapabilities(undefined)).webgpu).toBe(false);
  });

  it('uses one WASM thread without cross-origin isolation', async () => {
    expect((await detectCapabilities(undefined)).wasmThreads).toBe(1);
  });
});

describe('createRuntime', () => {
  it('says what to do when WebGPU is forced but missing', async () => {
    const err = await createRuntime({ backend: 'webgpu', gpu: { requestAdapter: async () => null } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'webgpu-unavailable' });
    expect(String((err as Error).message)).toMatch(/WASM/);
  });

  it('falls back to WASM on auto without an adapter', async () => {
    const r = await createRuntime({ backend: 'auto', gpu: { requestAdapter: async () => null }, numThreads: 1 });
    expect(r.backend).toBe('wasm');
  });
});
