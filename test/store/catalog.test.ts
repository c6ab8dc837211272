// "Can this device run it?" before a byte of a multi-GB export is fetched, and sizes that agree with the
// README (SD 1.5's fp32 UNet alone is 3.44 GB, fp16 1.72 GB).
import { describe, expect, it } from 'vitest';
import type { Capabilities } from '../../src/runtime/capabilities';
import { CATALOG, canRun, canRunInt8 } from '../../src/store/catalog';

const base: Capabilities = { webgpu: false, crossOriginIsolated: true, hardwareConcurrency: 8, wasmThreads: 4 };
const gpu = (over: Partial<Exclude<Capabilities['webgpu'], false>> = {}): Capabilities => ({
  ...base, webgpu: { adapter: 'nvidia ada', software: false, shaderF16: true, maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31, ...over },
});
const sd15 = CATALOG.find((e) => e.id === 'sd-1.5')!;
const [fp32, fp16] = [sd15.variants.find((v) => v.precision === 'fp32')!, sd15.variants.find((v) => v.precision === 'fp16')!];

describe('the catalog', () => {
  it('gives SD 1.5\'s sizes per precision as the README does', () => {
    expect((fp32.unetBytes / 1e9).toFixed(2)).toBe('3.44');
    expect((fp16.unetBytes / 1e9).toFixed(2)).toBe('1.72');
    expect((fp32.totalBytes / 1e9).toFixed(1)).toBe('4.1');
    expect((fp32.largestWeightBytes / 1e6).toFixed(0)).toBe('152');
  });

  it('names no taken-down repository as where to get SD 1.5, and says it is gone', () => {
    expect(sd15.whereToFind).toMatch(/taken down in 2024/);
    expect(sd15.whereToFind).not.toMatch(/https?:|huggingface\.co\//);
  });
});

describe('canRun', () => {
  it('no GPU: neither export fits the CPU fallback\'s 4 GB', () => {
    expect(canRun(fp32, base)).toMatchObject({ verdict: 'no', why: expect.stringMatching(/WASM has 4 GB in all/) });
    expect(canRun(fp16, base).verdict).toBe('no');
  });

  it('a phone-class GPU without shader-f16 cannot run fp16; its 128 MiB binding cannot take fp32\'s 152 MB embedding', () => {
    const adreno = gpu({ adapter: 'qualcomm adreno', shaderF16: false, maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 });
    expect(canRun(fp16, adreno)).toMatchObject({ verdict: 'no', why: expect.stringMatching(/no shader-f16/) });
    expect(canRun(fp32, adreno)).toMatchObject({ verdict: 'no', why: expect.stringMatching(/largest buffer/) });
  });

  it('a software WebGPU adapter is no GPU', () => {
    expect(canRun(fp16, gpu({ adapter: 'google swiftshader', software: true }))).toMatchObject({ verdict: 'no', why: expect.stringMatching(/software renderer/) });
  });

  it('a desktop GPU with shader-f16 likely runs both', () => {
    expect(canRun(fp16, gpu()).verdict).toBe('yes');
    expect(canRun(fp32, gpu()).verdict).toBe('yes');
  });
});

describe('canRunInt8', () => {
  it('stored as int8, SD 1.5 fits WASM without a GPU, and runs on a phone-class GPU without shader-f16', () => {
    expect(canRunInt8(fp16, base)).toMatchObject({ verdict: 'maybe', why: expect.stringMatching(/WASM/) });
    expect(canRunInt8(fp32, base).storedBytes).toBeCloseTo(canRunInt8(fp16, base).storedBytes, -6);
    expect((canRunInt8(fp32, base).storedBytes / 1e9).toFixed(2)).toBe('1.03');
    const adreno = gpu({ adapter: 'qualcomm adreno', shaderF16: false, maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 });
    expect(canRunInt8(fp16, adreno)).toMatchObject({ verdict: 'yes', why: expect.stringMatching(/no shader-f16/) });
    expect(canRunInt8(fp16, gpu({ adapter: 'google swiftshader', software: true }))).toMatchObject({ verdict: 'maybe', why: expect.stringMatching(/software renderer/) });
  });
});
