// The network boundary of the store's unit tests: a `fetch` that serves a pack from memory the way a
// static host does (ETag, Range + If-Range, 206), and can misbehave on purpose: cut a response after
// some bytes, ignore ranges, or serve bytes that do not match the manifest.
import { createHash } from 'node:crypto';
import type { PackManifest } from '../../src/store/manifest';

export interface ServedRequest {
  readonly path: string;
  readonly method: string;
  readonly range: string | null;
  readonly ifRange: string | null;
  status: number;
  bytesSent: number;
}

export interface Misbehaviour {
  /** Drop the connection after this many body bytes, once per listed file. */
  cutAfter?: Map<string, number>;
  ignoreRange?: boolean;
  /** Serve these bytes instead of the real file (the manifest keeps the real hash). */
  corrupt?: Map<string, Uint8Array>;
  /** A different ETag than before (the file was re-uploaded) and If-Range ignored, as a careless server does. */
  etagSalt?: string;
  /** Answer requests for these files with this HTTP status. */
  status?: Map<string, number>;
  /** Called after each piece of a body is sent. */
  onSend?: (path: string, bytesSent: number) => void;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

export function makePack(id: string, sizes: Record<string, number>): { manifest: PackManifest; files: Map<string, Uint8Array> } {
  const roles = ['text_encoder', 'unet', 'vae_decoder', 'tokenizer_vocab', 'tokenizer_merges'] as const;
  const files = new Map<string, Uint8Array>();
  const entries = Object.entries(sizes).map(([path, size], i) => {
    const bytes = randomBytes(size, i + 7);
    files.set(path, bytes);
    return { path, role: roles[i % roles.length]!, size, sha256: sha256(bytes) };
  });
  const manifest = {
    format: 'pocket-diffusion-pack', formatVersion: 1, id, name: `Test pack ${id}`, files: entries,
    tokenizer: { maxLength: 77, bosTokenId: 0, eosTokenId: 1, padTokenId: 1 },
    vae: { scalingFactor: 0.18215, latentChannels: 4, downscaleFactor: 8 },
    scheduler: { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' },
    image: { defaultWidth: 256, defaultHeight: 256, minSize: 256, maxSize: 512, multipleOf: 64 },
    defaults: { steps: 20, guidanceScale: 7.5, scheduler: 'ddim', negativePrompt: '' },
    totalBytes: entries.reduce((a, e) => a + e.size, 0),
  } as unknown as PackManifest;
  return { manifest, files };
}

export class FakePackServer {
  readonly requests: ServedRequest[] = [];
  misbehave: Misbehaviour = {};

  /** manifest null: a repository layout (no manifest.json; HEAD gives each file's size). */
  constructor(readonly base: string, readonly manifest: PackManifest | null, readonly files: Map<string, Uint8Array>) {}

  fileRequests(): ServedRequest[] {
    return this.requests.filter((r) => r.path !== 'manifest.json');
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const path = url.href.slice(this.base.length);
    const headers = new Headers(init?.headers);
    const req: ServedRequest = { path, method: init?.method ?? 'GET', range: headers.get('Range'), ifRange: headers.get('If-Range'), status: 0, bytesSent: 0 };
    this.requests.push(req);
    if (init?.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    if (path === 'manifest.json' && this.manifest) {
      req.status = 200;
      return new Response(JSON.stringify(this.manifest), { status: 200, headers: { 'Content-Type': 'application/json' } });
    }
    const real = this.files.get(path);
    if (!real) {
      req.status = 404;
      return new Response('not found', { status: 404 });
    }
    if (init?.method === 'HEAD') {
      req.status = 200;
      return new Response(null, { status: 200, headers: { 'Content-Length': String(real.length), 'Accept-Ranges': 'bytes' } });
    }
    const forced = this.misbehave.status?.get(path);
    if (forced) {
      req.status = forced;
      return new Response('unavailable', { status: forced });
    }
    const body = this.misbehave.corrupt?.get(path) ?? real;
    const salt = this.misbehave.etagSalt ?? '';
    const etag = `"${sha256(body).slice(0, 16)}${salt}"`;
    let start = 0;
    let end = body.length - 1;
    let status = 200;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.range ?? '');
    if (m && !this.misbehave.ignoreRange && (!req.ifRange || req.ifRange === etag || salt)) {
      start = Number(m[1]);
      end = m[2] ? Number(m[2]) : end;
      status = 206;
    }
    const slice = body.subarray(start, end + 1);
    const cut = this.misbehave.cutAfter?.get(path);
    if (cut !== undefined) this.misbehave.cutAfter!.delete(path);
    req.status = status;
    const piece = 256 * 1024;
    let at = 0;
    const signal = init?.signal;
    const hooks = this.misbehave;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
      },
      pull(controller) {
        if (cut !== undefined && at >= cut) {
          controller.error(new TypeError('network error: connection reset'));
          return;
        }
        if (at >= slice.length) {
          controller.close();
          return;
        }
        const n = Math.min(piece, slice.length - at, cut !== undefined ? cut - at : Infinity);
        controller.enqueue(slice.slice(at, at + n));
        at += n;
        req.bytesSent += n;
        hooks.onSend?.(path, req.bytesSent);
      },
    });
    const h: Record<string, string> = { ETag: etag, 'Content-Length': String(slice.length), 'Accept-Ranges': 'bytes' };
    if (status === 206) h['Content-Range'] = `bytes ${start}-${end}/${body.length}`;
    return new Response(stream, { status, headers: h });
  };
}
