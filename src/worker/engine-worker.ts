/// <reference lib="webworker" />
// The engine's home: a dedicated worker. Models load once and stay loaded across generations; a
// generation is cancelled between denoising steps without tearing the worker (and the models) down.
import { PocketError } from '../core/errors';
import { latentPreview, type LatentRgbMap, type PreviewImage } from '../core/pipeline/preview';
import { DEFAULT_TILES } from '../core/pipeline/tiled-vae';
import type { BackendChoice } from '../runtime/capabilities';
import { ChunkStore } from '../store/chunk-store';
import { storedPackReader } from '../store/pack-store';
import type { PackManifest } from '../store/manifest';
import { Engine } from './engine';
import type { FromWorker, ToWorker } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

let engine: Engine | undefined;
let loadedKey = '';
const running = new Map<number, AbortController>();
// Runs are serialised: one generation at a time on one set of sessions.
let queue: Promise<unknown> = Promise.resolve();

/** A live preview every this many steps (cheap: a linear map per latent pixel, no VAE). */
const PREVIEW_EVERY = 2;
/** The full-quality preview runs the VAE, so it comes less often. */
const VAE_PREVIEW_EVERY = 5;

function previewMap(e: Engine): LatentRgbMap | undefined {
  const { latentRgbFactors: factors, latentRgbBias: bias } = e.manifest.vae;
  return factors && bias ? { factors, bias } : undefined;
}

/** The UNet's first attention level for memory estimates: the manifest's, else SD 1.x's or 2.x's (full
 * latent resolution, 8 or 5 heads) for a pack that declares that architecture. */
function attentionShape(m: PackManifest): { attention?: { downscale: number; heads: number } } {
  if (m.unet?.attention) return { attention: m.unet.attention };
  // SD 2.x: the same layout, 5 heads of 64 at the first level (attention_head_dim [5, 10, 20, 20]).
  const heads = ({ 'stable-diffusion-1': 8, 'stable-diffusion-2': 5 } as Record<string, number>)[m.architecture ?? ''];
  return heads ? { attention: { downscale: 1, heads } } : {};
}

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

async function load(packId: string, backend: BackendChoice, lowMemory: boolean): Promise<Engine> {
  const key = `${packId}|${backend}|${lowMemory}`;
  if (engine && loadedKey === key) return engine;
  await engine?.dispose();
  engine = undefined;
  // The weights come from IndexedDB, where the page's download put them verified: no network request.
  const read = storedPackReader(new ChunkStore(), packId);
  // onnxruntime-web's .mjs/.wasm are self-hosted under /ort/ (scripts/copy-ort.mjs).
  engine = await Engine.load(read, { backend, wasmPaths: new URL(`${import.meta.env.BASE_URL}ort/`, self.location.href).href }, { releaseBetweenStages: lowMemory });
  loadedKey = key;
  return engine;
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'cancel':
      running.get(msg.target)?.abort();
      return;
    case 'load':
      queue = queue.then(async () => {
        try {
          const e = await load(msg.packId, msg.backend, msg.lowMemory === true);
          const m = e.manifest;
          post({
            id: msg.id, type: 'loaded',
            info: {
              ...e.info, limits: e.limits, packName: m.name,
              ...attentionShape(m),
              defaults: { ...m.defaults, width: m.image.defaultWidth, height: m.image.defaultHeight },
            },
          });
        } catch (err) {
          post({ id: msg.id, type: 'error', error: PocketError.from(err).toJSON() });
        }
      });
      return;
    case 'generate': {
      const ac = new AbortController();
      running.set(msg.id, ac);
      queue = queue.then(async () => {
        try {
          if (!engine) throw new PocketError('bad-request', 'No model is loaded yet: wait for the model to load, then generate.');
          const r = await engine.generate(msg.request, {
            signal: ac.signal,
            ...(msg.tiledVae ? { vaeTiles: DEFAULT_TILES } : {}),
            // Returns a promise only when it decodes with the VAE, so that only that is awaited and timed.
            onProgress: (p) => {
              const send = (preview?: PreviewImage) => post({
                id: msg.id, type: 'progress',
                progress: { step: p.step, totalSteps: p.totalSteps, timestep: p.timestep, elapsedMs: p.elapsedMs, loopElapsedMs: p.loopElapsedMs, ...(preview ? { preview } : {}) },
              }, preview ? [preview.pixels.buffer as ArrayBuffer] : []);
              const last = p.step === p.totalSteps;
              if (msg.preview === 'vae') {
                // Not on the last step: the run's own decode follows at once.
                if (p.step % VAE_PREVIEW_EVERY !== 0 || last) return send();
                const [, h, w] = p.latentDims;
                return engine!.decode(p.denoised, p.latentDims).then((pixels) => send({ width: w * 8, height: h * 8, pixels }));
              }
              const map = previewMap(engine!);
              return send(map && (p.step % PREVIEW_EVERY === 0 || last) ? latentPreview(p.denoised, p.latentDims, map) : undefined);
            },
          });
          post({ id: msg.id, type: 'result', result: r }, [r.pixels.buffer as ArrayBuffer]);
        } catch (err) {
          const e = PocketError.from(err);
          if (e.code === 'aborted') post({ id: msg.id, type: 'cancelled' });
          else post({ id: msg.id, type: 'error', error: e.toJSON() });
          if (e.code === 'device-lost') {
            // The sessions are unusable: drop them so the next load starts fresh.
            engine = undefined;
            loadedKey = '';
          }
        } finally {
          running.delete(msg.id);
        }
      });
      return;
    }
  }
};
