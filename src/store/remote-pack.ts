// A pack from a URL the person gives: a folder with the app's manifest.json, or a repository in the
// diffusers ONNX layout (a Hugging Face "tree" URL is turned into the URL its files are served from).
// A layout gets its manifest written from its configs (diffusers-layout.ts); its files' sizes come from
// the server and their SHA-256s are pinned by the first verified download.
import { PocketError } from '../core/errors';
import { manifestFromLayout, slug, type LayoutHints, type LayoutReader } from './diffusers-layout';
import type { ChunkStore, PackRecord } from './chunk-store';
import type { PackManifest } from './manifest';
import { fetchManifest, folderUrl, installManifest, type InstallOptions } from './pack-store';
import { chunksOfStream } from '../core/quantize/byte-stream';
import { checkedStream, storeQuantized } from './quantize-import';

/**
 * The folder URL a pack's files live under. Accepts the folder itself, its manifest.json or
 * model_index.json, and Hugging Face's page URLs (`/tree/<revision>` → `/resolve/<revision>/`).
 */
export function packBaseUrl(input: string, relativeTo?: string): string {
  let url: URL;
  try {
    url = new URL(input.trim(), relativeTo);
  } catch {
    throw new PocketError('bad-request', `"${input}" is not a web address. Give the address of a model's folder, e.g. https://example.org/models/sd15/.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PocketError('bad-request', 'A model\'s address must start with https:// (or http://).');
  url.pathname = url.pathname.replace(/\/(manifest\.json|model_index\.json)$/, '/');
  const hf = /^\/([^/]+)\/([^/]+)(?:\/tree\/([^/]+))?\/?$/.exec(url.pathname);
  if (url.hostname === 'huggingface.co' && hf) url.pathname = `/${hf[1]}/${hf[2]}/resolve/${hf[3] ?? 'main'}/`;
  url.search = '';
  url.hash = '';
  return folderUrl(url.href);
}

/** A repository layout read over HTTP: sizes from HEAD (or a one-byte range), configs by GET. */
export function httpLayoutReader(base: string, opts: Pick<InstallOptions, 'fetch' | 'signal'> = {}): LayoutReader {
  const doFetch = opts.fetch ?? fetch;
  const get = async (path: string, init: RequestInit): Promise<Response | undefined> => {
    let res: Response;
    try {
      res = await doFetch(new URL(path, base).href, { ...init, signal: opts.signal ?? null });
    } catch {
      if (opts.signal?.aborted) throw new PocketError('aborted', 'Cancelled.');
      throw new PocketError('network', `Could not reach ${new URL(path, base).href}. Check the address and the connection.`);
    }
    if (res.status === 404 || res.status === 410) return undefined;
    // A single-page-app host answers every unknown path with its index.html: the file is not there.
    if (/^text\/html/i.test(res.headers.get('Content-Type') ?? '') && !path.endsWith('.html')) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw new PocketError('network', `${new URL(path, base).href} answered HTTP ${res.status}.`);
    return res;
  };
  return {
    async size(path) {
      const head = await get(path, { method: 'HEAD' });
      if (!head) return undefined;
      const length = Number(head.headers.get('Content-Length') ?? NaN);
      if (Number.isFinite(length) && length >= 0) return length;
      // No length on HEAD (some hosts): ask for one byte and read the total from Content-Range.
      const probe = await get(path, { headers: { Range: 'bytes=0-0' } });
      await probe?.body?.cancel();
      const total = Number(/\/(\d+)$/.exec(probe?.headers.get('Content-Range') ?? '')?.[1] ?? NaN);
      if (!Number.isFinite(total)) throw new PocketError('network', `The server does not say how large ${path} is, so it cannot be downloaded safely.`);
      return total;
    },
    async text(path) {
      return (await get(path, {}))?.text();
    },
  };
}

export interface AddFromUrlOptions extends InstallOptions {
  /** A catalog entry's knowledge of the model (its id, name, Turbo's defaults). */
  readonly hints?: Partial<LayoutHints>;
  /** The page's URL, for a relative address. */
  readonly relativeTo?: string;
  /** Store it as int8, quantized as it downloads (quantize-import.ts). Not resumable: an interrupted
   * int8 download starts again, since the quantizer's state is not kept. */
  readonly int8?: boolean;
}

/** Install the pack at `input`: its manifest.json if it has one, else its diffusers layout. */
export async function addPackFromUrl(input: string, store: ChunkStore, opts: AddFromUrlOptions = {}): Promise<PackRecord> {
  const base = packBaseUrl(input, opts.relativeTo);
  opts.onProgress?.({ status: 'manifest', loaded: 0, total: 0, bytesPerSecond: 0, secondsLeft: null });
  let own: PackManifest | undefined;
  try {
    own = await fetchManifest(base, opts);
  } catch (e) {
    // Only "there is no manifest.json there" leads to the layout; anything else is reported as it is.
    if (!(e instanceof PocketError) || e.code !== 'network' || e.detail?.status !== 404) throw e;
  }
  if (own) return opts.int8 ? quantizeFromUrl(own, base, store, opts) : installManifest(own, base, store, opts);
  const reader = httpLayoutReader(base, opts);
  const name = opts.hints?.name ?? (decodeURIComponent(new URL(base).pathname.split('/').filter(Boolean).slice(0, 2).join('/')) || base);
  const manifest = await manifestFromLayout(reader, {
    id: opts.hints?.id ?? `url-${slug(new URL(base).host + new URL(base).pathname)}`,
    name, description: opts.hints?.description ?? `Downloaded from ${base}.`,
    ...(opts.hints?.defaults ? { defaults: opts.hints.defaults } : {}),
    ...(opts.hints?.image ? { image: opts.hints.image } : {}),
  });
  return opts.int8 ? quantizeFromUrl(manifest, base, store, opts) : installManifest(manifest, base, store, opts, true);
}

/** Download a pack's files one after another, each quantized as it arrives, into a new int8 pack. */
function quantizeFromUrl(manifest: PackManifest, base: string, store: ChunkStore, opts: AddFromUrlOptions): Promise<PackRecord> {
  const fetcher = opts.fetch ?? fetch;
  return storeQuantized(manifest, async (path) => {
    let res: Response;
    try {
      res = await fetcher(new URL(path, base).href, { ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new PocketError('network', `${path} could not be downloaded (${String(e)}); nothing of this model was kept. Check the connection and try again.`);
    }
    if (!res.ok || !res.body) throw new PocketError('network', `${path} could not be downloaded (HTTP ${res.status}); nothing of this model was kept.`, { status: res.status });
    const size = manifest.files.find((f) => f.path === path)?.size ?? Number(res.headers.get('Content-Length') ?? NaN);
    return checkedStream(interrupted(chunksOfStream(res.body), path, opts.signal), size, path, manifest.files.find((f) => f.path === path)?.sha256 ?? '');
  }, base, store, opts);
}

/** A download's chunks; a dropped connection becomes a message that says what happened and what to do. */
async function* interrupted(chunks: AsyncIterable<Uint8Array>, path: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  try {
    yield* chunks;
  } catch (e) {
    if (signal?.aborted || e instanceof PocketError) throw e;
    throw new PocketError('network', `The download of ${path} was interrupted (${e instanceof Error ? e.message : String(e)}); nothing of this model was kept. Try again: a download stored as int8 starts over.`);
  }
}
