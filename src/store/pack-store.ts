// Model packs on the device: install one from its folder URL (manifest first, then each file through
// the chunked, hashed, resumable downloader), find out whether a stored pack is intact, repair it by
// fetching only the chunks that are gone, read its files back for the engine, delete it.
import { createSHA256 } from 'hash-wasm';
import { PocketError } from '../core/errors';
import { ChunkStore, chunkCount, chunkLength, type FileRecord, type PackRecord } from './chunk-store';
import { formatBytes } from '../core/format';
import { committedBytes, downloadFile, isQuotaError, matchesManifest, unpinned } from './download';
import { parseManifest, type PackFile, type PackManifest } from './manifest';

export interface InstallProgress {
  /** 'verify': a local folder's files hashed before anything stored is touched; 'quantize': an export
   * stored as int8 as it is read (loaded counts the source's bytes). */
  readonly status: 'manifest' | 'verify' | 'download' | 'quantize' | 'repair' | 'ready';
  readonly file?: string;
  readonly loaded: number;
  readonly total: number;
  readonly bytesPerSecond: number;
  /** null until the speed is known. */
  readonly secondsLeft: number | null;
}

export interface FileState {
  readonly file: PackFile;
  readonly verified: boolean;
  readonly storedBytes: number;
  /** Chunks a verified file has lost (evicted or deleted behind the app's back). */
  readonly missingChunks: readonly number[];
  /** A repair of this file started and did not finish: it resumes, then the hash is checked again. */
  readonly repairing: boolean;
}

export interface PackState {
  readonly manifest: PackManifest;
  readonly files: readonly FileState[];
  /** Every file verified and every chunk present. */
  readonly complete: boolean;
  readonly storedBytes: number;
  readonly missingBytes: number;
}

export interface StorageSummary {
  readonly usage: number;
  readonly quota: number;
  readonly persisted: boolean;
}

/** The part of navigator.storage the store uses (Node has none). */
export interface StorageEstimator {
  estimate(): Promise<{ usage?: number; quota?: number }>;
  persisted?(): Promise<boolean>;
  persist?(): Promise<boolean>;
}

export interface InstallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: (p: InstallProgress) => void;
  /** The pack's manifest, as soon as it is read: before a byte of its weights is fetched. */
  readonly onManifest?: ((m: PackManifest) => void) | undefined;
  readonly fetch?: typeof fetch | undefined;
  /** navigator.storage where it exists; absent in Node. */
  readonly storage?: StorageEstimator | undefined;
}

const MANIFEST = 'manifest.json';

export function folderUrl(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}

export async function fetchManifest(base: string, opts: Pick<InstallOptions, 'signal' | 'fetch'> = {}): Promise<PackManifest> {
  const url = new URL(MANIFEST, folderUrl(base)).href;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, { signal: opts.signal ?? null });
  } catch (e) {
    if (opts.signal?.aborted) throw new PocketError('aborted', 'Download cancelled.');
    throw new PocketError('network', `Could not fetch the model pack's manifest from ${url}. Check the connection (a pack is downloaded once; after that the app works offline).`);
  }
  // A single-page-app host answers every unknown path with its index.html: that is "no manifest" too.
  const status = res.ok && /^text\/html/i.test(res.headers.get('Content-Type') ?? '') ? 404 : res.status;
  if (!res.ok || status === 404) {
    await res.body?.cancel();
    throw new PocketError('network', `The model pack's manifest at ${url} answered HTTP ${status}. Check the pack's address.`, { status });
  }
  return parseManifest(await res.json());
}

/** What of a pack is on the device: per file, verified or how far along, and chunks that went missing. */
export async function inspectPack(store: ChunkStore, manifest: PackManifest): Promise<PackState> {
  const files: FileState[] = [];
  for (const file of manifest.files) {
    const rec = await store.getFile(manifest.id, file.path);
    if (!matchesManifest(rec, file)) {
      files.push({ file, verified: false, repairing: false, storedBytes: 0, missingChunks: [] });
      continue;
    }
    let missing: number[] = [];
    if (rec.verified || rec.repairing) {
      const present = await store.presentChunks(manifest.id, file.path);
      missing = Array.from({ length: chunkCount(file.size, rec.chunkBytes) }, (_, i) => i).filter((i) => !present.has(i));
    }
    const lost = missing.reduce((a, i) => a + chunkLength(rec, i), 0);
    files.push({
      file, verified: rec.verified && missing.length === 0, repairing: !!rec.repairing,
      storedBytes: committedBytes(rec) - lost, missingChunks: missing,
    });
  }
  const storedBytes = files.reduce((a, f) => a + f.storedBytes, 0);
  const total = manifest.files.reduce((a, f) => a + f.size, 0);
  return { manifest, files, complete: files.every((f) => f.verified), storedBytes, missingBytes: Math.max(0, total - storedBytes) };
}

