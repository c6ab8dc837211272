// The weight store against a real IndexedDB implementation (fake-indexeddb, in Node) and a fake
// network: verified installs, zero refetches, resume from the last chunk, restart when ranges are
// ignored, integrity failures that keep nothing, quota failures that leave no half pack, repairs.
import 'fake-indexeddb/auto';
import { createStore, del, keys } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { PocketError } from '../../src/core/errors';
import { CHUNK_BYTES, ChunkStore, type FileRecord } from '../../src/store/chunk-store';
import { inspectPack, installPack, readPackFile, storedPackReader, type InstallProgress } from '../../src/store/pack-store';
import { FakePackServer, makePack } from './fake-pack-server';

const BASE = 'https://models.example/pack/';
let dbCount = 0;

function setup(sizes: Record<string, number> = { 'text_encoder/model.onnx': 300_000, 'unet/model.onnx': 2 * CHUNK_BYTES + 123_456, 'vae_decoder/model.onnx': 500_000, 'tokenizer/vocab.json': 2000, 'tokenizer/merges.txt': 1000 }) {
  const { manifest, files } = makePack(`p${dbCount}`, sizes);
  const server = new FakePackServer(BASE, manifest, files);
  const db = createStore(`test-db-${dbCount++}`, 'kv');
  return { manifest, files, server, store: new ChunkStore(db), db };
}

async function caught(p: Promise<unknown>): Promise<PocketError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PocketError);
    return e as PocketError;
  }
  throw new Error('expected a failure');
}

const UNET = 'unet/model.onnx';

