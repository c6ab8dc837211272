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
import { checkFits, type InstallProgress, type StorageEstimator } from './pack-store';

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

/** Import a picked or dropped folder as a pack; an import under the same id replaces it. */
export async function importLocalPack(picked: readonly LocalFile[], store: ChunkStore, opts: ImportOptions = {}): Promise<PackRecord> {
  const { name, files } = packRoot(picked);
  let manifest: PackManifest;
  const own = files.get('manifest.json');
  if (own) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await own.text());
    } catch {
      throw new PocketError('model-incompatible', 'This folder\'s manifest.json is not valid JSON.');
    }
    manifest = parseManifest(parsed);
    const wrong = manifest.files.filter((f) => files.get(f.path)?.size !== f.size).map((f) => f.path);
    if (wrong.length) throw new PocketError('model-incompatible', `This folder does not hold the files its manifest lists (missing or of another size: ${wrong.join(', ')}).`);
  } else {
    manifest = await manifestFromLayout(blobLayoutReader(files), {
      id: opts.hints?.id ?? `local-${slug(name)}`, name: opts.hints?.name ?? name,
      description: opts.hints?.description ?? `Imported from the folder "${name}" on this device.`,
      ...(opts.hints?.defaults ? { defaults: opts.hints.defaults } : {}),
      ...(opts.hints?.image ? { image: opts.hints.image } : {}),
    });
  }
  const total = manifest.files.reduce((a, f) => a + f.size, 0);
  await checkFits(total, opts.storage);
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