/** Check the pack fits before a byte is fetched, and say plainly when it will not. */
export async function checkFits(missingBytes: number, storage?: StorageEstimator): Promise<void> {
  if (!storage || missingBytes === 0) return;
  const { usage = 0, quota } = await storage.estimate();
  if (quota === undefined) return;
  const free = quota - usage;
  if (missingBytes > free) {
    throw new PocketError('quota-exceeded', `This model needs ${formatBytes(missingBytes)} of storage but the browser allows this site only ${formatBytes(Math.max(0, free))} more. Free up space (or delete another model in Storage) and try again.`, { needed: missingBytes, free });
  }
}

function quotaError(manifest: PackManifest, missingBytes: number): PocketError {
  return new PocketError('quota-exceeded', `The device ran out of storage while saving "${manifest.name}"; the partial download was removed so it takes no space. It needs ${formatBytes(missingBytes)}: free up space and try again.`, { needed: missingBytes });
}

/** Download whatever of the pack at `base` is not on the device yet (resuming, repairing), verified. */
export async function installPack(base: string, store: ChunkStore, opts: InstallOptions = {}): Promise<PackRecord> {
  opts.onProgress?.({ status: 'manifest', loaded: 0, total: 0, bytesPerSecond: 0, secondsLeft: null });
  const manifest = await fetchManifest(base, opts);
  return installManifest(manifest, folderUrl(base), store, opts);
}

/** The manifest with the SHA-256 of every file whose first verified download pinned it. */
async function pinHashes(store: ChunkStore, manifest: PackManifest): Promise<PackManifest> {
  if (!manifest.files.some(unpinned)) return manifest;
  const files = await Promise.all(manifest.files.map(async (f) => {
    if (!unpinned(f)) return f;
    const rec = await store.getFile(manifest.id, f.path);
    return rec?.verified && rec.size === f.size ? { ...f, sha256: rec.sha256 } : f;
  }));
  return { ...manifest, files };
}

/**
 * Download what of `manifest`'s files is missing, from `source` (the pack's folder URL). Files the
 * manifest has no hash for (a repository layout, a catalog entry) are pinned by their first verified
 * download: the stored manifest then carries their SHA-256, and every later check compares with it.
 */
export async function installManifest(manifest: PackManifest, source: string, store: ChunkStore, opts: InstallOptions = {}, layout = false): Promise<PackRecord> {
  manifest = await pinHashes(store, manifest);
  opts.onManifest?.(manifest);
  const state = await inspectPack(store, manifest);
  const previous = await store.getPack(manifest.id);
  let record: PackRecord = { id: manifest.id, manifest, source, addedAt: previous?.addedAt ?? Date.now(), ...(layout ? { layout } : {}) };
  const total = manifest.files.reduce((a, f) => a + f.size, 0);
  if (state.complete) {
    await store.putPack(record);
    opts.onProgress?.({ status: 'ready', loaded: total, total, bytesPerSecond: 0, secondsLeft: 0 });
    return record;
  }
  await checkFits(state.missingBytes, opts.storage);
  let loaded = state.storedBytes;
  const t0 = performance.now();
  const startBytes = loaded;
  let lastReport = 0;
  const report = (status: InstallProgress['status'], file: string, force = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    const seconds = (now - t0) / 1000;
    const bytesPerSecond = seconds > 0.2 ? (loaded - startBytes) / seconds : 0;
    opts.onProgress?.({ status, file, loaded, total, bytesPerSecond, secondsLeft: bytesPerSecond > 0 ? (total - loaded) / bytesPerSecond : null });
  };
  try {
    await store.putPack(record);
    for (const f of state.files) {
      if (f.verified) continue;
      const url = new URL(f.file.path, record.source).href;
      if (f.missingChunks.length > 0 || f.repairing) {
        await repairFile(url, manifest.id, f, store, opts, (n) => { loaded += n; report('repair', f.file.path); });
        continue;
      }
      await downloadFile(url, manifest.id, f.file, store, {
        signal: opts.signal, fetch: opts.fetch,
        onBytes: (n) => { loaded += n; report('download', f.file.path); },
      });
      if (unpinned(f.file)) {
        // Pin this file's hash (its record holds the digest the download computed).
        const sha256 = (await store.getFile(manifest.id, f.file.path))!.sha256;
        const files = record.manifest.files.map((x) => (x.path === f.file.path ? { ...x, sha256 } : x));
        record = { ...record, manifest: { ...record.manifest, files } };
        await store.putPack(record);
      }
      report('download', f.file.path, true);
    }
  } catch (e) {
    if (isQuotaError(e)) {
      await store.dropPack(manifest.id).catch(() => undefined);
      throw quotaError(manifest, state.missingBytes);
    }
    throw e;
  }
  opts.onProgress?.({ status: 'ready', loaded: total, total, bytesPerSecond: 0, secondsLeft: 0 });
  return record;
}

