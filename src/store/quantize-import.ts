// A picked fp32 or fp16 export stored as an int8 pack: quantized while it streams from the disk into
// IndexedDB (src/store/quantize-pack.ts), so neither the full-precision copy nor the int8 one is ever held
// whole in memory, and only the int8 copy is stored (about a quarter of fp32's bytes, half of fp16's).
// Nothing already stored is touched: the new pack gets its own id ("<id>-int8"), its record is written
// only once every file is in and hashed, and a failure (a damaged file, a full disk, a cancel) drops what
// was written of it. A folder whose manifest pins SHA-256s has each source file checked as it is read.
import { createSHA256 } from 'hash-wasm';
import { PocketError } from '../core/errors';
import { formatBytes } from '../core/format';
import { ByteStream, chunksOfStream } from '../core/quantize/byte-stream';
import { CHUNK_BYTES, ChunkStore, type FileRecord, type PackRecord } from './chunk-store';
import { isQuotaError } from './download';
import { type ImportOptions, type LocalFile, packRoot, pickedManifest } from './local-import';
import type { PackManifest } from './manifest';
import { checkFits } from './pack-store';
import { type FileSink, type PackSink, quantizePack } from './quantize-pack';

/** What the int8 copy will take, before it is made: the networks' float weights shrink to a quarter (fp32)
 * or a half (fp16); without reading them the type is unknown, so the fp16 share is assumed. */
export function int8Estimate(m: PackManifest): number {
  const nets = new Set(['text_encoder', 'unet', 'vae_decoder', 'external_data']);
  return m.files.reduce((a, f) => a + (nets.has(f.role) ? Math.ceil(f.size * 0.52) : f.size), 0);
}

/** Writes a file of unknown size into the chunk store, one 4 MiB chunk per transaction. */
function chunkSink(store: ChunkStore, packId: string, path: string): FileSink {
  let rec: FileRecord = { packId, path, size: 0, sha256: '', chunkBytes: CHUNK_BYTES, chunks: 0, verified: false };
  let buf = new Uint8Array(CHUNK_BYTES);
  let fill = 0;
  const flush = async (last: boolean, sha256 = '') => {
    const bytes = buf.slice(0, fill);
    rec = { ...rec, size: rec.size + fill, chunks: rec.chunks + 1, ...(last ? { sha256, verified: true } : {}) };
    await store.commitChunk(rec, rec.chunks - 1, bytes);
    fill = 0;
  };
  return {
    async write(b) {
      let at = 0;
      while (at < b.length) {
        const take = Math.min(b.length - at, CHUNK_BYTES - fill);
        buf.set(b.subarray(at, at + take), fill);
        fill += take;
        at += take;
        if (fill === CHUNK_BYTES) await flush(false);
      }
    },
    async close(written) {
      if (fill > 0 || rec.chunks === 0) await flush(true, written.sha256);
      else await store.putFileRecord({ ...rec, sha256: written.sha256, verified: true });
      buf = new Uint8Array(0);
      if (rec.size !== written.size) throw new PocketError('internal', `${path}: ${rec.size} bytes stored of ${written.size}`);
    },
  };
}

/** A hashing-only sink: what an int8 copy would hold, without storing it (a copy already on the device). */
const hashOnly: PackSink = { create: async () => ({ write: async () => undefined, close: async () => undefined }) };

/** A source file as a stream; with a known SHA-256 the whole file is hashed as it passes (the rest drained
 * when the quantizer stops early) and a mismatch fails the import. */
export function checkedStream(chunks: AsyncIterable<Uint8Array>, size: number, path: string, sha256: string): ByteStream {
  if (!sha256) return new ByteStream(chunks, size);
  async function* checked(): AsyncGenerator<Uint8Array> {
    const hasher = await createSHA256();
    hasher.init();
    const it = chunks[Symbol.asyncIterator]();
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        hasher.update(r.value);
        yield r.value;
      }
    } finally {
      for (let r = await it.next(); !r.done; r = await it.next()) hasher.update(r.value);
      if (hasher.digest('hex') !== sha256) {
        throw new PocketError('integrity', `${path} does not match the pack's manifest (its SHA-256 differs): the file on disk is damaged or from another model. Nothing was kept.`, { file: path });
      }
    }
  }
  return new ByteStream(checked(), size);
}

/** Import a picked folder (fp32 or fp16) as an int8 pack. */
export async function importQuantized(picked: readonly LocalFile[], store: ChunkStore, opts: ImportOptions = {}): Promise<PackRecord> {
  const { name, files } = packRoot(picked);
  const source = await pickedManifest(name, files, opts.hints);
  const sha = (path: string) => source.files.find((f) => f.path === path)?.sha256 ?? '';
  return storeQuantized(source, async (path) => checkedStream(chunksOfStream(files.get(path)!.stream()), files.get(path)!.size, path, sha(path)), `local:${name}`, store, opts);
}

/** Quantize a pack's files, read through `open`, into the store as a new int8 pack. */
export async function storeQuantized(source: PackManifest, open: (path: string) => Promise<ByteStream>, origin: string, store: ChunkStore,
  opts: Pick<ImportOptions, 'signal' | 'onProgress' | 'storage'> = {}): Promise<PackRecord> {
  const id = `${source.id}-int8`;
  const options = {
    id,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (loaded: number, total: number) => opts.onProgress?.({ status: 'quantize', loaded, total, bytesPerSecond: 0, secondsLeft: null }),
  };
  const existing = await store.getPack(id);
  if (existing) {
    // Made once already: the same folder gives the same bytes. Check without storing anything.
    const { manifest } = await quantizePack({ manifest: source, open }, hashOnly, options);
    const stored = new Map(existing.manifest.files.map((f) => [f.path, f.sha256]));
    if (manifest.files.length !== stored.size || manifest.files.some((f) => stored.get(f.path) !== f.sha256)) {
      throw new PocketError('bad-request', `An int8 copy of "${source.name}" made from other files is already on this device (id "${id}"). Nothing was changed. To replace it, delete it under Storage first, then add this folder.`, { field: 'import' });
    }
    opts.onProgress?.({ status: 'ready', loaded: existing.manifest.totalBytes, total: existing.manifest.totalBytes, bytesPerSecond: 0, secondsLeft: 0 });
    return existing;
  }
  const estimate = int8Estimate(source);
  await checkFits(estimate, opts.storage);
  await store.dropPack(id); // leftovers of an earlier import that did not finish
  try {
    const { manifest } = await quantizePack({ manifest: source, open }, { create: async (path) => chunkSink(store, id, path) }, options);
    const record: PackRecord = {
      id,
      manifest: { ...manifest, description: `${source.description ?? source.name} Stored as int8 on this device (weights per output channel; computes in float32).` },
      source: origin,
      addedAt: Date.now(),
    };
    await store.putPack(record);
    opts.onProgress?.({ status: 'ready', loaded: manifest.totalBytes, total: manifest.totalBytes, bytesPerSecond: 0, secondsLeft: 0 });
    return record;
  } catch (e) {
    await store.dropPack(id).catch(() => undefined);
    if (isQuotaError(e)) {
      throw new PocketError('quota-exceeded', `The device ran out of storage while storing "${source.name}" as int8; nothing of it was kept. It needs about ${formatBytes(estimate)}: free up space and try again.`, { needed: estimate });
    }
    if (opts.signal?.aborted) throw new PocketError('aborted', 'Import cancelled; nothing of this model was kept.');
    throw e;
  }
}
