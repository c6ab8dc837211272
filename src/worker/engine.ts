// The engine: a loaded model pack and the runtime it runs on. It lives in the worker (and in Node for
// the command line); models load once and stay loaded across generations.
import { PocketError } from '../core/errors';
import { formatBytes } from '../core/format';
import { largestWeight } from '../core/onnx-scan';
import { TextEncoderNet, UNetNet, VaeDecoderNet } from '../core/pipeline/networks';
import type { ModelSession } from '../core/pipeline/model-session';
import type { GenerateRequest } from '../core/pipeline/request';
import { decodeLatents, generate, type GenerateOptions, type GenerateResult, type PipelineModels } from '../core/pipeline/text-to-image';
import { ClipTokenizer } from '../core/tokenizer/clip-tokenizer';
import { externalDataFor, fileFor, imageLimits, parseManifest, type PackManifest } from '../store/manifest';
import { createRuntime, type Runtime, type RuntimeOptions } from '../runtime/ort-runtime';

/** Reads one of a pack's files by its path in the manifest (fetch, IndexedDB or the file system). */
export type PackReader = (path: string) => Promise<Uint8Array>;

export interface LoadedInfo {
  readonly packId: string;
  readonly backend: Runtime['backend'];
  readonly capabilities: Runtime['capabilities'];
  readonly loadMs: number;
  /** Why "auto" ended up on WASM although WebGPU was there, if it did. */
  readonly fallbackReason?: string;
  /** One network in memory at a time (EngineOptions.releaseBetweenStages). */
  readonly lowMemory: boolean;
}

/**
 * An fp16 network on a WebGPU adapter without `shader-f16` (Qualcomm's Adreno in Chrome, SwiftShader,
 * the H200 through Dawn) loads but fails or returns garbage when it runs. Refuse it at load, so that
 * "auto" falls back to WASM — where onnxruntime computes fp16 nodes in fp32 — and says why.
 */
function refuseHalfWithoutF16(session: ModelSession, role: string, runtime: Runtime): void {
  const gpu = runtime.capabilities.webgpu;
  if (runtime.backend !== 'webgpu' || (gpu && gpu.shaderF16)) return;
  if (![...session.inputs, ...session.outputs].some((io) => io.type === 'float16')) return;
  const what = `this model's ${role.replace('_', ' ')} computes in fp16 and this GPU has no shader-f16 support`;
  throw new PocketError('unsupported-feature',
    `The ${what.slice(5)}: choose Auto or WASM to run it on the CPU in fp32 (slower, but correct), or use an fp32 export of the model on this GPU.`,
    { fallback: `${what}, so it runs on WASM (CPU, in fp32): slower, but correct. An fp32 export of the model would run on this GPU.` });
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

  async run(feeds: Parameters<ModelSession['run']>[0], keepOnDevice?: readonly string[]): ReturnType<ModelSession['run']> {
    this.session ??= await this.open();
    return this.session.run(feeds, keepOnDevice);
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

export class Engine {
  private constructor(
    readonly manifest: PackManifest,
    readonly runtime: Runtime,
    private readonly models: PipelineModels,
    private readonly sessions: readonly ModelSession[],
    readonly info: LoadedInfo,
  ) {}

  static async load(read: PackReader, runtimeOptions: RuntimeOptions, options: EngineOptions = {}): Promise<Engine> {
    try {
      return await Engine.loadOn(read, runtimeOptions, options);
    } catch (e) {
      const err = PocketError.from(e);
      // "auto" means: the fastest backend that works. If WebGPU could not take the model, use WASM.
      if (runtimeOptions.backend !== 'auto' || err.code === 'bad-request') throw err;
      const engine = await Engine.loadOn(read, { ...runtimeOptions, backend: 'wasm' }, options);
      return new Engine(engine.manifest, engine.runtime, engine.models, engine.sessions, { ...engine.info, fallbackReason: String(err.detail?.fallback ?? err.message) });
    }
  }

  private static async loadOn(read: PackReader, runtimeOptions: RuntimeOptions, options: EngineOptions): Promise<Engine> {
    const t0 = performance.now();
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(await read('manifest.json'))));
    const runtime = await createRuntime(runtimeOptions);
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    const tokenizer = new ClipTokenizer(JSON.parse(text(await read(fileFor(manifest, 'tokenizer_vocab').path))),
      text(await read(fileFor(manifest, 'tokenizer_merges').path)), manifest.tokenizer);
    const staged = options.releaseBetweenStages === true;
    // Embeddings stay on the GPU only while the text encoder's session lives.
    const onGpu = runtime.backend === 'webgpu' && !staged;
    const sessions: ModelSession[] = [];
    const stages = new Map<string, StagedSession>();
    try {
      const open = async (role: Role, gpuOutputs: string[]) => {
        const external = await Promise.all(externalDataFor(manifest, role).map(async (x) => ({ path: x.name, data: await read(x.file.path) })));
        const bytes = await read(fileFor(manifest, role).path);
        refuseOversizeForGpu(bytes, role, runtime);
        return runtime.createSession(bytes, role.replace('_', ' '), gpuOutputs, external);
      };
      const session = async (role: Role, gpuOutputs: string[] = []) => {
        let s = await open(role, gpuOutputs);
        refuseHalfWithoutF16(s, role, runtime);
        if (staged) {
          const st = new StagedSession(s, () => open(role, gpuOutputs));
          stages.set(role, st);
          // Released before the next network loads, so even loading holds one network at a time.
          await st.park();
          s = st;
        }
        sessions.push(s);
        return s;
      };
      const textEncoder = new TextEncoderNet(await session('text_encoder', onGpu ? ['last_hidden_state'] : []));
      const unet = new UNetNet(await session('unet'));
      const vae = new VaeDecoderNet(await session('vae_decoder'));
      const limits = imageLimits(manifest);
      const fixed = unet.fixedLatentSize;
      const models: PipelineModels = {
        tokenizer, textEncoder, unet, vae,
        vaeScalingFactor: manifest.vae.scalingFactor,
        schedulerConfig: manifest.scheduler,
        latentChannels: manifest.vae.latentChannels,
        embeddingsOnDevice: onGpu,
        limits: fixed ? { ...limits, fixed: [fixed[1] * 8, fixed[0] * 8] } : limits,
        ...(staged ? { afterStage: (stage: Role) => stages.get(stage)!.park() } : {}),
      };

      const info = { packId: manifest.id, backend: runtime.backend, capabilities: runtime.capabilities, loadMs: performance.now() - t0, lowMemory: staged };
      return new Engine(manifest, runtime, models, sessions, info);
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw PocketError.from(e);
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
