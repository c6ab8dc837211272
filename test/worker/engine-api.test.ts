// PocketEngine in the worker's (and Node's) Engine: when "auto" retries on WASM, how a load is
// cancelled, and what a lost GPU device leaves behind — on real onnxruntime-web (WASM) and the built-in pack.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { PocketError } from '../../src/core/errors';
import { nodeEngine } from '../../scripts/lib/node-engine';
import { BUILTIN_PACK } from '../shared';

/** A reader of the built-in pack that counts reads and can fail one file the way the store does. */
function countingReader(fail?: { path: string; error: PocketError }) {
  const reads: string[] = [];
  const open = () => async (p: string) => {
    reads.push(p);
    if (fail && p === fail.path) throw fail.error;
    return readFile(resolve(BUILTIN_PACK, p));
  };
  return { reads, open };
}

/** A WebGPU adapter (what capabilities read) whose buffers are too small for any weight: WebGPU refuses at load. */
const tinyGpu = {
  requestAdapter: async () => ({ features: { has: () => false }, limits: { maxBufferSize: 1024, maxStorageBufferBindingSize: 1024 }, info: { vendor: 'test', architecture: 'tiny' } }),
};

describe('Auto retries on WASM only when the failure is the backend\'s', () => {
  it('a damaged file fails once, without reading the pack a second time (no WebGPU here)', async () => {
    const r = countingReader({ path: 'unet/model.onnx', error: new PocketError('integrity', 'unet/model.onnx does not match its SHA-256') });
    const engine = await nodeEngine({ open: r.open });
    const err = await engine.load({ packId: 'builtin', backend: 'auto' }).catch((e: unknown) => e);
    expect((err as PocketError).code).toBe('integrity');
    expect(r.reads.filter((p) => p === 'manifest.json')).toHaveLength(1);
  });

  it('on a WebGPU adapter too: an integrity or network failure is not retried on WASM', async () => {
    for (const code of ['integrity', 'network', 'aborted'] as const) {
      const r = countingReader({ path: 'text_encoder/model.onnx', error: new PocketError(code, `${code} failure`) });
      const engine = await nodeEngine({ open: r.open, gpu: tinyGpu });
      const err = await engine.load({ packId: 'builtin', backend: 'auto' }).catch((e: unknown) => e);
      expect((err as PocketError).code).toBe(code);
      expect(r.reads.filter((p) => p === 'manifest.json')).toHaveLength(1);
    }
  });

  it('what WebGPU cannot take is retried on WASM, and says why', async () => {
    const r = countingReader();
    const engine = await nodeEngine({ open: r.open, gpu: tinyGpu });
    const info = await engine.load({ packId: 'builtin', backend: 'auto' });
    expect(info.backend).toBe('wasm');
    expect(info.fallbackReason).toMatch(/larger than this GPU's largest buffer/);
    expect(r.reads.filter((p) => p === 'manifest.json')).toHaveLength(2);
    await engine.dispose();
  });
});

describe('load', () => {
  it('a signal aborted half-way stops the load between networks and leaves nothing loaded', async () => {
    const ac = new AbortController();
    const r = countingReader();
    const engine = await nodeEngine({
      open: () => async (p) => {
        if (p === 'unet/model.onnx') ac.abort();
        return r.open()(p);
      },
    });
    const err = await engine.load({ packId: 'builtin', backend: 'wasm' }, { signal: ac.signal }).catch((e: unknown) => e);
    expect((err as PocketError).code).toBe('aborted');
    expect(engine.loaded).toBeUndefined();
    expect(r.reads).not.toContain('vae_decoder/model.onnx');
    // and the same engine loads afterwards
    expect((await engine.load({ packId: BUILTIN_PACK, backend: 'wasm' })).packName).toMatch(/Shapes/);
    await engine.dispose();
  });

  it('a load cancelled before its turn leaves the loaded pack loaded', async () => {
    const engine = await nodeEngine();
    await engine.load({ packId: BUILTIN_PACK, backend: 'wasm' });
    const pack = engine.loaded;
    const ac = new AbortController();
    ac.abort();
    const err = await engine.load({ packId: BUILTIN_PACK, backend: 'wasm', lowMemory: true }, { signal: ac.signal }).catch((e: unknown) => e);
    expect((err as PocketError).code).toBe('aborted');
    expect(engine.loaded).toBe(pack);
    await engine.dispose();
  });

  it('keeps the loaded pack when nothing changed, and reports the pack\'s figures', async () => {
    const r = countingReader();
    const engine = await nodeEngine({ open: r.open });
    const a = await engine.load({ packId: 'builtin', backend: 'wasm' });
    const b = await engine.load({ packId: 'builtin', backend: 'wasm' });
    expect(b).toBe(a);
    expect(r.reads.filter((p) => p === 'manifest.json')).toHaveLength(1);
    expect(a).toMatchObject({ downscaleFactor: 8, lowMemory: false, defaults: { scheduler: 'ddim' }, limits: { downscaleFactor: 8 } });
    await engine.dispose();
  });
});

describe('generate', () => {
  it('after a lost device the sessions are released and the next generate asks for a load', async () => {
    const engine = await nodeEngine();
    await engine.load({ packId: BUILTIN_PACK, backend: 'wasm' });
    const pack = engine.loaded!;
    const dispose = vi.spyOn(pack, 'dispose');
    pack.generate = () => Promise.reject(new PocketError('device-lost', 'The GPU stopped responding.'));
    const err = await engine.generate({ prompt: 'a red circle', steps: 1, width: 256, height: 256 }).catch((e: unknown) => e);
    expect((err as PocketError).code).toBe('device-lost');
    expect(dispose).toHaveBeenCalledOnce();
    expect(engine.loaded).toBeUndefined();
    const next = await engine.generate({ prompt: 'a red circle', steps: 1, width: 256, height: 256 }).catch((e: unknown) => e);
    expect((next as PocketError).message).toMatch(/No model is loaded/);
  });

  it('streams previews at its own cadence: a fast one every 2 steps and on the last', async () => {
    const engine = await nodeEngine();
    await engine.load({ packId: BUILTIN_PACK, backend: 'wasm' });
    const seen: [number, number | undefined][] = [];
    // one pass (the built-in pack sketches 256×256 at 128×128 first): the cadence, not the passes, is checked here
    await engine.generate({ prompt: 'a red circle', steps: 5, width: 256, height: 256, scheduler: 'ddim', twoPass: false },
      { onProgress: (p) => seen.push([p.step, p.preview?.width]) });
    expect(seen).toEqual([[1, undefined], [2, 32], [3, undefined], [4, 32], [5, 32]]);
    await engine.dispose();
  });
});
