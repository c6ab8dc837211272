// A picked fp32 / fp16 folder stored as int8 (src/store/quantize-import.ts) in a real IndexedDB
// implementation (fake-indexeddb): the int8 pack is verified file by file and runs in the engine; a
// damaged or truncated source keeps nothing; a second import of the same folder changes nothing.
import 'fake-indexeddb/auto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { createStore, entries } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { ChunkStore } from '../../src/store/chunk-store';
import type { LocalFile } from '../../src/store/local-import';
import { readPackFile, storedPackReader } from '../../src/store/pack-store';
import { checkedStream, importQuantized } from '../../src/store/quantize-import';
import { chunksOf } from '../../src/core/quantize/byte-stream';
import { nodeEngine } from '../../scripts/lib/node-engine';
import { REPO } from '../shared';

const FIXTURES = resolve(REPO, 'test/fixtures/packs');
let n = 0;

/** A fixture folder as the browser's folder picker gives it (paths start with the folder's name). */
function picked(name: string, change: (path: string, b: Uint8Array) => Uint8Array = (_, b) => b): LocalFile[] {
  const root = resolve(FIXTURES, name);
  const walk = (d: string): string[] => readdirSync(d).flatMap((e) => (statSync(join(d, e)).isDirectory() ? walk(join(d, e)) : [join(d, e)]));
  return walk(root).map((p) => {
    const rel = relative(root, p).split('\\').join('/');
    return { path: `${name}/${rel}`, blob: new Blob([change(rel, new Uint8Array(readFileSync(p)))]) };
  });
}

function fresh() {
  const db = createStore(`quantize-import-${n++}`, 'kv');
  return { db, store: new ChunkStore(db) };
}

const snapshot = async (db: ReturnType<typeof createStore>) =>
  new Map((await entries(db)).map(([k, v]) => [String(k), createHash('sha256').update(JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x))).digest('hex')]));

describe('importQuantized', () => {
  it('stores an fp16 layout folder as a verified int8 pack that the engine runs from IndexedDB', async () => {
    const { store } = fresh();
    const statuses = new Set<string>();
    const rec = await importQuantized(picked('sd15-optimum-fp16'), store, { onProgress: (p) => statuses.add(p.status) });
    expect(rec.id).toBe('local-sd15-optimum-fp16-int8');
    expect([...statuses]).toEqual(['quantize', 'ready']);
    for (const f of rec.manifest.files) {
      const bytes = await readPackFile(store, rec.id, f.path);
      expect(createHash('sha256').update(bytes).digest('hex'), f.path).toBe(f.sha256);
    }
    const source = picked('sd15-optimum-fp16').reduce((a, f) => a + f.blob.size, 0);
    expect(rec.manifest.totalBytes).toBeLessThan(source);
    const engine = await nodeEngine({ threads: 1, open: () => storedPackReader(store, rec.id) });
    const info = await engine.load({ packId: rec.id, backend: 'wasm' });
    expect(info.backend).toBe('wasm');
    const r = await engine.generate({ prompt: 'a red circle', steps: 2, width: 256, height: 256, seed: 1, scheduler: 'ddim' });
    expect(r.pixels.length).toBe(256 * 256 * 4);
    await engine.dispose();
  });

  it('refuses a folder whose weights do not match its manifest, and keeps nothing of the int8 copy', async () => {
    const { db, store } = fresh();
    const before = await snapshot(db);
    const damaged = picked('sd15-diffusers', (p, b) => {
      if (p !== 'unet/weights.pb') return b;
      const c = b.slice();
      c[c.length - 1]! ^= 0xff; // the last byte: read only when the stream is drained after the last weight
      return c;
    });
    await expect(importQuantized(damaged, store)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/unet\/weights\.pb does not match/) });
    expect(await snapshot(db)).toEqual(before);
  });

  it('refuses a truncated weight file with the network it belongs to, and keeps nothing', async () => {
    const { db, store } = fresh();
    const cut = picked('sd15-optimum-fp16', (p, b) => (p === 'unet/model.onnx_data' ? b.subarray(0, b.length - 64) : b));
    await expect(importQuantized(cut, store)).rejects.toMatchObject({ message: expect.stringMatching(/unet network cannot be stored as int8: unet\/model\.onnx_data ends early/) });
    expect((await entries(db)).length).toBe(0);
  });

  it('a second import of the same folder changes nothing; another folder under the same id is refused', async () => {
    const { db, store } = fresh();
    await importQuantized(picked('sd15-diffusers'), store);
    const before = await snapshot(db);
    const again = await importQuantized(picked('sd15-diffusers'), store);
    expect(again.id).toBe('fixture-sd15-diffusers-int8');
    expect(await snapshot(db)).toEqual(before);
    // the same manifest id, other weights (and a manifest that pins them)
    const other = picked('sd15-diffusers');
    const te = other.find((f) => f.path.endsWith('text_encoder/model.onnx'))!;
    const bytes = new Uint8Array(readFileSync(resolve(FIXTURES, 'sd15-diffusers/text_encoder/model.onnx')));
    const changed = bytes.slice();
    for (let i = 0; i < 4; i++) changed[(changed.length >> 1) + i]! ^= 0x40; // one float of the token embedding, its exponent too
    const manifest = JSON.parse(readFileSync(resolve(FIXTURES, 'sd15-diffusers/manifest.json'), 'utf8'));
    manifest.files.find((f: { path: string }) => f.path === 'text_encoder/model.onnx').sha256 = createHash('sha256').update(changed).digest('hex');
    const files = other.map((f) => (f === te ? { ...f, blob: new Blob([changed]) } : f.path.endsWith('/manifest.json') ? { ...f, blob: new Blob([JSON.stringify(manifest)]) } : f));
    await expect(importQuantized(files, store)).rejects.toMatchObject({ code: 'bad-request', message: expect.stringMatching(/already on this device.*Nothing was changed/) });
    expect(await snapshot(db)).toEqual(before);
  });

  it('checks a file\'s hash over all its bytes, also those after the last weight the quantizer reads', async () => {
    const bytes = new Uint8Array(1 << 20).map((_, i) => i * 7);
    const right = createHash('sha256').update(bytes).digest('hex');
    const read = async (sha: string) => {
      const s = checkedStream(chunksOf(bytes, 64 << 10), bytes.length, 'unet/weights.pb', sha);
      await s.read(100); // the quantizer stops early…
      await s.close(); // …and closing drains the rest through the hash
    };
    await expect(read(right)).resolves.toBeUndefined();
    await expect(read('0'.repeat(64))).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/unet\/weights\.pb does not match/) });
  });

  it('refuses a network file (weights inside it) that does not match the manifest, and keeps nothing', async () => {
    const { db, store } = fresh();
    const damaged = picked('sd15-diffusers', (p, b) => {
      if (p !== 'text_encoder/model.onnx') return b;
      const c = b.slice();
      for (let i = 0; i < 4; i++) c[(c.length >> 1) + i]! ^= 0x40;
      return c;
    });
    await expect(importQuantized(damaged, store)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/text_encoder\/model\.onnx does not match/) });
    expect((await entries(db)).length).toBe(0);
  });
});
