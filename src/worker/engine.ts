// The engine: PocketEngine (engine-api.ts) where the models run — in the worker, and in Node for the
// command line and the benchmarks. A loaded pack (`LoadedPack`: its manifest, tokenizer and three
// sessions on one runtime) stays loaded across generations; `Engine` opens packs by id, keeps the one
// loaded, falls back from WebGPU to WASM when the GPU cannot take a model, and produces the previews.
import { aborted, PocketError } from '../core/errors';
import { formatBytes } from '../core/format';
import { largestWeight } from '../core/onnx-scan';
import { TextEncoderNet, UNetNet, VaeDecoderNet } from '../core/pipeline/networks';
import type { ModelSession } from '../core/pipeline/model-session';
import { latentPreview, type LatentRgbMap, type PreviewImage } from '../core/pipeline/preview';
import type { GenerateRequest } from '../core/pipeline/request';
import { decodeLatents, generate, type GenerateOptions, type GenerateResult, type PipelineModels, type Progress } from '../core/pipeline/text-to-image';
import { externalDataFor, fileFor, imageLimits, packDefaults, packTokenizer, parseManifest, type PackManifest } from '../store/manifest';
import { createRuntime, type Runtime, type RuntimeOptions } from '../runtime/ort-runtime';
import type { EngineGenerateOptions, EngineInfo, EngineProgress, LoadParams, PocketEngine } from './engine-api';

/** Reads one of a pack's files by its path in the manifest (fetch, IndexedDB or the file system). */
export type PackReader = (path: string) => Promise<Uint8Array>;

/** Opens a pack by its id: the worker reads IndexedDB, the command line a folder. */
export type PackOpener = (packId: string) => PackReader;

/**
 * An fp16 network on a WebGPU adapter without `shader-f16` (Qualcomm's Adreno in Chrome, SwiftShader,
 * the H200 through Dawn) loads but fails or returns garbage when it runs. Refuse it at load, so that
 * "auto" falls back to WASM — where onnxruntime computes fp16 nodes in fp32 — and says why.
 */
function refuseHalfWithoutF16(session: ModelSession, role: string, runtime: Runtime): void {
  const gpu = runtime.capabilities.webgpu;
  if (runtime.backend !== 'webgpu' || (gpu && gpu.shaderF16)) return;
  if (![...session.inputs, ...session.outputs].some((io) => io.type === 'float16')) return;
  const what = `model's ${role.replace('_', ' ')} computes in fp16 and this GPU has no shader-f16 support`;
  throw new PocketError('unsupported-feature',
    `This ${what}: choose Auto or WASM to run it on the CPU in fp32 (slower, but correct), or use an fp32 export of the model on this GPU.`,
    { fallback: `this ${what}, so it runs on WASM (CPU, in fp32): slower, but correct. An fp32 export of the model would run on this GPU.` });
}

/**
 * A weight larger than the GPU can bind fails deep inside the runtime (or, on some drivers, returns
 * zeros). Check before loading: WebGPU's maxStorageBufferBindingSize is often 128 MiB on phones, and
 * SD 1.5's fp32 token embedding alone is 152 MB. Refused, "auto" falls back to WASM and says why.
 */
function refuseOversizeForGpu(model: Uint8Array, role: string, runtime: Runtime): void {
  const gpu = runtime.capabilities.webgpu;
  if (runtime.backend !== 'webgpu' || !gpu) return;
  const limit = Math.min(gpu.maxBufferSize, gpu.maxStorageBufferBindingSize);
  const biggest = largestWeight(model);
  if (!biggest || biggest.gpuBytes <= limit) return;
  const what = `the ${role.replace('_', ' ')}'s largest weight (${biggest.name || 'unnamed'}, ${formatBytes(biggest.gpuBytes)} on the GPU) is larger than this GPU's largest buffer (${formatBytes(limit)})`;
  throw new PocketError('unsupported-feature', `This model does not fit this GPU: ${what}. Choose Auto or WASM to run it on the CPU, or use an export with smaller (e.g. fp16 or split) weights.`,
    { fallback: `${what}, so it runs on WASM (CPU).` });
}

