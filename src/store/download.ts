// One file of a pack, fetched into the chunk store: streamed (never one whole-file buffer), hashed as it
// streams (hash-wasm's SHA-256, whose state can be saved with each chunk), resumed after an interruption
// from the last committed chunk with HTTP Range + If-Range, and restarted cleanly when the server ignores
// the range or the file changed. The bytes of a file whose hash does not match are dropped.
import { createSHA256, type IHasher } from 'hash-wasm';
import { PocketError } from '../core/errors';
import { formatBytes } from '../core/format';
import { chunkCount, emptyFileRecord, type ChunkStore, type FileRecord } from './chunk-store';
import type { PackFile } from './manifest';

export interface DownloadOptions {
  readonly signal?: AbortSignal | undefined;
  /** Called with each batch of newly received bytes (and with a negative count when a restart discards some). */
  readonly onBytes?: (delta: number) => void;
  readonly fetch?: typeof fetch | undefined;
}


export function isQuotaError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'QuotaExceededError';
}

/** Bytes of a file already committed (what a resumed download will not fetch again). */
export function committedBytes(rec: FileRecord | undefined): number {
  if (!rec) return 0;
  return rec.verified ? rec.size : Math.min(rec.size, rec.chunks * rec.chunkBytes);
}

/** A file the manifest has no hash for yet (a catalog or repository-layout pack): its first verified
 * download pins it. */
export function unpinned(file: PackFile): boolean {
  return file.sha256 === '';
}

export function matchesManifest(rec: FileRecord | undefined, file: PackFile): rec is FileRecord {
  return !!rec && rec.size === file.size && (unpinned(file) || rec.sha256 === file.sha256);
}

/** Drop what is stored of a file and start it from byte 0, taking back the bytes progress counted. */
async function restart(store: ChunkStore, rec: FileRecord, file: PackFile, hasher: IHasher, opts: DownloadOptions): Promise<FileRecord> {
  opts.onBytes?.(-(matchesManifest(rec, file) ? committedBytes(rec) : 0));
  await store.dropFile(rec.packId, rec.path);
  hasher.init();
  return emptyFileRecord(rec.packId, file);
}

