// A pack from a URL the person gives: a folder with the app's manifest.json, or a repository in the
// diffusers ONNX layout (a Hugging Face "tree" URL is turned into the URL its files are served from).
// A layout gets its manifest written from its configs (diffusers-layout.ts); its files' sizes come from
// the server and their SHA-256s are pinned by the first verified download.
import { PocketError } from '../core/errors';
import { manifestFromLayout, slug, type LayoutHints, type LayoutReader } from './diffusers-layout';
import type { ChunkStore, PackRecord } from './chunk-store';
import type { PackManifest } from './manifest';
import { fetchManifest, folderUrl, installManifest, type InstallOptions } from './pack-store';

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
  if (own) return installManifest(own, base, store, opts);
  const reader = httpLayoutReader(base, opts);
  const name = opts.hints?.name ?? (decodeURIComponent(new URL(base).pathname.split('/').filter(Boolean).slice(0, 2).join('/')) || base);
  const manifest = await manifestFromLayout(reader, {
    id: opts.hints?.id ?? `url-${slug(new URL(base).host + new URL(base).pathname)}`,
    name, description: opts.hints?.description ?? `Downloaded from ${base}.`,
    ...(opts.hints?.defaults ? { defaults: opts.hints.defaults } : {}),
    ...(opts.hints?.image ? { image: opts.hints.image } : {}),
  });
  return installManifest(manifest, base, store, opts, true);
}