type Role = 'text_encoder' | 'unet' | 'vae_decoder';

export interface EngineOptions {
  /**
   * Phone-class memory: keep one network in memory at a time (text encoder → encode → release → UNet →
   * denoise → release → VAE decoder). The peak is the largest network instead of all three; the price
   * is creating each session again in every run.
   */
  readonly releaseBetweenStages?: boolean;
}

/** A session that can be released between runs and is created again (from the pack's bytes) when run. */
class StagedSession implements ModelSession {
  readonly inputs: ModelSession['inputs'];
  readonly outputs: ModelSession['outputs'];
  private session: ModelSession | undefined;

  constructor(first: ModelSession, private readonly open: () => Promise<ModelSession>) {
    this.inputs = first.inputs;
    this.outputs = first.outputs;
    this.session = first;
  }

  async run(feeds: Parameters<ModelSession['run']>[0]): ReturnType<ModelSession['run']> {
    this.session ??= await this.open();
    return this.session.run(feeds);
  }

  async park(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.release();
  }

  release(): Promise<void> {
    return this.park();
  }
}

/** Failures that say the backend could not take the model (so WASM may), not that the pack or the request is bad. */
const BACKEND_FAILURES: ReadonlySet<PocketError['code']> = new Set(['model-incompatible', 'unsupported-feature', 'device-lost']);

const ATTENTION_HEADS: Readonly<Record<string, number>> = { 'stable-diffusion-1': 8, 'stable-diffusion-2': 5 };

/** The UNet's first attention level for memory estimates: the manifest's, else SD 1.x's or 2.x's (full
 * latent resolution, 8 or 5 heads) for a pack that declares that architecture. */
function attentionShape(m: PackManifest): { attention?: { downscale: number; heads: number } } {
  if (m.unet?.attention) return { attention: m.unet.attention };
  // SD 2.x: the same layout, 5 heads of 64 at the first level (attention_head_dim [5, 10, 20, 20]).
  const heads = ATTENTION_HEADS[m.architecture ?? ''];
  return heads ? { attention: { downscale: 1, heads } } : {};
}

/** One pack loaded on one runtime: its tokenizer and three sessions. */
export class LoadedPack {
  private constructor(
    readonly manifest: PackManifest,
    readonly runtime: Runtime,
    private readonly models: PipelineModels,
    private readonly sessions: readonly ModelSession[],
    readonly loadMs: number,
    readonly lowMemory: boolean,
    readonly networkLoadMs: EngineInfo['networkLoadMs'],
  ) {}

