// The one module that imports onnxruntime-web. It picks the execution provider, creates sessions,
// exposes their signatures to the pipeline (src/core/pipeline/model-session.ts), converts tensors, keeps
// chosen outputs on the GPU, and turns runtime failures into PocketErrors.
import * as ort from 'onnxruntime-web';
import { PocketError } from '../core/errors';
import type { DeviceTensor, ElementType, HostTensor, IOInfo, ModelSession, Tensor } from '../core/pipeline/model-session';
import { autoChoseWasm, detectCapabilities, wasmThreads, type Backend, type BackendChoice, type Capabilities, type GpuLike } from './capabilities';

export interface RuntimeOptions {
  readonly backend: BackendChoice;
  /** Where onnxruntime-web's .wasm/.mjs files are served from (the app self-hosts them). */
  readonly wasmPaths?: string;
  /** The WASM binary itself (Node, where fetch cannot read file:// URLs). */
  readonly wasmBinary?: ArrayBuffer | Uint8Array;
  readonly numThreads?: number;
  /** navigator.gpu, or Dawn's GPU object in Node. */
  readonly gpu?: GpuLike;
  /** Session options that trade memory for speed (scripts/bench-scale-memory.ts measures each). */
  readonly session?: SessionTuning;
}

export interface SessionTuning {
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** onnxruntime's CPU arena: freed blocks stay reserved for reuse. */
  readonly enableCpuMemArena?: boolean;
  /** Pre-planned activation buffers from the first run's shapes. */
  readonly enableMemPattern?: boolean;
  /** onnxruntime session config entries ("session.disable_prepacking": "1", …). */
  readonly config?: Readonly<Record<string, string>>;
}

/** ORT's session config keys ("session.disable_prepacking") as the nested object onnxruntime-web flattens. */
function nested(config: Readonly<Record<string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const parts = key.split('.');
    let at = out;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[parts[parts.length - 1]!] = value;
  }
  return out;
}

export interface Runtime {
  readonly backend: Backend;
  readonly capabilities: Capabilities;
  /** Why "auto" chose WASM although a WebGPU adapter was there (it is a software renderer). */
  readonly autoChoseWasm?: string;
  /**
   * A session over an .onnx file's bytes. Outputs named in gpuOutputs come back on the GPU from every
   * run (WebGPU only); externalData: weights kept outside the .onnx file, by the name the model refers
   * to them with.
   */
  createSession(model: Uint8Array, name: string, gpuOutputs?: readonly string[], externalData?: readonly { readonly path: string; readonly data: Uint8Array }[]): Promise<ModelSession>;
}

const ELEMENT_TYPES: readonly ElementType[] = ['float32', 'float16', 'int32', 'int64'];

// An ONNX model of one Identity node (float[1] in, float[1] out; opset 13), made with onnx.helper: the least a
// session can be created from.
const IDENTITY_MODEL = Uint8Array.of(8, 8, 18, 0, 58, 58, 10, 16, 10, 1, 120, 18, 1, 121, 34, 8, 73, 100, 101, 110, 116, 105, 116, 121, 18, 4,
  119, 97, 114, 109, 90, 15, 10, 1, 120, 18, 10, 10, 8, 8, 1, 18, 4, 10, 2, 8, 1, 98, 15, 10, 1, 121, 18, 10, 10, 8, 8, 1, 18, 4, 10, 2, 8,
  1, 66, 4, 10, 0, 16, 13);
let warming: Promise<unknown> | undefined;
type WasmOptions = Pick<RuntimeOptions, 'wasmPaths' | 'wasmBinary' | 'numThreads'>;

/**
 * Starts onnxruntime-web's WASM runtime — its .wasm fetched and compiled, its threads started — before a pack
 * is asked for, so that this runs beside whatever comes first (the page reading the store, a first visit's
 * download) instead of inside the first network's load: 1.4-2 s of the shapes pack's 3.6-5.4 s in Chromium
 * here. onnxruntime-web starts once per worker and refuses a second start while one is under way, so
 * createRuntime waits for this one. onnxruntime-web does not start again in a worker where it failed: a warm-up's
 * error is the load's, shown as it was (not as "previous call to 'initializeWebAssembly()' failed").
 */
export function warmUp(options: WasmOptions): void {
  warming ??= (async () => {
    configureWasm(options, wasmThreads());
    const session = await ort.InferenceSession.create(IDENTITY_MODEL, { executionProviders: ['wasm'] });
    await session.release();
  })().then(() => undefined, (e: unknown) => e);
}

