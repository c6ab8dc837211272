// Deterministic stand-ins for the three ONNX sessions, with the signature variants real SD exports
// come in. Their arithmetic is simple enough to recompute in a test:
//   text encoder: h[b, j, c] = ids[b, j] / 50000 + c / 10          (width 4)
//   UNet:         ε = 0.1 · x + mean(h[b]) + t / 10000
//   VAE decoder:  pixel[c, y, x] = tanh(z[c, y / 8, x / 8])
import { fromHalf, toHalf } from '../../../src/core/pipeline/float16';
import { hostTensor, size, type DeviceTensor, type ElementType, type HostTensor, type IOInfo, type ModelSession, type Tensor } from '../../../src/core/pipeline/model-session';

export const WIDTH = 4;

function floats(t: Tensor): Float32Array {
  if (t.location === 'device') return (t as FakeDeviceTensor).values;
  if (t.type === 'float32') return t.data;
  if (t.type === 'float16') return fromHalf(t.data);
  throw new Error(`expected floats, got ${t.type}`);
}

function out(type: ElementType, data: Float32Array, dims: readonly number[]): HostTensor {
  return type === 'float16' ? hostTensor('float16', toHalf(data), dims) : hostTensor('float32', data, dims);
}

export class FakeDeviceTensor implements DeviceTensor {
  readonly location = 'device';
  disposed = false;
  constructor(readonly type: ElementType, readonly dims: readonly number[], readonly values: Float32Array) {}
  dispose(): void {
    this.disposed = true;
  }
  /** Like onnxruntime-web's getData(true): the values come back and the device copy is released. */
  async download(): Promise<HostTensor> {
    if (this.disposed) throw new Error('tensor already disposed');
    this.disposed = true;
    return out(this.type === 'float16' ? 'float16' : 'float32', this.values, this.dims);
  }
}

abstract class Fake implements ModelSession {
  readonly calls: Record<string, Tensor>[] = [];
  released = false;
  constructor(readonly inputs: IOInfo[], readonly outputs: IOInfo[]) {}
  abstract compute(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor>;
  private busy = false;
  async run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    // Like onnxruntime-web: one run at a time per session.
    if (this.busy) throw new Error('Session already started');
    this.busy = true;
    try {
      await Promise.resolve();
      return this.check(feeds);
    } finally {
      this.busy = false;
    }
  }
  private check(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    for (const io of this.inputs) {
      const t = feeds[io.name];
      if (!t) throw new Error(`missing input ${io.name}`);
      if (t.type !== io.type) throw new Error(`${io.name}: got ${t.type}, the model wants ${io.type}`);
      if (t.dims.length !== io.shape.length) throw new Error(`${io.name}: rank ${t.dims.length}, wants ${io.shape.length}`);
      io.shape.forEach((d, i) => {
        if (typeof d === 'number' && t.dims[i] !== d) throw new Error(`${io.name}: dim ${i} is ${t.dims[i]}, wants ${d}`);
      });
    }
    this.calls.push({ ...feeds });
    return this.compute(feeds);
  }
  async release(): Promise<void> {
    this.released = true;
  }
}

export class FakeTextEncoder extends Fake {
  readonly deviceTensors: FakeDeviceTensor[] = [];
  /**
   * deviceOutputs: like onnxruntime-web's preferredOutputLocation, fixed when the session is created —
   * every run returns those outputs on the device, whatever its caller would rather have.
   */
  constructor(idsType: 'int32' | 'int64' = 'int32', batch: number | string = 'batch', private readonly deviceOutputs: readonly string[] = []) {
    super([{ name: 'input_ids', type: idsType, shape: [batch, 77] }], [{ name: 'last_hidden_state', type: 'float32', shape: [batch, 77, WIDTH] }]);
  }
  compute(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const ids = feeds.input_ids!;
    if (ids.location !== 'cpu' || (ids.type !== 'int32' && ids.type !== 'int64')) throw new Error('bad ids');
    const values = Array.from(ids.data as ArrayLike<number | bigint>, Number);
    const h = new Float32Array(values.length * WIDTH);
    values.forEach((id, j) => {
      for (let c = 0; c < WIDTH; c++) h[j * WIDTH + c] = id / 50000 + c / 10;
    });
    const dims = [ids.dims[0]!, 77, WIDTH];
    if (this.deviceOutputs.includes('last_hidden_state')) {
      const d = new FakeDeviceTensor('float32', dims, h);
      this.deviceTensors.push(d);
      return { last_hidden_state: d };
    }
    return { last_hidden_state: hostTensor('float32', h, dims) };
  }
}

export interface UNetVariant {
  readonly batch?: number | string;
  readonly floatType?: 'float32' | 'float16';
  readonly timestepType?: ElementType;
  readonly timestepShape?: readonly (number | string)[];
  readonly latentSize?: readonly [number, number];
}

export class FakeUNet extends Fake {
  constructor(readonly variant: UNetVariant = {}) {
    const b = variant.batch ?? 'batch';
    const f = variant.floatType ?? 'float32';
    const [h, w] = variant.latentSize ?? ['height', 'width'];
    super([
      { name: 'sample', type: f, shape: [b, 4, h, w] },
      { name: 'timestep', type: variant.timestepType ?? 'float32', shape: variant.timestepShape ?? ['timestep_batch'] },
      { name: 'encoder_hidden_states', type: f, shape: [b, 77, WIDTH] },
    ], [{ name: 'out_sample', type: f, shape: [b, 4, h, w] }]);
  }
  compute(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const x = floats(feeds.sample!);
    const ctx = floats(feeds.encoder_hidden_states!);
    const ts = feeds.timestep!;
    if (ts.location !== 'cpu') throw new Error('timestep on device');
    const t = ts.type === 'float16' ? fromHalf(ts.data)[0]! : Number((ts.data as ArrayLike<number | bigint>)[0]);
    const batch = feeds.sample!.dims[0]!;
    const per = x.length / batch;
    const ctxPer = ctx.length / batch;
    const eps = new Float32Array(x.length);
    for (let b = 0; b < batch; b++) {
      let mean = 0;
      for (let i = 0; i < ctxPer; i++) mean += ctx[b * ctxPer + i]!;
      mean /= ctxPer;
      for (let i = 0; i < per; i++) eps[b * per + i] = 0.1 * x[b * per + i]! + mean + t / 10000;
    }
    return { out_sample: out(this.variant.floatType ?? 'float32', eps, feeds.sample!.dims) };
  }
}

export class FakeVae extends Fake {
  /** factor: image pixels per latent pixel (SD's VAE: 8). */
  constructor(floatType: 'float32' | 'float16' = 'float32', private readonly factor = 8) {
    super([{ name: 'latent_sample', type: floatType, shape: ['batch', 4, 'height', 'width'] }],
      [{ name: 'sample', type: floatType, shape: ['batch', 3, 'h8', 'w8'] }]);
  }
  compute(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const z = floats(feeds.latent_sample!);
    const [, , h, w] = feeds.latent_sample!.dims as [number, number, number, number];
    const f = this.factor;
    const H = h * f;
    const W = w * f;
    const px = new Float32Array(3 * H * W);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) px[(c * H + y) * W + x] = Math.tanh(z[(c * h + Math.floor(y / f)) * w + Math.floor(x / f)]!);
      }
    }
    return { sample: out(this.inputs[0]!.type as 'float32' | 'float16', px, [1, 3, H, W]) };
  }
}

export { size };