  static async load(read: PackReader, runtimeOptions: RuntimeOptions, options: EngineOptions & { readonly signal?: AbortSignal } = {}): Promise<LoadedPack> {
    const t0 = performance.now();
    const { signal } = options;
    const check = () => {
      if (signal?.aborted) throw aborted();
    };
    check();
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(await read('manifest.json'))));
    const runtime = await createRuntime(runtimeOptions);
    const tokenizer = await packTokenizer(manifest, read);
    const staged = options.releaseBetweenStages === true;
    // Embeddings stay on the GPU only while the text encoder's session lives.
    const onGpu = runtime.backend === 'webgpu' && !staged;
    const sessions: ModelSession[] = [];
    const stages = new Map<string, StagedSession>();
    const timings = { text_encoder: { readMs: 0, createMs: 0 }, unet: { readMs: 0, createMs: 0 }, vae_decoder: { readMs: 0, createMs: 0 } };
    try {
      const open = async (role: Role, gpuOutputs: string[]) => {
        const r0 = performance.now();
        const external = await Promise.all(externalDataFor(manifest, role).map(async (x) => ({ path: x.name, data: await read(x.file.path) })));
        const bytes = await read(fileFor(manifest, role).path);
        refuseOversizeForGpu(bytes, role, runtime);
        const c0 = performance.now();
        const s = await runtime.createSession(bytes, role.replace('_', ' '), gpuOutputs, external);
        timings[role] = { readMs: c0 - r0, createMs: performance.now() - c0 };
        return s;
      };
      const session = async (role: Role, gpuOutputs: string[] = []) => {
        check();
        let s = await open(role, gpuOutputs);
        sessions.push(s);
        refuseHalfWithoutF16(s, role, runtime);
        if (staged) {
          const st = new StagedSession(s, () => open(role, gpuOutputs));
          stages.set(role, st);
          sessions[sessions.length - 1] = st;
          // Released before the next network loads, so even loading holds one network at a time.
          await st.park();
          s = st;
        }
        check();
        return s;
      };
      const textEncoder = new TextEncoderNet(await session('text_encoder', onGpu ? ['last_hidden_state'] : []));
      const unet = new UNetNet(await session('unet'));
      const vae = new VaeDecoderNet(await session('vae_decoder'));
      const limits = imageLimits(manifest);
      const fixed = unet.fixedLatentSize;
      const f = manifest.vae.downscaleFactor;
      const models: PipelineModels = {
        tokenizer, textEncoder, unet, vae,
        vaeScalingFactor: manifest.vae.scalingFactor,
        downscaleFactor: f,
        schedulerConfig: manifest.scheduler,
        latentChannels: manifest.vae.latentChannels,
        limits: fixed ? { ...limits, fixed: [fixed[1] * f, fixed[0] * f] } : limits,
        ...(staged ? { afterStage: (stage: Role) => stages.get(stage)!.park() } : {}),
      };
      return new LoadedPack(manifest, runtime, models, sessions, performance.now() - t0, staged, timings);
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      const err = PocketError.from(e);
      // Marked, so that "auto" knows WebGPU could not take this model (and WASM may).
      throw runtime.backend === 'webgpu' && BACKEND_FAILURES.has(err.code) ? new PocketError(err.code, err.message, { ...err.detail, backend: 'webgpu' }) : err;
    }
  }

  get limits(): PipelineModels['limits'] {
    return this.models.limits;
  }

  generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    return generate(this.models, request, options);
  }

  /** A full-quality preview of intermediate latents (the VAE decoder, as at the end of a run). */
  decode(latents: Float32Array, latentDims: readonly [number, number, number]): Promise<Uint8ClampedArray> {
    return decodeLatents(this.models, latents, latentDims);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}

/** A live preview every this many steps (cheap: a linear map per latent pixel, no VAE). */
const PREVIEW_EVERY = 2;
/** The full-quality preview runs the VAE, so it comes less often. */
const VAE_PREVIEW_EVERY = 5;

export interface EngineSetup {
  /** How a pack id becomes its files. */
  readonly open: PackOpener;
  /** Everything the runtime needs but the backend, which each load names. */
  readonly runtime?: Omit<RuntimeOptions, 'backend'>;
}

/** PocketEngine where the models run. Loads are serialised with generations by the caller (the worker's queue). */
export class Engine implements PocketEngine {
  private pack: LoadedPack | undefined;
  private info: EngineInfo | undefined;
  private key = '';

  constructor(private readonly setup: EngineSetup) {}

  /** The loaded pack (for the command line's figures); undefined before the first load. */
  get loaded(): LoadedPack | undefined {
    return this.pack;
  }

