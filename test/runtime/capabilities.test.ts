import { describe, expect, it } from 'vitest';
import { backendNote, detectCapabilities, type GpuLike } from '../../src/runtime/capabilities';
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
    expect(c.webgpu).toEqual({ adapter: 'qualcomm adreno-7xx', software: false, shaderF16: false, maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 });
  });

  it.each([
    ['a fallback adapter', { info: { vendor: 'google', architecture: '', isFallbackAdapter: true } }],
    ['the older flag on the adapter', { isFallbackAdapter: true, info: { vendor: 'google' } }],
    ['SwiftShader by name', { info: { vendor: 'google', architecture: 'swiftshader' } }],
    ['Mesa\'s llvmpipe', { info: { vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }],
  ])('calls %s a software renderer', async (_, over) => {
    const c = await detectCapabilities({ requestAdapter: async () => ({ ...adapter(false), ...over }) });
    expect(c.webgpu && c.webgpu.software).toBe(true);
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

describe('backendNote (beside the Device choice, foreseen by the page before the load and said again after it)', () => {
  it('says why Auto skips a software adapter, warns when one is chosen, and says nothing for a real GPU or WASM', async () => {
    const soft = await detectCapabilities({ requestAdapter: async () => ({ ...adapter(false), info: { vendor: 'google', architecture: 'swiftshader' } }) });
    const real = await detectCapabilities({ requestAdapter: async () => adapter(true) });
    const none = await detectCapabilities(undefined);
    expect(backendNote('auto', soft)).toBe('WebGPU was not used: its adapter (google swiftshader) is a software renderer, slower than the CPU. Choose WebGPU to use it anyway.');
    expect(backendNote('webgpu', soft)).toMatch(/^Warning: this WebGPU adapter is a software renderer/);
    expect([backendNote('auto', real), backendNote('webgpu', real), backendNote('wasm', soft), backendNote('auto', none)]).toEqual(['', '', '', '']);
    // The load's own reason (WebGPU failed on the device) is said over the foreseen one.
    expect(backendNote('auto', real, 'the device was lost.')).toBe('WebGPU was not used: the device was lost.');
  });
});

describe('createRuntime', () => {
  it('says what to do when WebGPU is forced but missing', async () => {
    const err = await createRuntime({ backend: 'webgpu', gpu: { requestAdapter: async () => null } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'webgpu-unavailable' });
    expect(String((err as Error).message)).toMatch(/WASM/);
  });

  it('on auto, does not choose a software WebGPU adapter, and says why; WebGPU chosen explicitly still runs it', async () => {
    const swiftshader: GpuLike = { requestAdapter: async () => ({ ...adapter(false), info: { vendor: 'google', architecture: 'swiftshader' } }) };
    const auto = await createRuntime({ backend: 'auto', gpu: swiftshader, numThreads: 1 });
    expect(auto.backend).toBe('wasm');
    expect(auto.autoChoseWasm).toMatch(/google swiftshader\) is a software renderer, slower than the CPU. Choose WebGPU to use it anyway/);
    expect((await createRuntime({ backend: 'webgpu', gpu: swiftshader, numThreads: 1 })).backend).toBe('webgpu');
    const real = await createRuntime({ backend: 'auto', gpu: { requestAdapter: async () => adapter(true) }, numThreads: 1 });
    expect(real.backend).toBe('webgpu');
    expect(real.autoChoseWasm).toBeUndefined();
  });

  it('falls back to WASM on auto without an adapter', async () => {
    const r = await createRuntime({ backend: 'auto', gpu: { requestAdapter: async () => null }, numThreads: 1 });
    expect(r.backend).toBe('wasm');
  });
});