/** Fetch `url` into the store as `file` of pack `packId`, resuming what is there; resolves once verified. */
export async function downloadFile(url: string, packId: string, file: PackFile, store: ChunkStore, opts: DownloadOptions = {}): Promise<void> {
  const doFetch = opts.fetch ?? fetch;
  const stored = await store.getFile(packId, file.path);
  if (matchesManifest(stored, file) && stored.verified) return;
  let rec = stored ?? emptyFileRecord(packId, file);
  const hasher = await createSHA256();
  hasher.init();
  const present = await store.presentChunks(packId, file.path);
  const intact = matchesManifest(stored, file) && !stored.repairing && stored.hashState && (stored.validator || stored.etag)
    && Array.from({ length: stored.chunks }, (_, i) => present.has(i)).every(Boolean);
  if (rec.chunks > 0 && intact && rec.hashState) hasher.load(rec.hashState);
  else if (rec.chunks > 0 || present.size > 0 || !matchesManifest(stored, file)) rec = await restart(store, rec, file, hasher, opts);

  let offset = rec.chunks * rec.chunkBytes;
  const headers: Record<string, string> = {};
  if (offset > 0) {
    headers.Range = `bytes=${offset}-`;
    if (rec.validator) headers['If-Range'] = rec.validator;
  }
  let res: Response;
  try {
    res = await doFetch(url, { signal: opts.signal ?? null, headers });
  } catch (e) {
    if (opts.signal?.aborted) throw new PocketError('aborted', 'Download cancelled. What was downloaded is kept: press Download to resume.');
    throw new PocketError('network', `Could not reach the server for ${file.path} (${e instanceof Error ? e.message : String(e)}). Check the connection and press Download to resume.`, { file: file.path });
  }
  if (res.status === 416 && offset > 0) {
    // The range lies beyond the file as the server has it now: start the file over.
    await res.body?.cancel();
    await restart(store, rec, file, hasher, opts);
    return downloadFile(url, packId, file, store, opts);
  }
  if (!res.ok || !res.body) throw new PocketError('network', `The server answered HTTP ${res.status} for ${file.path}. Check the pack's address and try again.`, { file: file.path, status: res.status });
  const etag = res.headers.get('ETag') ?? undefined;
  // If-Range needs a strong validator (RFC 9110 §13.1.5): a weak ETag would make every resume a restart.
  const validator = (etag && !etag.startsWith('W/') ? etag : res.headers.get('Last-Modified')) ?? undefined;
  const rangeStart = res.status === 206 ? Number(/bytes (\d+)-/.exec(res.headers.get('Content-Range') ?? '')?.[1] ?? NaN) : 0;
  const changed = res.status === 206 && !!rec.etag && !!etag && etag !== rec.etag;
  if (offset > 0 && (res.status !== 206 || rangeStart !== offset || changed)) {
    // The server ignored the range or the file changed (If-Range failed): start over from byte 0.
    if (res.status === 206) {
      await res.body.cancel();
      await restart(store, rec, file, hasher, opts);
      return downloadFile(url, packId, file, store, opts);
    }
    rec = await restart(store, rec, file, hasher, opts);
    offset = 0;
  }
  rec = { ...rec, validator, etag };

  const total = chunkCount(file.size, rec.chunkBytes);
  let index = rec.chunks;
  let buf = new Uint8Array(Math.min(rec.chunkBytes, file.size - offset));
  let fill = 0;
  const reader = res.body.getReader();
  const commit = async (): Promise<void> => {
    hasher.update(buf);
    const last = index + 1 === total;
    if (last) {
      const digest = hasher.digest('hex');
      rec = { ...rec, sha256: digest };
      if (!unpinned(file) && digest !== file.sha256) {
        await store.dropFile(packId, file.path);
        opts.onBytes?.(-(index * rec.chunkBytes + fill));
        throw new PocketError('integrity', `${file.path} arrived damaged (its SHA-256 does not match the pack's manifest), so it was not kept. Try again; if it keeps failing, the server holds a different file than the manifest says.`, { file: file.path });
      }
    }
    rec = { ...rec, chunks: index + 1, hashState: last ? undefined : hasher.save(), verified: last };
    await store.commitChunk(rec, index, buf);
    index += 1;
    fill = 0;
    if (!last) buf = new Uint8Array(Math.min(rec.chunkBytes, file.size - index * rec.chunkBytes));
  };
  try {
    if (file.size === 0) return await commit();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let at = 0;
      while (at < value.length) {
        if (index >= total) throw new PocketError('integrity', `${file.path} is larger than the pack's manifest says, so it was not kept.`, { file: file.path });
        const n = Math.min(value.length - at, buf.length - fill);
        buf.set(value.subarray(at, at + n), fill);
        fill += n;
        at += n;
        opts.onBytes?.(n);
        if (fill === buf.length) await commit();
      }
    }
    if (index < total) {
      throw new PocketError('network', `The download of ${file.path} ended early (${formatBytes(index * rec.chunkBytes + fill)} of ${formatBytes(file.size)}). Press Download to resume from where it stopped.`, { file: file.path });
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    if (e instanceof PocketError && e.code === 'integrity') await store.dropFile(packId, file.path);
    if (e instanceof PocketError) throw e;
    if (isQuotaError(e)) throw e;
    if (opts.signal?.aborted) throw new PocketError('aborted', 'Download cancelled. What was downloaded is kept: press Download to resume.');
    throw new PocketError('network', `The download of ${file.path} was interrupted (${e instanceof Error ? e.message : String(e)}). What arrived is kept: press Download to resume from the last complete chunk.`, { file: file.path });
  }
}
