// A pack from files on the user's disk (a folder picker or a dropped folder): stored in IndexedDB like a
// downloaded one, chunk by chunk, hashed as it is read. A folder with the app's manifest.json is
// checked against it (a damaged file is refused); a folder in the diffusers ONNX layout gets its
// manifest written from its configs, and each file's SHA-256 is pinned as it is stored, so a later
// check of the stored copy (inspectPack, Repair) has something to compare with.
import { createSHA256 } from 'hash-wasm';
import { PocketError } from '../core/errors';
import { ChunkStore, chunkCount, emptyFileRecord, type FileRecord, type PackRecord } from './chunk-store';
import { formatBytes } from '../core/format';
import { isQuotaError } from './download';
import { blobLayoutReader, manifestFromLayout, slug, type LayoutHints } from './diffusers-layout';
import { parseManifest, type PackFile, type PackManifest } from './manifest';
import { checkFits, inspectPack, type InstallProgress, type StorageEstimator } from './pack-store';

export interface LocalFile {
  /** The path inside the picked folder, with the folder's own name first ("sd15/unet/model.onnx"). */
  readonly path: string;
  readonly blob: Blob;
}

export interface ImportOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: (p: InstallProgress) => void;
  readonly storage?: StorageEstimator | undefined;
  /** What a catalog entry knows about this model (its name, Turbo's defaults). */
  readonly hints?: Partial<LayoutHints>;
}

/** The folder that holds the pack (where manifest.json or model_index.json or unet/model.onnx is), and
 * the files under it by their path relative to it. */
export function packRoot(files: readonly LocalFile[]): { name: string; files: Map<string, Blob> } {
  const paths = files.map((f) => f.path.replace(/^\/+/, ''));
  const markers = ['manifest.json', 'model_index.json', 'unet/model.onnx'];
  let root: string | undefined;
  for (const p of paths) {
    for (const m of markers) {
      if (p === m || p.endsWith(`/${m}`)) {
        const r = p.slice(0, p.length - m.length);
        if (root === undefined || r.length < root.length) root = r;
      }
    }
  }
  if (root === undefined) {
    throw new PocketError('model-incompatible', 'This folder holds no model: choose the folder that contains manifest.json, or model_index.json with text_encoder/, unet/, vae_decoder/ and tokenizer/.');
  }
  const out = new Map<string, Blob>();
  files.forEach((f, i) => {
    const p = paths[i]!;
    if (p.startsWith(root!)) out.set(p.slice(root!.length), f.blob);
  });
  const name = root.replace(/\/$/, '').split('/').pop() || 'local model';
  return { name, files: out };
}

