// The engine on the built-in pack, in Node on onnxruntime-web's WASM backend: it draws what it is asked.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PocketError } from '../../src/core/errors';
import type { Engine } from '../../src/worker/engine';
import type { EngineInfo } from '../../src/worker/engine-api';
import { nodeEngine } from '../../scripts/lib/node-engine';
import { DEFAULT_TILES } from '../../src/core/pipeline/tiled-vae';
import { BLUE, ORANGE, RED, borderFraction, largestBlob, offBackground, psnr } from '../image-checks';
import { BUILTIN_PACK, REPO } from '../shared';

let engine: Engine;
let info: EngineInfo;
beforeAll(async () => {
  engine = await nodeEngine();
  info = await engine.load({ packId: BUILTIN_PACK, backend: 'wasm' });
});
afterAll(() => engine?.dispose());

describe('Engine with the shapes pack', () => {
  it('loads on WASM when asked, with the pack limits', () => {
    expect(info.backend).toBe('wasm');
    expect(info.limits).toMatchObject({ minSize: 256, maxSize: 768, multipleOf: 64 });
  });

  // What the stand-in pack reliably draws is the prompt's background colour with an object on it
  // (training/README.md: background right for 100 % of prompts; the object's colour for 81-90 %, its
  // shape at chance). These tests hold the whole pipeline to that, and to the orange object of a seed
  // that draws one clearly (its red comes out dark on blue — too far from the palette's red for the blob
  // check at all but one of seeds 0-39): a broken tokenizer, text encoder, guidance, scheduler or VAE
  // scaling gives the wrong background, none, or no orange. DDIM: the pack's default sampler.
  const draw = (prompt: string, seed = 1) => engine.generate({ prompt, steps: 20, width: 256, height: 256, seed, scheduler: 'ddim' });

  it.each([0, 1, 2, 3])('draws "a red circle on a blue background" (seed %i): a blue picture with an object on it', async (seed) => {
    const r = await draw('a red circle on a blue background', seed);
    expect(borderFraction(r.pixels, r.width, r.height, BLUE)).toBeGreaterThan(0.9);
    const object = offBackground(r.pixels, r.width, r.height, BLUE);
    expect(object).toBeGreaterThan(0.01);
    expect(object).toBeLessThan(0.5);
  });

  it('draws an orange blob for "a orange circle on a blue background" (seed 3), and no orange one for a green circle', async () => {
    const orange = await draw('a orange circle on a blue background', 3);
    expect(largestBlob(orange.pixels, orange.width, orange.height, ORANGE)).toBeGreaterThan(0.02);
    const green = await draw('a green circle on a blue background', 3);
    expect(largestBlob(green.pixels, green.width, green.height, ORANGE)).toBeLessThan(0.005);
  });

  it('follows the prompt, not a fixed picture: the background swaps when the prompt does', async () => {
    const r = await draw('a blue circle on a red background');
    expect(borderFraction(r.pixels, r.width, r.height, RED)).toBeGreaterThan(0.9);
    expect(borderFraction(r.pixels, r.width, r.height, BLUE)).toBeLessThan(0.05);
  });

  it('gives identical pixels for the same seed and settings', async () => {
    const req = { prompt: 'two purple triangles on a white background', steps: 6, width: 256, height: 320, seed: 11, scheduler: 'euler-ancestral' };
    const a = await engine.generate(req);
    const b = await engine.generate(req);
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
  });

  it('decodes in tiles close to the whole decode (PSNR ≥ 30 dB at 512², 32-latent tiles, 8 overlap)', async () => {
    const req = { prompt: 'a red circle on a blue background', steps: 8, width: 512, height: 512, seed: 4, scheduler: 'ddim' };
    const whole = await engine.generate(req);
    const tiled = await engine.generate(req, { vaeTiles: DEFAULT_TILES });
    const db = psnr(whole.pixels, tiled.pixels);
    console.log(`tiled vs whole VAE decode at 512²: ${db.toFixed(1)} dB`);
    expect(db).toBeGreaterThanOrEqual(30);
    expect(db).toBeLessThan(Infinity); // the tiled path really ran (GroupNorm differs per tile)
  });

  it('refuses a size outside the pack limits with a message', async () => {
    const err = await engine.generate({ prompt: 'a red circle', width: 1024, height: 256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PocketError);
    expect((err as PocketError).message).toMatch(/256 to 768/);
  });
});

describe('Engine in low-memory mode (one network loaded at a time)', () => {
  it('opens each network when its stage starts and releases it after: same pixels, every file read again each run', async () => {
    const reads = new Map<string, number>();
    const low = await nodeEngine({
      open: (folder) => (p) => {
        reads.set(p, (reads.get(p) ?? 0) + 1);
        return readFile(resolve(folder, p));
      },
    });
    try {
      expect((await low.load({ packId: BUILTIN_PACK, backend: 'wasm', lowMemory: true })).lowMemory).toBe(true);
      const req = { prompt: 'a yellow star on a black background', steps: 3, width: 256, height: 256, seed: 5, scheduler: 'ddim' };
      const onnx = ['text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx'];
      expect(onnx.map((p) => reads.get(p))).toEqual([1, 1, 1]);
      const a = await low.generate(req);
      expect(onnx.map((p) => reads.get(p))).toEqual([2, 2, 2]);
      const b = await low.generate(req);
      expect(onnx.map((p) => reads.get(p))).toEqual([3, 3, 3]);
      const kept = await engine.generate(req);
      expect(Buffer.compare(Buffer.from(a.pixels), Buffer.from(kept.pixels))).toBe(0);
      expect(Buffer.compare(Buffer.from(b.pixels), Buffer.from(kept.pixels))).toBe(0);
    } finally {
      await low.dispose();
    }
  });
});
