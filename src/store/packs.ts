// The packs on this device, apart from any page: make sure the pack a source names is stored and
// verified (download, resume, repair — one job per source at a time), add one from an address or from
// local files, choose the active one, list and delete. The page's panels only draw what this does.
import { PocketError } from '../core/errors';
import { ChunkStore, type PackRecord } from './chunk-store';
import type { PackManifest } from './manifest';
import type { LayoutHints } from './diffusers-layout';
import { importLocalPack, type LocalFile } from './local-import';
import { importQuantized } from './quantize-import';
import { fetchManifest, folderUrl, inspectPack, installManifest, installPack, type InstallOptions, type InstallProgress, type PackState, type StorageEstimator } from './pack-store';
import { addPackFromUrl } from './remote-pack';

export interface PackJobOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: InstallProgress) => void;
  /** The pack's manifest as soon as it is known (before its weights are fetched, when they must be). */
  readonly onManifest?: (m: PackManifest) => void;
}

export interface PackEnvironment {
  /** navigator.storage: the quota is checked before a byte is fetched. */
  readonly storage?: (StorageEstimator & { persist?: () => Promise<boolean> }) | undefined;
  readonly online?: () => boolean;
  /** The page's address, against which relative sources resolve. */
  readonly base: string;
  /** The network (tests give a fake one); the page's own fetch where absent. */
  readonly fetch?: typeof fetch;
}

/** How long a stored pack waits for its source's manifest before loading as it is (a slow or captive network). */
const REFRESH_TIMEOUT_MS = 2000;

/** The same files, byte for byte (the same paths, roles, sizes and hashes): only what describes them may differ. */
function sameFiles(a: PackManifest, b: PackManifest): boolean {
  const key = (m: PackManifest) => JSON.stringify(m.files.map((f) => [f.path, f.role, f.size, f.sha256, f.for ?? '']).sort());
  return a.id === b.id && key(a) === key(b);
}

export class PackManager {
  /** One install per pack source at a time (a double click, a backend change mid-download), with the
   * controller that cancels it — whoever asked for it. */
  private readonly inflight = new Map<string, { job: Promise<PackRecord>; stop: AbortController }>();

  constructor(private readonly env: PackEnvironment, readonly store: ChunkStore = new ChunkStore()) {}

  /** A source as the folder URL packs are stored under. */
  folderOf(source: string): string {
    return folderUrl(new URL(source, this.env.base).href);
  }

  /** The stored pack that came from `source`, downloading or repairing whatever is missing first. */
  ensure(source: string, opts: PackJobOptions = {}): Promise<PackRecord> {
    const abs = this.folderOf(source);
    const running = this.inflight.get(abs);
    if (running) return running.job;
    const stop = new AbortController();
    opts.signal?.addEventListener('abort', () => stop.abort(), { once: true });
    const job = this.ensureOnce(abs, { ...opts, signal: stop.signal }).finally(() => this.inflight.delete(abs));
    this.inflight.set(abs, { job, stop });
    return job;
  }

  /** Stop every download in flight (what arrived is kept, and resumes later). */
  cancelAll(): void {
    for (const { stop } of this.inflight.values()) stop.abort();
  }

  private async ensureOnce(abs: string, opts: PackJobOptions): Promise<PackRecord> {
    const stored = (await this.store.listPacks()).find((p) => p.source === abs);
    if (stored && (await inspectPack(this.store, stored.manifest)).complete) return this.refreshed(stored, opts);
    if (this.env.online && !this.env.online()) {
      throw new PocketError('network', stored
        ? `Part of "${stored.manifest.name}" is missing from this device and it is offline. Connect once and press Retry: only the missing part is downloaded.`
        : 'The model has not been downloaded to this device yet, and it is offline. Connect once to download it; after that the app works offline.');
    }
    // A pack whose manifest came from a repository layout resumes from its stored manifest.
    if (stored?.layout) return installManifest(stored.manifest, stored.source, this.store, this.options(opts), true);
    return installPack(abs, this.store, this.options(opts));
  }