/** Fetch only the chunks a verified file lost, then check the whole file's hash again. */
async function repairFile(url: string, packId: string, state: FileState, store: ChunkStore, opts: InstallOptions, onBytes: (n: number) => void): Promise<void> {
  const rec = { ...((await store.getFile(packId, state.file.path)) as FileRecord), verified: false, repairing: true };
  await store.putFileRecord(rec);
  let counted = state.storedBytes;
  const startOver = async () => {
    onBytes(-counted);
    await store.dropFile(packId, state.file.path);
    await downloadFile(url, packId, state.file, store, { signal: opts.signal, fetch: opts.fetch, onBytes });
  };
  for (const i of state.missingChunks) {
    const start = i * rec.chunkBytes;
    const length = chunkLength(rec, i);
    let bytes = new Uint8Array(0);
    if (length > 0) {
      const headers: Record<string, string> = { Range: `bytes=${start}-${start + length - 1}` };
      if (rec.validator) headers['If-Range'] = rec.validator;
      let res: Response;
      try {
        res = await (opts.fetch ?? fetch)(url, { signal: opts.signal ?? null, headers });
        const rangeStart = Number(/bytes (\d+)-/.exec(res.headers.get('Content-Range') ?? '')?.[1] ?? NaN);
        if (res.status !== 206 || rangeStart !== start) {
          await res.body?.cancel();
          if (!res.ok) throw new PocketError('network', `The server answered HTTP ${res.status} while repairing ${state.file.path}. Nothing stored was lost: try again later.`, { file: state.file.path });
          // The server cannot send a range (or the file changed): fetch the whole file again.
          return await startOver();
        }
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        if (e instanceof PocketError) throw e;
        if (opts.signal?.aborted) throw new PocketError('aborted', 'Repair cancelled. Nothing stored was lost: press Repair to continue.');
        throw new PocketError('network', `The repair of ${state.file.path} was interrupted (${e instanceof Error ? e.message : String(e)}). Nothing stored was lost: press Repair to continue.`, { file: state.file.path });
      }
      if (bytes.length !== length) throw new PocketError('network', `The repair of ${state.file.path} was interrupted. Nothing stored was lost: press Repair to continue.`, { file: state.file.path });
    }
    await store.commitChunk(rec, i, bytes);
    counted += length;
    onBytes(length);
  }
  const hasher = await createSHA256();
  hasher.init();
  for (let i = 0; i < chunkCount(rec.size, rec.chunkBytes); i++) {
    const chunk = await store.readChunk(rec, i);
    if (!chunk || chunk.length !== chunkLength(rec, i)) return startOver();
    hasher.update(chunk);
  }
  if (hasher.digest('hex') !== state.file.sha256) return startOver();
  await store.putFileRecord({ ...rec, verified: true, repairing: false });
}

/** One stored file as one buffer (what onnxruntime-web takes), read and checked chunk by chunk. */
export async function readPackFile(store: ChunkStore, packId: string, path: string): Promise<Uint8Array> {
  const rec = await store.getFile(packId, path);
  const damaged = () => new PocketError('integrity', `The stored copy of ${path} is incomplete (the browser may have evicted part of it). Open Storage and press Repair to download only what is missing.`, { file: path });
  if (!rec?.verified) throw damaged();
  const out = new Uint8Array(rec.size);
  for (let i = 0; i < chunkCount(rec.size, rec.chunkBytes); i++) {
    const c = await store.readChunk(rec, i);
    if (!c || c.length !== chunkLength(rec, i)) throw damaged();
    out.set(c, i * rec.chunkBytes);
  }
  return out;
}

/** The engine's reader over a stored pack: no network request. */
export function storedPackReader(store: ChunkStore, packId: string): (path: string) => Promise<Uint8Array> {
  return async (path) => {
    if (path === MANIFEST) {
      const pack = await store.getPack(packId);
      if (!pack) throw new PocketError('model-incompatible', `The model "${packId}" is not on this device. Download it first.`);
      return new TextEncoder().encode(JSON.stringify(pack.manifest));
    }
    return readPackFile(store, packId, path);
  };
}

export async function storageSummary(storage: StorageEstimator | undefined): Promise<StorageSummary> {
  if (!storage) return { usage: 0, quota: 0, persisted: false };
  const [{ usage = 0, quota = 0 }, persisted] = await Promise.all([storage.estimate(), storage.persisted?.() ?? Promise.resolve(false)]);
  return { usage, quota, persisted };
}
