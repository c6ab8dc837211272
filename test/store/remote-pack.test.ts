// A pack from a URL: a repository in the diffusers ONNX layout (no manifest.json) gets its manifest from
// its configs, downloads through the same resumable, hashed store, and has its files' SHA-256s pinned by
// the first verified download. The network is a fake server; IndexedDB is fake-indexeddb.
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { PocketError } from '../../src/core/errors';
import { CATALOG } from '../../src/store/catalog';
import { CHUNK_BYTES, ChunkStore } from '../../src/store/chunk-store';
import { inspectPack, readPackFile } from '../../src/store/pack-store';
import { addPackFromUrl, packBaseUrl } from '../../src/store/remote-pack';
import { REPO } from '../shared';
import { FakePackServer, makePack } from './fake-pack-server';

const FIXTURE = resolve(REPO, 'test/fixtures/packs/sd21-base');
const BASE = 'https://models.example/sd21/';
let n = 0;

function layoutServer(): FakePackServer {
  if (!existsSync(FIXTURE)) throw new Error(`${FIXTURE} is missing: run \`python3 training/recipe.py fixtures\``);
  const files = new Map<string, Uint8Array>();
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e !== 'manifest.json') files.set(relative(FIXTURE, p), new Uint8Array(readFileSync(p)));
    }
  };
  walk(FIXTURE);
  return new FakePackServer(BASE, null, files);
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('packBaseUrl', () => {
  it('turns the addresses people paste into the folder the files are served from', () => {
    expect(packBaseUrl('https://huggingface.co/org/sd-turbo-onnx')).toBe('https://huggingface.co/org/sd-turbo-onnx/resolve/main/');
    expect(packBaseUrl('https://huggingface.co/runwayml/stable-diffusion-v1-5/tree/onnx')).toBe('https://huggingface.co/runwayml/stable-diffusion-v1-5/resolve/onnx/');
    expect(packBaseUrl('https://example.org/m/sd15/manifest.json')).toBe('https://example.org/m/sd15/');
    expect(packBaseUrl('https://example.org/m/sd15/model_index.json?x=1')).toBe('https://example.org/m/sd15/');
    expect(packBaseUrl('/models/x', 'http://127.0.0.1:4173/')).toBe('http://127.0.0.1:4173/models/x/');
  });

  it('refuses what is not a web address, saying what to give', () => {
    expect(() => packBaseUrl('not a url')).toThrow(/is not a web address/);
    expect(() => packBaseUrl('ftp://example.org/m/')).toThrow(/https:\/\//);
  });
});

describe('addPackFromUrl on a repository layout', () => {
  it('writes the manifest from the configs, downloads every file and pins its SHA-256; a second add fetches no weights', async () => {
    const server = layoutServer();
    const store = new ChunkStore(createStore(`remote-${n++}`, 'kv'));
    const turbo = CATALOG.find((e) => e.id === 'sd-turbo')!;
    const record = await addPackFromUrl(BASE, store, { fetch: server.fetch, hints: turbo });
    expect(record.layout).toBe(true);
    expect(record.manifest).toMatchObject({ id: 'sd-turbo', name: 'SD-Turbo', defaults: { steps: 1, guidanceScale: 1 } });
    expect(record.manifest.tokenizer.padTokenId).toBe(0);
    for (const f of record.manifest.files) expect(f.sha256, f.path).toBe(sha256(server.files.get(f.path)!));
    expect((await store.getPack('sd-turbo'))!.manifest.files.every((f) => f.sha256.length === 64)).toBe(true);
    expect((await inspectPack(store, record.manifest)).complete).toBe(true);
    const onnx = await readPackFile(store, 'sd-turbo', 'unet/weights.pb');
    expect(Buffer.compare(Buffer.from(onnx), Buffer.from(server.files.get('unet/weights.pb')!))).toBe(0);

    const before = server.requests.length;
    await addPackFromUrl(BASE, store, { fetch: server.fetch, hints: turbo });
    const again = server.requests.slice(before).filter((r) => r.method === 'GET' && r.path.endsWith('.onnx'));
    expect(again).toEqual([]);
  });

  it('resumes an interrupted download of an unpinned file from its last chunk, and pins the right hash', async () => {
    const server = layoutServer();
    const big = 'text_encoder/model.onnx';
    expect(server.files.get(big)!.length).toBeGreaterThan(CHUNK_BYTES);
    server.misbehave.cutAfter = new Map([[big, CHUNK_BYTES + 100_000]]);
    const store = new ChunkStore(createStore(`remote-${n++}`, 'kv'));
    const err = await addPackFromUrl(BASE, store, { fetch: server.fetch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PocketError);
    expect((err as PocketError).code).toBe('network');
    const partial = (await store.listPacks())[0]!;
    expect(partial.manifest.files.find((f) => f.path === big)!.sha256).toBe('');

    const record = await addPackFromUrl(BASE, store, { fetch: server.fetch });
    const resumed = server.requests.filter((r) => r.path === big && r.method === 'GET');
    expect(resumed.at(-1)!.range).toBe(`bytes=${CHUNK_BYTES}-`);
    expect(record.manifest.files.find((f) => f.path === big)!.sha256).toBe(sha256(server.files.get(big)!));
    expect((await inspectPack(store, record.manifest)).complete).toBe(true);
  });

  it('a folder with a manifest installs from it; a file missing there is reported, not mistaken for a layout', async () => {
    const { manifest, files } = makePack('with-manifest', { 'text_encoder/model.onnx': 1000, 'unet/model.onnx': 3000, 'vae_decoder/model.onnx': 500, 'tokenizer/vocab.json': 100, 'tokenizer/merges.txt': 50 });
    const server = new FakePackServer(BASE, manifest, files);
    server.misbehave.status = new Map([['unet/model.onnx', 404]]);
    const store = new ChunkStore(createStore(`remote-${n++}`, 'kv'));
    const err = await addPackFromUrl(`${BASE}manifest.json`, store, { fetch: server.fetch }).catch((e: unknown) => e);
    expect((err as PocketError).message).toContain('HTTP 404 for unet/model.onnx');
    expect(server.requests.some((r) => r.path.startsWith('scheduler/') || r.method === 'HEAD')).toBe(false);
    server.misbehave = {};
    const record = await addPackFromUrl(BASE, store, { fetch: server.fetch });
    expect(record.layout).toBeUndefined();
    expect((await inspectPack(store, record.manifest)).complete).toBe(true);
  });

  it('names what a folder without a manifest lacks', async () => {
    const server = layoutServer();
    server.files.delete('vae_decoder/model.onnx');
    const err = await addPackFromUrl(BASE, new ChunkStore(createStore(`remote-${n++}`, 'kv')), { fetch: server.fetch }).catch((e: unknown) => e);
    expect((err as PocketError).message).toContain('it has no vae_decoder/model.onnx');
  });

  it('stores a layout as int8 as it downloads: each file fetched once, whole, and nothing kept when a file is cut short', async () => {
    const server = layoutServer();
    const store = new ChunkStore(createStore(`remote-${n++}`, 'kv'));
    server.misbehave.cutAfter = new Map([['unet/weights.pb', 1000]]);
    const err = await addPackFromUrl(BASE, store, { fetch: server.fetch, int8: true }).catch((e: unknown) => e);
    expect((err as PocketError).message).toMatch(/download of unet\/weights.pb was interrupted.*nothing of this model was kept/);
    expect(await store.listPacks()).toEqual([]);
    server.misbehave = {};
    server.requests.length = 0;
    const record = await addPackFromUrl(BASE, store, { fetch: server.fetch, int8: true });
    expect(record.id).toMatch(/-int8$/);
    const gets = server.requests.filter((r) => r.method === 'GET' && /model\.onnx|weights\.pb/.test(r.path));
    expect(gets.map((r) => r.path).sort()).toEqual(['text_encoder/model.onnx', 'unet/model.onnx', 'unet/weights.pb', 'vae_decoder/model.onnx']);
    expect(gets.every((r) => !r.range)).toBe(true);
    expect((await inspectPack(store, record.manifest)).complete).toBe(true);
    const unet = await readPackFile(store, record.id, 'unet/model.onnx');
    expect(sha256(unet)).toBe(record.manifest.files.find((f) => f.path === 'unet/model.onnx')!.sha256);
    expect(record.manifest.totalBytes).toBeLessThan([...server.files.values()].reduce((a, b) => a + b.length, 0));
  });
});
