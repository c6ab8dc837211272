// The weight store's layout in IndexedDB (through idb-keyval, one object store): a pack record holding
// its manifest, one record per file saying how much of it is committed, and the file's bytes in chunks.
// Every change that matters is one transaction (idb-keyval's setMany / delMany), so a crash or a full
// disk half-way leaves the records agreeing with the chunks: a file is "verified" only in the same
// transaction that stores its last chunk, after its SHA-256 matched.
import { createStore, delMany, get, getMany, keys, setMany, type UseStore } from 'idb-keyval';
import type { PackFile, PackManifest } from './manifest';

/** Bytes per stored chunk: big enough that a 1.7 GB UNet is a few hundred records, small enough that a
 * phone never holds more than one of them in flight and an interrupted download loses little. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

export interface PackRecord {
  readonly id: string;
  readonly manifest: PackManifest;
  /** Where the pack was downloaded from (its folder URL), for repairs. */
  readonly source: string;
  readonly addedAt: number;
  /** The manifest was written from a repository's layout (no manifest.json there): resume from this one. */
  readonly layout?: boolean;
}

export interface FileRecord {
  readonly packId: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly chunkBytes: number;
  /** Chunks committed so far (all of them are CHUNK_BYTES long but the last). */
  readonly chunks: number;
  /** The SHA-256 state after those chunks (hash-wasm's save()), so a download resumes across reloads. */
  readonly hashState?: Uint8Array | undefined;
  /** What to send as If-Range (a strong ETag, else Last-Modified), so a changed file restarts cleanly. */
  readonly validator?: string | undefined;
  /** The ETag the committed bytes came with (weak ones too): a 206 with another one restarts the file. */
  readonly etag?: string | undefined;
  readonly verified: boolean;
  /** A verified file that lost chunks and is being repaired (its hash is checked again at the end). */
  readonly repairing?: boolean | undefined;
}

let defaultStore: UseStore | undefined;

/** The app's store; tests may pass their own. */
export function weightStore(): UseStore {
  defaultStore ??= createStore('pocket-diffusion-weights', 'kv');
  return defaultStore;
}

const packKey = (packId: string) => `pack/${packId}`;
const fileKey = (packId: string, path: string) => `file/${packId}/${path}`;
const chunkKey = (packId: string, path: string, index: number) => `chunk/${packId}/${path}/${index}`;

export function chunkCount(size: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(size / chunkBytes));
}

/** The length of chunk `index` of a file (all full but the last). */
export function chunkLength(rec: Pick<FileRecord, 'size' | 'chunkBytes'>, index: number): number {
  return Math.max(0, Math.min(rec.chunkBytes, rec.size - index * rec.chunkBytes));
}

export function emptyFileRecord(packId: string, file: PackFile): FileRecord {
  return { packId, path: file.path, size: file.size, sha256: file.sha256, chunkBytes: CHUNK_BYTES, chunks: 0, verified: false };
}

export class ChunkStore {
  constructor(private readonly store: UseStore = weightStore()) {}

  getPack(packId: string): Promise<PackRecord | undefined> {
    return get<PackRecord>(packKey(packId), this.store);
  }

  putPack(record: PackRecord): Promise<void> {
    return setMany([[packKey(record.id), record]], this.store);
  }

  async listPacks(): Promise<PackRecord[]> {
    const ids = (await keys<string>(this.store)).filter((k) => typeof k === 'string' && k.startsWith('pack/'));
    return (await getMany<PackRecord>(ids, this.store)).filter((p): p is PackRecord => !!p);
  }

  getFile(packId: string, path: string): Promise<FileRecord | undefined> {
    return get<FileRecord>(fileKey(packId, path), this.store);
  }

  /** Store one chunk and the file record that counts it, in one transaction. */
  commitChunk(record: FileRecord, index: number, bytes: Uint8Array): Promise<void> {
    return setMany([[chunkKey(record.packId, record.path, index), bytes], [fileKey(record.packId, record.path), record]], this.store);
  }

  putFileRecord(record: FileRecord): Promise<void> {
    return setMany([[fileKey(record.packId, record.path), record]], this.store);
  }

  /** The keys of the chunks that exist for a file (an evicted or half-deleted store loses some). */
  async presentChunks(packId: string, path: string): Promise<Set<number>> {
    const prefix = `chunk/${packId}/${path}/`;
    const all = await keys<string>(this.store);
    return new Set(all.filter((k) => typeof k === 'string' && k.startsWith(prefix)).map((k) => Number(k.slice(prefix.length))));
  }

  /** One chunk at a time, so reading a 1.7 GB file never holds it twice. */
  readChunk(record: FileRecord, index: number): Promise<Uint8Array | undefined> {
    return get<Uint8Array>(chunkKey(record.packId, record.path, index), this.store);
  }

  /** Drop a file's chunks and record (bad bytes, a restart, a delete). */
  async dropFile(packId: string, path: string): Promise<void> {
    const prefix = `chunk/${packId}/${path}/`;
    const all = await keys<string>(this.store);
    await delMany([fileKey(packId, path), ...all.filter((k) => typeof k === 'string' && k.startsWith(prefix))], this.store);
  }

  /** Drop everything of a pack: its record, file records and chunks. */
  async dropPack(packId: string): Promise<void> {
    const all = await keys<string>(this.store);
    const mine = all.filter((k) => typeof k === 'string' && (k === packKey(packId) || k.startsWith(`file/${packId}/`) || k.startsWith(`chunk/${packId}/`)));
    await delMany(mine, this.store);
  }
}
