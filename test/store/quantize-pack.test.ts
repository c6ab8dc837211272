// A whole pack to int8 (src/store/quantize-pack.ts), then through the app's engine on onnxruntime-web's
// WASM backend: the int8 pack's manifest pins what was written, and it draws what the original draws —
// on an fp32 export with a manifest and on an fp16 diffusers layout without one.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteStream, chunksOf } from '../../src/core/quantize/byte-stream';
import type { PackManifest } from '../../src/store/manifest';
import { type PackSink, quantizePack } from '../../src/store/quantize-pack';
import type { Engine } from '../../src/worker/engine';
import { nodeEngine } from '../../scripts/lib/node-engine';
import { fileStream, folderManifest } from '../../scripts/lib/pack-folder';
import { psnr } from '../image-checks';
import { REPO } from '../shared';

const FIXTURES = resolve(REPO, 'test/fixtures/packs');

function memorySink(files: Map<string, Uint8Array>): PackSink {
  return {
    async create(path) {
      const parts: Uint8Array[] = [];
      return {
        async write(b) { parts.push(b.slice()); },
        async close() { files.set(path, Buffer.concat(parts)); },
      };
    },
  };
}

async function quantizeFolder(name: string) {
  const folder = resolve(FIXTURES, name);
  const manifest = await folderManifest(folder);
  const files = new Map<string, Uint8Array>();
  const result = await quantizePack({ manifest, open: (p) => fileStream(folder, p) }, memorySink(files));
  files.set('manifest.json', new TextEncoder().encode(JSON.stringify(result.manifest)));
  return { source: manifest, folder, files, ...result };
}

const engines: Engine[] = [];
afterAll(async () => { await Promise.all(engines.map((e) => e.dispose())); });

/** Generate with a pack served from memory (the quantized one) or from its folder with a given manifest. */
async function draw(read: (path: string) => Promise<Uint8Array>) {
  const engine = await nodeEngine({ threads: 1, open: () => read });
  engines.push(engine);
  await engine.load({ packId: 'x', backend: 'wasm' });
  return engine.generate({ prompt: 'a red circle on a blue background', steps: 4, width: 256, height: 256, seed: 7, scheduler: 'ddim' });
}

/** The original pack from its folder, its files' hashes filled in (a diffusers layout has none). */
const fromFolder = async (folder: string, manifest: PackManifest) => {
  const files = await Promise.all(manifest.files.map(async (f) => ({ ...f, sha256: createHash('sha256').update(await readFile(join(folder, f.path))).digest('hex') })));
  const pinned = new TextEncoder().encode(JSON.stringify({ ...manifest, files }));
  return async (p: string) => (p === 'manifest.json' ? pinned : new Uint8Array(await readFile(join(folder, p))));
};

describe('quantizePack', () => {
  it('writes an int8 pack whose manifest pins every file it wrote, a quarter of the fp32 size for the weights', async () => {
    const q = await quantizeFolder('sd15-diffusers');
    expect(q.manifest.id).toBe(`${q.source.id}-int8`);
    expect([...new Set(q.manifest.files.map((f) => f.role))].sort()).toEqual([...new Set(q.source.files.map((f) => f.role))].sort());
    expect(q.manifest.files.filter((f) => f.role === 'external_data').map((f) => f.path)).toContain('unet/model.onnx_data');
    for (const f of q.manifest.files) {
      const b = q.files.get(f.path)!;
      expect(b.length, f.path).toBe(f.size);
      expect(createHash('sha256').update(b).digest('hex'), f.path).toBe(f.sha256);
    }
    expect(q.manifest.totalBytes).toBe(q.manifest.files.reduce((a, f) => a + f.size, 0));
    const te = q.reports.text_encoder;
    expect(te.int8Bytes).toBeLessThan(0.3 * te.sourceWeightBytes);
    expect(q.manifest.scheduler).toEqual(q.source.scheduler);
  });

  it.each(['sd15-diffusers', 'sd15-optimum-fp16'])('the int8 copy of %s draws what the original draws (PSNR over 30 dB)', async (name) => {
    const q = await quantizeFolder(name);
    const original = await draw(await fromFolder(q.folder, q.source));
    const int8 = await draw(async (p) => q.files.get(p)!);
    expect(int8.width).toBe(original.width);
    const db = psnr(original.pixels, int8.pixels);
    expect(db).toBeGreaterThan(30);
    expect(db).toBeLessThan(Infinity); // it was quantized: not the same bytes
  });

  it('refuses a damaged weight file and says which network; the sink got no manifest', async () => {
    const folder = resolve(FIXTURES, 'sd15-diffusers');
    const manifest = await folderManifest(folder);
    const files = new Map<string, Uint8Array>();
    const open = async (p: string) => {
      if (!p.endsWith('weights.pb')) return fileStream(folder, p);
      const b = new Uint8Array(await readFile(join(folder, p)));
      return new ByteStream(chunksOf(b.subarray(0, 1000)), b.length);
    };
    await expect(quantizePack({ manifest, open }, memorySink(files))).rejects.toThrow(/unet network cannot be stored as int8: unet\/weights\.pb ends early/);
    expect(files.has('manifest.json')).toBe(false);
  });
});
