// Real SD packs without their weights: tiny random-weight networks with the exact signatures of the
// exports found in the wild (training/shapes/fixtures.py, written by `python3 training/recipe.py
// fixtures` before the suites run). Each is imported from its folder as a user's local files would be
// (IndexedDB, hashes pinned or checked), loaded from the store by the engine on onnxruntime-web's
// WASM backend, and must run and produce an image of the size asked for.
import 'fake-indexeddb/auto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createStore } from 'idb-keyval';
import { afterAll, describe, expect, it } from 'vitest';
import { PocketError } from '../../src/core/errors';
import { ChunkStore } from '../../src/store/chunk-store';
import { blobLayoutReader, manifestFromLayout } from '../../src/store/diffusers-layout';
import { importLocalPack, packRoot, type LocalFile } from '../../src/store/local-import';
import { inspectPack, storedPackReader } from '../../src/store/pack-store';
import type { Engine } from '../../src/worker/engine';
import type { EngineInfo } from '../../src/worker/engine-api';
import { nodeEngine } from '../../scripts/lib/node-engine';
import { REPO } from '../shared';

const FIXTURES = resolve(REPO, 'test/fixtures/packs');
if (!existsSync(join(FIXTURES, 'index.json'))) {
  throw new Error(`${FIXTURES} is missing: run \`python3 training/recipe.py fixtures\` (npm test does it first)`);
}
interface VariantInfo {
  name: string; description: string; manifest: boolean; width: number; floatType: string; idsType: string;
  timestepType: string; timestepShape: string; unetBatch: number | null; latent: number | null; external: string | null;
  textBatch: number | null; padToken: string; predictionType: string;
}
const VARIANTS: VariantInfo[] = JSON.parse(readFileSync(join(FIXTURES, 'index.json'), 'utf8'));

/** A folder on disk as the browser hands a picked folder over: paths starting with the folder's name. */
function pickFolder(dir: string): LocalFile[] {
  const out: LocalFile[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ path: relative(resolve(dir, '..'), p), blob: new Blob([readFileSync(p)]) });
    }
  };
  walk(dir);
  return out;
}

let db = 0;
const engines: Engine[] = [];
afterAll(() => Promise.all(engines.map((e) => e.dispose())));

async function importAndLoad(v: VariantInfo): Promise<{ engine: Engine; info: EngineInfo; store: ChunkStore; packId: string }> {
  const store = new ChunkStore(createStore(`variants-${db++}`, 'kv'));
  const record = await importLocalPack(pickFolder(join(FIXTURES, v.name)), store);
  const engine = await nodeEngine({ open: (id) => storedPackReader(store, id) });
  engines.push(engine);
  const info = await engine.load({ packId: record.id, backend: 'wasm' });
  return { engine, info, store, packId: record.id };
}

function spread(pixels: Uint8ClampedArray): number {
  let min = 255;
  let max = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    min = Math.min(min, pixels[i]!);
    max = Math.max(max, pixels[i]!);
  }
  return max - min;
}