  async load(params: LoadParams, options: { readonly signal?: AbortSignal } = {}): Promise<EngineInfo> {
    const lowMemory = params.lowMemory === true;
    const key = `${params.packId}|${params.backend}|${lowMemory}`;
    // A load cancelled while it waited (the person switched again) leaves the loaded pack alone.
    if (options.signal?.aborted) throw aborted();
    if (this.pack && this.info && this.key === key) return this.info;
    await this.dispose();
    const read = this.setup.open(params.packId);
    const loadOn = (backend: RuntimeOptions['backend']) =>
      LoadedPack.load(read, { ...this.setup.runtime, backend }, { releaseBetweenStages: lowMemory, ...(options.signal ? { signal: options.signal } : {}) });
    let pack: LoadedPack;
    let fallbackReason: string | undefined;
    try {
      pack = await loadOn(params.backend);
    } catch (e) {
      const err = PocketError.from(e);
      // "auto" means: the fastest backend that works. Only when WebGPU could not take the model is
      // WASM tried; a bad pack, a cancelled load or a network failure would fail there too.
      if (params.backend !== 'auto' || err.detail?.backend !== 'webgpu') throw err;
      pack = await loadOn('wasm');
      fallbackReason = String(err.detail?.fallback ?? err.message);
    }
    fallbackReason ??= pack.runtime.autoChoseWasm;
    const m = pack.manifest;
    this.pack = pack;
    this.key = key;
    this.info = {
      packId: m.id, packName: m.name, backend: pack.runtime.backend, capabilities: pack.runtime.capabilities,
      loadMs: pack.loadMs, networkLoadMs: pack.networkLoadMs, lowMemory, limits: pack.limits, downscaleFactor: m.vae.downscaleFactor,
      defaults: packDefaults(m),
      ...attentionShape(m),
      ...(m.examplePrompts?.length ? { examplePrompts: m.examplePrompts } : {}),
      ...(fallbackReason ? { fallbackReason } : {}),
    };
    return this.info;
  }

  async generate(request: GenerateRequest, options: EngineGenerateOptions = {}): Promise<GenerateResult> {
    const pack = this.pack;
    if (!pack) throw new PocketError('bad-request', 'No model is loaded yet: wait for the model to load, then generate.');
    const { onProgress } = options;
    try {
      return await pack.generate(request, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.vaeTiles ? { vaeTiles: options.vaeTiles } : {}),
        ...(onProgress ? { onProgress: (p: Progress) => this.progress(pack, p, options.preview ?? 'fast', onProgress) } : {}),
      });
    } catch (e) {
      const err = PocketError.from(e);
      // The sessions are unusable: release what is left, so the next load starts fresh.
      if (err.code === 'device-lost') await this.dispose().catch(() => undefined);
      throw err;
    }
  }

  /** Progress with a preview every few steps; returns a promise only when it decodes with the VAE, so that only that is awaited and timed. */
  private progress(pack: LoadedPack, p: Progress, mode: 'fast' | 'vae', onProgress: (p: EngineProgress) => void): void | Promise<void> {
    const send = (preview?: PreviewImage) => onProgress({
      step: p.step, totalSteps: p.totalSteps, timestep: p.timestep, elapsedMs: p.elapsedMs, loopElapsedMs: p.loopElapsedMs,
      ...(p.pass ? { pass: p.pass } : {}), workDone: p.workDone, workTotal: p.workTotal,
      ...(preview ? { preview } : {}),
    });
    const last = p.step === p.totalSteps;
    if (mode === 'vae') {
      // Not on the last step: the run's own decode follows at once.
      if (p.step % VAE_PREVIEW_EVERY !== 0 || last) return send();
      const [, h, w] = p.latentDims;
      const f = pack.manifest.vae.downscaleFactor;
      return pack.decode(p.denoised, p.latentDims).then((pixels) => send({ width: w * f, height: h * f, pixels }));
    }
    const map = previewMap(pack.manifest);
    return send(map && (p.step % PREVIEW_EVERY === 0 || last) ? latentPreview(p.denoised, p.latentDims, map) : undefined);
  }

  async dispose(): Promise<void> {
    const pack = this.pack;
    this.pack = undefined;
    this.info = undefined;
    this.key = '';
    await pack?.dispose();
  }
}

function previewMap(m: PackManifest): LatentRgbMap | undefined {
  const { latentRgbFactors: factors, latentRgbBias: bias } = m.vae;
  return factors && bias ? { factors, bias } : undefined;
}