/** Byte equality without vitest's element-by-element deep equal (minutes on megabytes). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array | undefined): void {
  expect(expected).toBeDefined();
  expect(actual.length).toBe(expected!.length);
  expect(Buffer.compare(actual, expected!)).toBe(0);
}

describe('installPack', () => {
  it('downloads every file verified with progress, and a second install fetches nothing but the manifest', async () => {
    const { manifest, files, server, store } = setup();
    const progress: InstallProgress[] = [];
    await installPack(BASE, store, { fetch: server.fetch, onProgress: (p) => progress.push(p) });
    for (const [path, bytes] of files) expectSameBytes(await readPackFile(store, manifest.id, path), bytes);
    expect(progress.at(-1)).toMatchObject({ status: 'ready', loaded: manifest.totalBytes, total: manifest.totalBytes });
    expect(progress.some((p) => p.status === 'download' && p.loaded > 0 && p.loaded < p.total)).toBe(true);
    expect((await inspectPack(store, manifest)).complete).toBe(true);

    server.requests.length = 0;
    await installPack(BASE, store, { fetch: server.fetch });
    expect(server.fileRequests()).toEqual([]);
    const manifestBytes = await storedPackReader(store, manifest.id)('manifest.json');
    expect(JSON.parse(new TextDecoder().decode(manifestBytes)).id).toBe(manifest.id);
  });

  it('hands over the manifest before a byte of the weights is fetched (the page shows its example prompts then)', async () => {
    const { manifest, server, store } = setup();
    const seen: { name: string; weightRequests: number }[] = [];
    await installPack(BASE, store, { fetch: server.fetch, onManifest: (m) => seen.push({ name: m.name, weightRequests: server.fileRequests().length }) });
    expect(seen).toEqual([{ name: manifest.name, weightRequests: 0 }]);
    expect(server.fileRequests().length).toBeGreaterThan(0);
  });

  it('resumes a cut download from the last complete chunk with Range + If-Range', async () => {
    const { manifest, files, server, store } = setup();
    const cutAt = CHUNK_BYTES + 700_000; // one chunk committed, part of the second lost
    server.misbehave.cutAfter = new Map([[UNET, cutAt]]);
    const err = await caught(installPack(BASE, store, { fetch: server.fetch }));
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/resume/);
    const rec = await store.getFile(manifest.id, UNET);
    expect(rec).toMatchObject({ chunks: 1, verified: false });
    expect((await inspectPack(store, manifest)).complete).toBe(false);

    server.requests.length = 0;
    await installPack(BASE, store, { fetch: server.fetch });
    const unetReqs = server.fileRequests().filter((r) => r.path === UNET);
    expect(unetReqs).toHaveLength(1);
    expect(unetReqs[0]).toMatchObject({ range: `bytes=${CHUNK_BYTES}-`, status: 206 });
    expect(unetReqs[0]!.ifRange).toMatch(/^"/);
    expect(unetReqs[0]!.bytesSent).toBe(files.get(UNET)!.length - CHUNK_BYTES);
    expectSameBytes(await readPackFile(store, manifest.id, UNET), files.get(UNET));
  });

  it('restarts cleanly from byte 0 when the server ignores the range', async () => {
    const { manifest, files, server, store } = setup();
    server.misbehave.cutAfter = new Map([[UNET, CHUNK_BYTES + 10]]);
    await caught(installPack(BASE, store, { fetch: server.fetch }));
    server.misbehave.ignoreRange = true;
    const progress: InstallProgress[] = [];
    await installPack(BASE, store, { fetch: server.fetch, onProgress: (p) => progress.push(p) });
    expectSameBytes(await readPackFile(store, manifest.id, UNET), files.get(UNET));
    expect(progress.at(-1)!.loaded).toBe(manifest.totalBytes);
    expect(progress.every((p) => p.loaded <= p.total)).toBe(true);
  });

  it('rejects a file with wrong bytes with an integrity error naming it, and keeps none of it', async () => {
    const { manifest, files, server, store } = setup();
    const bad = files.get(UNET)!.slice();
    bad[bad.length - 5] = bad[bad.length - 5]! ^ 0xff;
    server.misbehave.corrupt = new Map([[UNET, bad]]);
    const err = await caught(installPack(BASE, store, { fetch: server.fetch }));
    expect(err.code).toBe('integrity');
    expect(err.message).toContain(UNET);
    expect(await store.getFile(manifest.id, UNET)).toBeUndefined();
    expect((await store.presentChunks(manifest.id, UNET)).size).toBe(0);
    expect((await inspectPack(store, manifest)).complete).toBe(false);
  });

  it('says plainly, before fetching a byte, that a pack will not fit', async () => {
    const { manifest, server, store } = setup();
    const err = await caught(installPack(BASE, store, { fetch: server.fetch, storage: { estimate: async () => ({ usage: 1_000_000, quota: 2_000_000 }) } }));
    expect(err.code).toBe('quota-exceeded');
    expect(err.message).toMatch(/needs \d+\.\d MB .* only 1\.0 MB more/);
    expect(server.fileRequests()).toEqual([]);
    expect(await store.listPacks()).toEqual([]);
    expect(manifest.totalBytes).toBeGreaterThan(1_000_000);
  });

  it('turns QuotaExceededError half-way into a clear message and leaves no half-stored pack', async () => {
    const { manifest, server } = setup();
    const db = createStore(`test-db-${dbCount++}`, 'kv');
    let commits = 0;
    class FullDisk extends ChunkStore {
      override async commitChunk(record: FileRecord, index: number, bytes: Uint8Array): Promise<void> {
        if (++commits > 3) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return super.commitChunk(record, index, bytes);
      }
    }
    const store = new FullDisk(db);
    const err = await caught(installPack(BASE, store, { fetch: server.fetch }));
    expect(err.code).toBe('quota-exceeded');
    expect(err.message).toMatch(/ran out of storage.*partial download was removed/);
    expect(await store.listPacks()).toEqual([]);
    expect(await store.getFile(manifest.id, 'text_encoder/model.onnx')).toBeUndefined();
    expect(await keys(db)).toEqual([]);
  });

  it('detects chunks evicted behind its back and repairs by fetching only those', async () => {
    const { manifest, files, server, store, db } = setup();
    await installPack(BASE, store, { fetch: server.fetch });
    await del(`chunk/${manifest.id}/${UNET}/1`, db);
    const state = await inspectPack(store, manifest);
    expect(state.complete).toBe(false);
    expect(state.files.find((f) => f.file.path === UNET)!.missingChunks).toEqual([1]);
    await expect(readPackFile(store, manifest.id, UNET)).rejects.toMatchObject({ code: 'integrity' });

    server.requests.length = 0;
    await installPack(BASE, store, { fetch: server.fetch });
    expect(server.fileRequests().map((r) => [r.path, r.range, r.bytesSent])).toEqual([[UNET, `bytes=${CHUNK_BYTES}-${2 * CHUNK_BYTES - 1}`, CHUNK_BYTES]]);
    expectSameBytes(await readPackFile(store, manifest.id, UNET), files.get(UNET));
    expect((await inspectPack(store, manifest)).complete).toBe(true);
  });

  it('stores and reads back an empty file', async () => {
    const { manifest, server, store } = setup({ 'text_encoder/model.onnx': 1000, 'unet/model.onnx': 0, 'vae_decoder/model.onnx': 10, 'tokenizer/vocab.json': 5, 'tokenizer/merges.txt': 5 });
    await installPack(BASE, store, { fetch: server.fetch });
    expect(await readPackFile(store, manifest.id, UNET)).toHaveLength(0);
    expect((await inspectPack(store, manifest)).complete).toBe(true);
  });

  it('restarts a file whose ETag changed since the interruption, with progress never past the total', async () => {
    const { manifest, files, server, store } = setup();
    server.misbehave.cutAfter = new Map([[UNET, CHUNK_BYTES + 5]]);
    await caught(installPack(BASE, store, { fetch: server.fetch }));
    server.misbehave.etagSalt = '-v2';
    const progress: InstallProgress[] = [];
    server.requests.length = 0;
    await installPack(BASE, store, { fetch: server.fetch, onProgress: (p) => progress.push(p) });
    expect(server.fileRequests().filter((r) => r.path === UNET).map((r) => r.range)).toEqual([`bytes=${CHUNK_BYTES}-`, null]);
    expectSameBytes(await readPackFile(store, manifest.id, UNET), files.get(UNET));
    expect(progress.every((p) => p.loaded >= 0 && p.loaded <= p.total)).toBe(true);
  });

  it('drops the old bytes of a file the manifest now describes differently', async () => {
    const { manifest, files, server, store } = setup();
    await installPack(BASE, store, { fetch: server.fetch });
    const next = makePack(manifest.id, { 'text_encoder/model.onnx': 300_000, 'unet/model.onnx': 1_000_000, 'vae_decoder/model.onnx': 500_000, 'tokenizer/vocab.json': 2000, 'tokenizer/merges.txt': 1000 });
    const server2 = new FakePackServer(BASE, next.manifest, next.files);
    const progress: InstallProgress[] = [];
    await installPack(BASE, store, { fetch: server2.fetch, onProgress: (p) => progress.push(p) });
    expectSameBytes(await readPackFile(store, manifest.id, UNET), next.files.get(UNET));
    expect((await store.presentChunks(manifest.id, UNET)).size).toBe(1);
    expect(progress.every((p) => p.loaded >= 0 && p.loaded <= p.total)).toBe(true);
    expect(files.get(UNET)!.length).not.toBe(next.files.get(UNET)!.length);
  });

  it('repairs by downloading the whole file when the server ignores ranges, and keeps good chunks on a 503', async () => {
    const { manifest, files, server, store, db } = setup();
    await installPack(BASE, store, { fetch: server.fetch });
    await del(`chunk/${manifest.id}/${UNET}/0`, db);
    server.misbehave.status = new Map([[UNET, 503]]);
    const err = await caught(installPack(BASE, store, { fetch: server.fetch }));
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/503 .*Nothing stored was lost/);
    expect((await store.presentChunks(manifest.id, UNET)).size).toBe(2);
    const state = await inspectPack(store, manifest);
    expect(state.files.find((f) => f.file.path === UNET)).toMatchObject({ repairing: true, missingChunks: [0] });

    server.misbehave = { ignoreRange: true };
    const progress: InstallProgress[] = [];
    await installPack(BASE, store, { fetch: server.fetch, onProgress: (p) => progress.push(p) });
    expectSameBytes(await readPackFile(store, manifest.id, UNET), files.get(UNET));
    expect(progress.every((p) => p.loaded >= 0 && p.loaded <= p.total)).toBe(true);
    expect(progress.at(-1)!.loaded).toBe(manifest.totalBytes);
  });

  it('cancels on abort and keeps what was committed', async () => {
    const { manifest, server, store } = setup();
    const ac = new AbortController();
    // Cancel in the middle of the UNet's second chunk.
    server.misbehave.onSend = (path, sent) => { if (path === UNET && sent > CHUNK_BYTES + 500_000) ac.abort(); };
    const err = await caught(installPack(BASE, store, { fetch: server.fetch, signal: ac.signal }));
    expect(err.code).toBe('aborted');
    expect(err.message).toMatch(/kept/);
    expect(await store.getFile(manifest.id, UNET)).toMatchObject({ chunks: 1, verified: false });
  });
});