  /**
   * The pack to load: the one chosen last (a stored pack's id) if it is complete, repaired from its
   * source when it is not, else the default source's.
   */
  async active(chosen: string | null, defaultSource: string, opts: PackJobOptions = {}): Promise<{ pack: PackRecord; chosenGone: boolean }> {
    if (chosen) {
      const stored = await this.store.getPack(chosen);
      if (stored && (await inspectPack(this.store, stored.manifest)).complete) return { pack: await this.refreshed(stored, opts), chosenGone: false };
      if (stored && !stored.source.startsWith('local:')) return { pack: await this.ensure(stored.source, opts), chosenGone: false };
      if (stored) throw new PocketError('integrity', `Part of "${stored.manifest.name}" is missing from this device (the browser may have evicted it). Import its folder again under "Add a model", or choose another model.`);
    }
    return { pack: await this.ensure(defaultSource, opts), chosenGone: chosen !== null };
  }

  /**
   * A complete stored pack, its manifest refreshed from its source where only what describes the files
   * changed (its name, example prompts, defaults): its weights are never fetched again. A source that
   * cannot be reached in time, or whose files differ (another version of the model), leaves the stored
   * pack as it is; so does being offline, a folder imported from disk, or a repository layout.
   */
  private async refreshed(stored: PackRecord, opts: PackJobOptions): Promise<PackRecord> {
    opts.onManifest?.(stored.manifest); // (the stored one at once: the refresh may take up to REFRESH_TIMEOUT_MS)
    if (stored.layout || !/^https?:/.test(stored.source) || (this.env.online && !this.env.online())) return stored;
    const signals = [AbortSignal.timeout(REFRESH_TIMEOUT_MS), ...(opts.signal ? [opts.signal] : [])];
    let fresh: PackManifest;
    try {
      fresh = await fetchManifest(stored.source, { signal: AbortSignal.any(signals), ...(this.env.fetch ? { fetch: this.env.fetch } : {}) });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      return stored;
    }
    if (!sameFiles(fresh, stored.manifest) || JSON.stringify(fresh) === JSON.stringify(stored.manifest)) return stored;
    const record: PackRecord = { ...stored, manifest: fresh };
    await this.store.putPack(record);
    return record;
  }

  /** Add the pack at a URL the person gave (its manifest.json, or its diffusers layout). */
  addFromUrl(url: string, hints: Partial<LayoutHints> | undefined, opts: PackJobOptions & { readonly int8?: boolean } = {}): Promise<PackRecord> {
    return addPackFromUrl(url, this.store, { ...this.options(opts), relativeTo: this.env.base, ...(hints ? { hints } : {}), ...(opts.int8 ? { int8: true } : {}) });
  }

  /** Copy a picked or dropped folder into the store (hashed; checked against its manifest if it has one). */
  importFolder(files: readonly LocalFile[], hints: Partial<LayoutHints> | undefined, opts: PackJobOptions & { readonly int8?: boolean } = {}): Promise<PackRecord> {
    const o = { ...(hints ? { hints } : {}), ...this.options(opts) };
    return opts.int8 ? importQuantized(files, this.store, o) : importLocalPack(files, this.store, o);
  }

  /** Every stored pack with its state. */
  async list(): Promise<{ pack: PackRecord; state: PackState }[]> {
    const packs = await this.store.listPacks();
    return Promise.all(packs.map(async (pack) => ({ pack, state: await inspectPack(this.store, pack.manifest) })));
  }

  /** Delete a pack; a download of it in flight is stopped first, so it writes no chunk after. */
  async remove(pack: PackRecord): Promise<void> {
    const running = this.inflight.get(pack.source);
    if (running) {
      running.stop.abort();
      await running.job.catch(() => undefined);
    }
    await this.store.dropPack(pack.id);
  }

  /** Ask for persistent storage (some browsers show a prompt): true when granted. */
  async persist(): Promise<boolean | undefined> {
    return this.env.storage?.persist?.().catch(() => undefined);
  }

  private options(opts: PackJobOptions): InstallOptions {
    return {
      ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), storage: this.env.storage,
      ...(opts.onManifest ? { onManifest: opts.onManifest } : {}),
      ...(this.env.fetch ? { fetch: this.env.fetch } : {}),
    };
  }
}