/** Store one local file in the chunk store, hashing it; resolves with its SHA-256. */
async function storeFile(blob: Blob, packId: string, file: PackFile, store: ChunkStore, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<string> {
  await store.dropFile(packId, file.path);
  const hasher = await createSHA256();
  hasher.init();
  let rec: FileRecord = emptyFileRecord(packId, file);
  const total = chunkCount(file.size, rec.chunkBytes);
  for (let i = 0; i < total; i++) {
    if (signal?.aborted) throw new PocketError('aborted', 'Import cancelled; nothing of this model was kept.');
    const bytes = new Uint8Array(await blob.slice(i * rec.chunkBytes, Math.min(file.size, (i + 1) * rec.chunkBytes)).arrayBuffer());
    hasher.update(bytes);
    const last = i + 1 === total;
    const digest = last ? hasher.digest('hex') : '';
    if (last && file.sha256 && digest !== file.sha256) {
      throw new PocketError('integrity', `${file.path} does not match the pack's manifest (its SHA-256 differs): the file on disk is damaged or from another model. Nothing was kept.`, { file: file.path });
    }
    rec = { ...rec, sha256: last ? digest : rec.sha256, chunks: i + 1, verified: last };
    await store.commitChunk(rec, i, bytes);
    onBytes(bytes.length);
  }
  return rec.sha256;
}

/** Hash a local file without storing it (the read pass before a stored pack is touched). */
async function hashBlob(blob: Blob, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<string> {
  const hasher = await createSHA256();
  hasher.init();
  const step = 4 * 1024 * 1024;
  for (let o = 0; o < blob.size || o === 0; o += step) {
    if (signal?.aborted) throw new PocketError('aborted', 'Import cancelled; nothing on this device was changed.');
    const bytes = new Uint8Array(await blob.slice(o, Math.min(blob.size, o + step)).arrayBuffer());
    hasher.update(bytes);
    onBytes(bytes.length);
    if (blob.size === 0) break;
  }
  return hasher.digest('hex');
}

/**
 * A folder whose pack is already on the device (same id): nothing stored is touched until the folder's
 * files are verified. Each is hashed first; a file that does not match the folder's own manifest is
 * refused with its name; a copy identical to the stored one only fills in what the store lost; a
 * different copy is refused, and the stored one stays as it was.
 */
async function verifyAgainstStored(existing: PackRecord, manifest: PackManifest, files: Map<string, Blob>, opts: ImportOptions): Promise<void> {
  const total = manifest.files.reduce((a, f) => a + f.size, 0);
  let read = 0;
  const digests = new Map<string, string>();
  for (const f of manifest.files) {
    const digest = await hashBlob(files.get(f.path)!, opts.signal, (n) => {
      read += n;
      opts.onProgress?.({ status: 'verify', file: f.path, loaded: read, total, bytesPerSecond: 0, secondsLeft: null });
    });
    if (f.sha256 && digest !== f.sha256) {
      throw new PocketError('integrity', `${f.path} does not match the pack's manifest (its SHA-256 differs): the file on disk is damaged or from another model. Nothing was changed: "${existing.manifest.name}" on this device is as it was.`, { file: f.path });
    }
    digests.set(f.path, digest);
  }
  const stored = new Map(existing.manifest.files.map((f) => [f.path, f]));
  const same = stored.size === manifest.files.length && manifest.files.every((f) => stored.get(f.path)?.size === f.size && stored.get(f.path)?.sha256 === digests.get(f.path));
  if (!same) {
    throw new PocketError('bad-request', `A different copy of "${existing.manifest.name}" is already on this device (same id "${existing.id}", other files). Nothing was changed. To replace it, delete it under Storage first, then add this folder.`, { field: 'import' });
  }
}

/** Import a picked or dropped folder as a pack. A pack already stored under the same id is never touched
 * unless the folder is verified to be the same copy (then only what the store lost is written again). */
/** The picked folder's manifest: its own (checked against the files there), or one made from its diffusers
 * layout (hashes empty until the files are read). */
export async function pickedManifest(name: string, files: ReadonlyMap<string, Blob>, hints: Partial<LayoutHints> = {}): Promise<PackManifest> {
  const own = files.get('manifest.json');
  if (own) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await own.text());
    } catch {
      throw new PocketError('model-incompatible', 'This folder\'s manifest.json is not valid JSON.');
    }
    const manifest = parseManifest(parsed);
    const wrong = manifest.files.filter((f) => files.get(f.path)?.size !== f.size).map((f) => f.path);
    if (wrong.length) throw new PocketError('model-incompatible', `This folder does not hold the files its manifest lists (missing or of another size: ${wrong.join(', ')}).`);
    return manifest;
  }
  return manifestFromLayout(blobLayoutReader(files), {
    id: hints.id ?? `local-${slug(name)}`, name: hints.name ?? name,
    description: hints.description ?? `Imported from the folder "${name}" on this device.`,
    ...(hints.defaults ? { defaults: hints.defaults } : {}),
    ...(hints.image ? { image: hints.image } : {}),
  });
}

/** Import a picked or dropped folder as a pack. A pack already stored under the same id is never touched
 * unless the folder is verified to be the same copy (then only what the store lost is written again). */
export async function importLocalPack(picked: readonly LocalFile[], store: ChunkStore, opts: ImportOptions = {}): Promise<PackRecord> {
  const { name, files } = packRoot(picked);
  const manifest = await pickedManifest(name, files, opts.hints);
  const total = manifest.files.reduce((a, f) => a + f.size, 0);
  const existing = await store.getPack(manifest.id);
  if (existing) {
    await verifyAgainstStored(existing, manifest, files, opts);
    // The same copy: write again only the files the store lost (browsers evict), each verified as it goes.
    const state = await inspectPack(store, existing.manifest);
    const lost = state.files.filter((f) => !f.verified);
    await checkFits(lost.reduce((a, f) => a + f.file.size, 0), opts.storage);
    for (const f of lost) await storeFile(files.get(f.file.path)!, existing.id, f.file, store, opts.signal, () => undefined);
    opts.onProgress?.({ status: 'ready', loaded: total, total, bytesPerSecond: 0, secondsLeft: 0 });
    return existing;
  }
  await checkFits(total, opts.storage);
  // Leftovers of an earlier import that did not finish (no pack record was written for them).
  await store.dropPack(manifest.id);
  let loaded = 0;
  const pinned: PackFile[] = [];
  try {
    for (const f of manifest.files) {
      const sha256 = await storeFile(files.get(f.path)!, manifest.id, f, store, opts.signal, (n) => {
        loaded += n;
        opts.onProgress?.({ status: 'download', file: f.path, loaded, total, bytesPerSecond: 0, secondsLeft: null });
      });
      pinned.push({ ...f, sha256 });
    }
    const record: PackRecord = { id: manifest.id, manifest: { ...manifest, files: pinned, totalBytes: total }, source: `local:${name}`, addedAt: Date.now() };
    await store.putPack(record);
    opts.onProgress?.({ status: 'ready', loaded: total, total, bytesPerSecond: 0, secondsLeft: 0 });
    return record;
  } catch (e) {
    await store.dropPack(manifest.id).catch(() => undefined);
    if (isQuotaError(e)) {
      throw new PocketError('quota-exceeded', `The device ran out of storage while importing "${manifest.name}"; nothing of it was kept. It needs ${formatBytes(total)}: free up space and try again.`, { needed: total });
    }
    throw e;
  }
}