describe('fixture packs with real SD export signatures', () => {
  it('cover every variant the compatibility list names', () => {
    const has = (pred: (v: VariantInfo) => boolean) => VARIANTS.some(pred);
    expect(has((v) => v.floatType === 'float16') && has((v) => v.floatType === 'float32')).toBe(true);
    expect(has((v) => v.idsType === 'int64') && has((v) => v.idsType === 'int32')).toBe(true);
    for (const t of ['int64', 'float32', 'float16']) expect(has((v) => v.timestepType === t), t).toBe(true);
    for (const s of ['[]', '[1]', '[batch]']) expect(has((v) => v.timestepShape === s), s).toBe(true);
    expect(has((v) => v.unetBatch === 2) && has((v) => v.unetBatch === null) && has((v) => v.unetBatch === 1)).toBe(true);
    expect(has((v) => v.latent === 64) && has((v) => v.width === 768) && has((v) => v.width === 1024)).toBe(true);
    expect(has((v) => v.external === 'weights.pb') && has((v) => v.external === 'model.onnx_data')).toBe(true);
    expect(has((v) => !v.manifest)).toBe(true);
    expect(has((v) => v.predictionType === 'v_prediction') && has((v) => v.predictionType === 'epsilon')).toBe(true);
  });

  it.each(VARIANTS.map((v) => [v.name, v] as const))('%s: imports, loads, adapts and draws an image of the asked size', async (_name, v) => {
    const { engine, info, store, packId } = await importAndLoad(v);
    const state = await inspectPack(store, (await store.getPack(packId))!.manifest);
    expect(state.complete).toBe(true);
    for (const f of state.manifest.files) expect(f.sha256, f.path).toMatch(/^[0-9a-f]{64}$/);
    if (v.external) {
      expect(state.manifest.files.find((f) => f.role === 'external_data')).toMatchObject({ path: `unet/${v.external}`, for: 'unet' });
    }
    const m = engine.loaded!.manifest;
    expect(m.tokenizer.padTokenId).toBe(v.padToken === '!' ? 0 : 49407);
    expect(m.scheduler.prediction_type ?? 'epsilon').toBe(v.predictionType);

    const size = v.latent ? v.latent * 8 : 256;
    if (v.latent) {
      expect(info.limits.fixed).toEqual([size, size]);
      const err = await engine.generate({ prompt: 'a cat', steps: 2, width: 256, height: 256, seed: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PocketError);
      expect((err as PocketError).message).toContain(`${size}×${size} only`);
    }
    const steps = m.defaults.steps === 1 ? 1 : 3;
    const r = await engine.generate({
      prompt: 'a photograph of an astronaut riding a horse', negativePrompt: 'blurry', steps, width: size, height: size,
      seed: 7, guidanceScale: m.defaults.guidanceScale, scheduler: m.defaults.scheduler as 'pndm',
    });
    expect([r.width, r.height]).toEqual([size, size]);
    expect(r.pixels.length).toBe(size * size * 4);
    expect(r.timings.unetMs.length).toBeGreaterThanOrEqual(steps);
    // Random weights draw noise, but real numbers: not a flat (NaN or all-zero) picture.
    expect(spread(r.pixels)).toBeGreaterThan(50);
    // Deterministic through every adapter: the same seed gives the same pixels.
    const again = await engine.generate({ ...r.request });
    expect(Buffer.compare(Buffer.from(again.pixels), Buffer.from(r.pixels))).toBe(0);
  });

  it('writes a layout-only folder\'s manifest from its configs (SD 2.1 768-v: OpenCLIP pad id 0, v-prediction, 768 native)', async () => {
    const { files } = packRoot(pickFolder(join(FIXTURES, 'sd21-768-v')));
    files.delete('manifest.json');
    const m = await manifestFromLayout(blobLayoutReader(files), { id: 'x', name: 'x' });
    expect(m.architecture).toBe('stable-diffusion-2');
    expect(m.tokenizer).toEqual({ maxLength: 77, bosTokenId: 49406, eosTokenId: 49407, padTokenId: 0 });
    expect(m.scheduler).toMatchObject({ prediction_type: 'v_prediction', beta_schedule: 'scaled_linear', steps_offset: 1 });
    expect(m.defaults.scheduler).toBe('euler');
    expect([m.image.defaultWidth, m.image.defaultHeight]).toEqual([768, 768]);
    expect(m.files.map((f) => f.role).sort()).toEqual(['external_data', 'scheduler_config', 'text_encoder', 'tokenizer_merges', 'tokenizer_vocab', 'unet', 'vae_decoder']);
  });

  it('refuses a folder whose file differs from its manifest, and keeps nothing', async () => {
    const picked = pickFolder(join(FIXTURES, 'sd15-diffusers'));
    const i = picked.findIndex((f) => f.path.endsWith('vae_decoder/model.onnx'));
    const bytes = new Uint8Array(await picked[i]!.blob.arrayBuffer());
    bytes[bytes.length - 5]! ^= 0xff;
    picked[i] = { ...picked[i]!, blob: new Blob([bytes]) };
    const store = new ChunkStore(createStore(`variants-${db++}`, 'kv'));
    const err = await importLocalPack(picked, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PocketError);
    expect((err as PocketError).code).toBe('integrity');
    expect((err as PocketError).message).toContain('vae_decoder/model.onnx');
    expect(await store.listPacks()).toEqual([]);
  });

  it('says which files a layout-only folder lacks', async () => {
    const picked = pickFolder(join(FIXTURES, 'sd15-optimum-fp16')).filter((f) => !f.path.includes('tokenizer/merges.txt'));
    const err = await importLocalPack(picked, new ChunkStore(createStore(`variants-${db++}`, 'kv'))).catch((e: unknown) => e);
    expect((err as PocketError).message).toContain('it has no tokenizer/merges.txt');
  });
});

describe('GPU buffer limits, checked before loading', () => {
  /** A WebGPU adapter (the true boundary) with small limits and no shader-f16. */
  const smallGpu = (bytes: number) => ({
    requestAdapter: async () => ({ features: { has: () => false }, limits: { maxBufferSize: bytes, maxStorageBufferBindingSize: bytes }, info: { vendor: 'test', architecture: 'small' } }),
  });
  const wasm = () => readFile(resolve(REPO, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm'));
  const reader = (name: string) => (p: string) => readFile(join(FIXTURES, name, p));

  it('Auto falls back to WASM when a weight exceeds the GPU\'s largest buffer, and says which', async () => {
    const engine = await nodeEngine({ open: reader, gpu: smallGpu(1024 * 1024) });
    engines.push(engine);
    const info = await engine.load({ packId: 'sd21-base', backend: 'auto' });
    expect(info.backend).toBe('wasm');
    expect(info.fallbackReason).toBe("the text encoder's largest weight (token_embedding, 3.9 MB on the GPU) is larger than this GPU's largest buffer (1.0 MB), so it runs on WASM (CPU).");
    const r = await engine.generate({ prompt: 'a cat', steps: 1, width: 256, height: 256, seed: 1 });
    expect(r.width).toBe(256);
  });

  it('WebGPU chosen explicitly: refused with what does not fit and what to do', async () => {
    const engine = await nodeEngine({ open: reader, gpu: smallGpu(2 * 1024 * 1024) });
    const err = await engine.load({ packId: 'sd21-base', backend: 'webgpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PocketError);
    expect((err as PocketError).code).toBe('unsupported-feature');
    expect((err as PocketError).message).toMatch(/^This model does not fit this GPU: .*token_embedding, 3.9 MB.*2.0 MB.*Choose Auto or WASM/);
  });
});