function configureWasm(options: WasmOptions, threads: number): void {
  ort.env.logLevel = 'error';
  if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  if (options.wasmBinary) ort.env.wasm.wasmBinary = options.wasmBinary;
  ort.env.wasm.numThreads = options.numThreads ?? threads;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const [warmError, capabilities] = await Promise.all([warming, detectCapabilities(options.gpu)]);
  if (warmError !== undefined) {
    throw new PocketError('model-incompatible', `onnxruntime-web could not start here: ${String(warmError)}. Reload the page to try again.`);
  }
  if (options.backend === 'webgpu' && !capabilities.webgpu) {
    throw new PocketError('webgpu-unavailable',
      'WebGPU is not available in this browser or on this device. Choose "WASM" (slower, works everywhere) or try a browser with WebGPU enabled.');
  }
  const gpu = capabilities.webgpu;
  // "auto" means the fastest backend that works: a software WebGPU adapter is slower than WASM.
  const backend: Backend = options.backend === 'auto' ? (gpu && !gpu.software ? 'webgpu' : 'wasm') : options.backend;
  const autoReason = autoChoseWasm(options.backend, capabilities);
  configureWasm(options, capabilities.wasmThreads);
  let deviceLost: string | undefined;
  let watching = false;
  // ORT creates its GPUDevice with the first WebGPU session; watch that device for loss from then on.
  const watchDevice = async () => {
    if (watching) return;
    watching = true;
    const device = (await ort.env.webgpu.device) as { lost?: Promise<{ message?: string }> } | undefined;
    void device?.lost?.then((info) => {
      deviceLost = info?.message || 'the GPU device was lost';
    });
  };
  return {
    backend,
    capabilities,
    ...(autoReason ? { autoChoseWasm: autoReason } : {}),
    async createSession(model, name, gpuOutputs = [], externalData = []) {
      const keepOnGpu = backend === 'webgpu' ? gpuOutputs : [];
      let session: ort.InferenceSession;
      try {
        const tuning = options.session ?? {};
        session = await ort.InferenceSession.create(model, {
          executionProviders: [backend],
          graphOptimizationLevel: tuning.graphOptimizationLevel ?? 'all',
          ...(tuning.enableCpuMemArena !== undefined ? { enableCpuMemArena: tuning.enableCpuMemArena } : {}),
          ...(tuning.enableMemPattern !== undefined ? { enableMemPattern: tuning.enableMemPattern } : {}),
          ...(tuning.config ? { extra: nested(tuning.config) } : {}),
          ...(externalData.length ? { externalData: externalData.map((d) => ({ path: d.path, data: d.data })) } : {}),
          ...(keepOnGpu.length ? { preferredOutputLocation: Object.fromEntries(keepOnGpu.map((o) => [o, 'gpu-buffer'] as const)) } : {}),
        });
      } catch (e) {
        throw new PocketError('model-incompatible', `The ${name} could not be loaded on ${backend === 'webgpu' ? 'WebGPU' : 'WASM'}: ${String(e)}`);
      }
      if (backend === 'webgpu') await watchDevice();
      return new OrtSession(session, name, () => deviceLost);
    },
  };
}

class OrtSession implements ModelSession {
  readonly inputs: IOInfo[];
  readonly outputs: IOInfo[];

  constructor(private readonly session: ort.InferenceSession, private readonly name: string, private readonly lost: () => string | undefined) {
    this.inputs = session.inputMetadata.map((m) => info(m, name));
    this.outputs = session.outputMetadata.map((m) => info(m, name));
  }

  async run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    const lost = this.lost();
    if (lost) throw deviceLostError(lost);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = t.location === 'device' ? (t as OrtDeviceTensor).tensor : new ort.Tensor(t.type, t.data, t.dims);
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(ortFeeds);
    } catch (e) {
      const now = this.lost();
      if (now || /device.*lost|lost.*device/i.test(String(e))) throw deviceLostError(now ?? String(e));
      throw new PocketError('internal', `The ${this.name} failed while running: ${String(e)}`);
    }
    const result: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(out)) result[k] = fromOrt(t, `${this.name} output ${k}`);
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

class OrtDeviceTensor implements DeviceTensor {
  readonly location = 'device';
  constructor(readonly tensor: ort.Tensor, readonly type: ElementType) {}
  get dims(): readonly number[] {
    return this.tensor.dims;
  }
  dispose(): void {
    this.tensor.dispose();
  }
  async download(): Promise<HostTensor> {
    const data = await this.tensor.getData(true);
    return hostFromOrt(this.type, data, this.tensor.dims);
  }
}

function elementType(t: string, what: string): ElementType {
  if ((ELEMENT_TYPES as readonly string[]).includes(t)) return t as ElementType;
  throw new PocketError('model-incompatible', `${what} has element type ${t}; this app runs float32, float16, int32 and int64 tensors`);
}

function info(m: ort.InferenceSession.ValueMetadata, session: string): IOInfo {
  if (!m.isTensor) throw new PocketError('model-incompatible', `The ${session}'s ${m.name} is not a tensor`);
  return { name: m.name, type: elementType(m.type, `The ${session}'s ${m.name}`), shape: m.shape };
}

function fromOrt(t: ort.Tensor, what: string): Tensor {
  const type = elementType(t.type, what);
  if (t.location === 'gpu-buffer') return new OrtDeviceTensor(t, type);
  return hostFromOrt(type, t.data, t.dims);
}

function hostFromOrt(type: ElementType, data: ort.Tensor['data'], dims: readonly number[]): HostTensor {
  switch (type) {
    case 'float32':
      return { location: 'cpu', type, data: data as Float32Array, dims };
    case 'float16':
      // ORT hands fp16 back as raw bits (Uint16Array), or a Float16Array where the platform has one
      return { location: 'cpu', type, data: data instanceof Uint16Array ? data : new Uint16Array((data as ArrayBufferView).buffer), dims };
    case 'int32':
      return { location: 'cpu', type, data: data as Int32Array, dims };
    case 'int64':
      return { location: 'cpu', type, data: data as BigInt64Array, dims };
  }
}

function deviceLostError(why: string): PocketError {
  return new PocketError('device-lost',
    `The GPU stopped responding (${why}). Your settings are kept: press Generate to reload the model and try again, or switch to WASM.`);
}
