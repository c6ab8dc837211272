// The engine on the built-in pack, in Node on onnxruntime-web's WASM backend: it draws what it is asked.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PocketError } from '../../src/core/errors';
import type { Engine } from '../../src/worker/engine';
import type { EngineInfo } from '../../src/worker/engine-api';
import { nodeEngine } from '../../scripts/lib/node-engine';
import { DEFAULT_TILES } from '../../src/core/pipeline/tiled-vae';
import { BLUE, RED, borderFraction, judgeObjects, psnr, readJudgeFixture } from '../image-checks';
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

  // The stand-in pack draws the object it is asked for: at 256 px (sketched at 128 px, its layout size, and
  // redrawn), held-in prompts get the right colour for 98 % and the right shape for 100 % (training/README.md,
  // `recipe.py eval`). Judged here by the recipe's own judge (test/image-checks.ts judgeObjects), at seeds
  // `npx tsx scripts/judge-seeds.ts` found right in Node: "a red circle on a blue background" 8 of seeds 0-7,
  // "a yellow star on a blue background" 16 of 0-15, "a green triangle on a blue background" 8 of 0-7. A broken
  // tokenizer, text encoder, guidance, scheduler or VAE scaling gives the wrong background, colour or shape.
  // DDIM at the pack's default guidance.
  const draw = (prompt: string, seed = 1) => engine.generate({ prompt, steps: 20, width: 256, height: 256, seed, scheduler: 'ddim', guidanceScale: info.defaults.guidanceScale });
  const judged = async (prompt: string, seed: number) => {
    const r = await draw(prompt, seed);
    const v = judgeObjects(readJudgeFixture(), r.pixels, r.width, r.height);
    return { background: v.background, objects: v.objects.map((o) => `${o.colour} ${o.shape}`) };
  };

  it.each([0, 1, 2, 3])('draws "a red circle on a blue background" (seed %i): one red circle on blue', async (seed) => {
    expect(await judged('a red circle on a blue background', seed)).toEqual({ background: 'blue', objects: ['red circle'] });
  });

  it('draws the shape and colour asked for at the same noise: a yellow star, then a green triangle (seed 0)', async () => {
    expect(await judged('a yellow star on a blue background', 0)).toEqual({ background: 'blue', objects: ['yellow star'] });
    expect(await judged('a green triangle on a blue background', 0)).toEqual({ background: 'blue', objects: ['green triangle'] });
  });

  // Above its layout size (128×128) the pack draws in two passes: "a yellow star on a blue background" at
  // 512×512 comes out one yellow star for 8 of seeds 0-7 that way, 0 of 8 in one pass (seed 1: two stars;
  // `npx tsx scripts/judge-seeds.ts --width 512 --height 512 [--one-pass]`).
  it('draws one object at 512×512 by sketching it at 128×128 first (seed 1: two stars in one pass)', async () => {
    const r = await engine.generate({ prompt: 'a yellow star on a blue background', steps: 20, width: 512, height: 512, seed: 1, scheduler: 'ddim', guidanceScale: info.defaults.guidanceScale });
    expect(r.layout).toEqual({ width: 128, height: 128, calls: 20, fullSteps: 8, strength: 0.4 });
    const v = judgeObjects(readJudgeFixture(), r.pixels, r.width, r.height);
    expect({ background: v.background, objects: v.objects.map((o) => `${o.colour} ${o.shape}`) }).toEqual({ background: 'blue', objects: ['yellow star'] });
  });

  // Two named objects, each in its own colour: "a red star and a blue circle on a white background" at 256×256
  // is a blue circle and a red star for 11 of seeds 0-11 in Node with regional prompts (the pack's image.regions:
  // each object's caption draws it in its own corner of the sketch; all but seed 10), 5 of 12 drawn whole (seeds
  // 1, 3, 6, 7, 8; `npx tsx scripts/judge-seeds.ts … [--whole]`). Seeds 0 and 2 are wrong drawn whole.
  it.each([0, 2])('draws two named objects each in its own colour (seed %i: a red star and a blue circle)', async (seed) => {
    const r = await draw('a red star and a blue circle on a white background', seed);
    expect(r.regions?.map((g) => g.prompt)).toEqual(seed % 2
      ? ['a red star in the top right on a white background', 'a blue circle in the bottom left on a white background']
      : ['a red star in the top left on a white background', 'a blue circle in the bottom right on a white background']);
    const v = judgeObjects(readJudgeFixture(), r.pixels, r.width, r.height);
    expect({ background: v.background, objects: v.objects.map((o) => `${o.colour} ${o.shape}`).sort() }).toEqual({ background: 'white', objects: ['blue circle', 'red star'] });
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
