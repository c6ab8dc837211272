// Adapters that read a session's signature and feed it what it wants: the variants SD ONNX exports
// come in (fp16 or fp32 tensors; int32 or int64 token ids; a timestep of shape [], [1] or [batch] in
// int64, float32 or float16; static batch 1 or 2, or dynamic batch; static or dynamic latent size).
import { PocketError } from '../errors';
import { fromHalf, toHalf } from './float16';
import { hostTensor, size, type ElementType, type IOInfo, type ModelSession, type Tensor } from './model-session';

function incompatible(part: string, why: string): PocketError {
  return new PocketError('model-incompatible', `The ${part} of this model pack is not a Stable Diffusion export we can run: ${why}`);
}

function find(list: readonly IOInfo[], part: string, names: readonly string[], fallbackIndex?: number): IOInfo {
  const hit = list.find((io) => names.includes(io.name)) ?? (fallbackIndex === undefined ? undefined : list[fallbackIndex]);
  if (!hit) throw incompatible(part, `it has no ${names.join(' / ')} (it has ${list.map((io) => io.name).join(', ')})`);
  return hit;
}

/** A float32 host array as the element type a network wants. */
export function floatTensor(type: ElementType, data: Float32Array, dims: readonly number[]): Tensor {
  if (type === 'float16') return hostTensor('float16', toHalf(data), dims);
  if (type === 'float32') return hostTensor('float32', data, dims);
  throw new PocketError('model-incompatible', `expected a floating-point input, the model wants ${type}`);
}

/** A host tensor's values as float32 (fp16 converted). */
export function toFloat32(t: Tensor, what: string): Float32Array {
  if (t.location !== 'cpu') throw new PocketError('internal', `${what} is still on the device; it must be read back first`);
  if (t.type === 'float32') return t.data;
  if (t.type === 'float16') return fromHalf(t.data);
  throw incompatible(what, `its output is ${t.type}, not floating point`);
}

const staticDim = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);

export class TextEncoderNet {
  private readonly ids: IOInfo;
  private readonly output: IOInfo;
  /** Static batch size, if the export fixed one. */
  readonly fixedBatch: number | undefined;
  readonly sequenceLength: number | undefined;

  constructor(private readonly session: ModelSession) {
    this.ids = find(session.inputs, 'text encoder', ['input_ids'], 0);
    if (this.ids.type !== 'int32' && this.ids.type !== 'int64') throw incompatible('text encoder', `input_ids are ${this.ids.type}`);
    this.output = find(session.outputs, 'text encoder', ['last_hidden_state'], 0);
    this.fixedBatch = staticDim(this.ids.shape[0]);
    this.sequenceLength = staticDim(this.ids.shape[1]);
  }

  /**
   * Hidden states [n, seq, width] for n prompts as one tensor, so that a guidance pair can go to the
   * UNet as it is — on the device where the session puts its output there. An encoder exported with a
   * fixed batch of 1 runs once per prompt and the results are joined on the host (read back first).
   */
  async encode(prompts: readonly Int32Array[]): Promise<Tensor> {
    const seq = prompts[0]!.length;
    if (this.sequenceLength !== undefined && seq !== this.sequenceLength) {
      throw incompatible('text encoder', `it takes ${this.sequenceLength} tokens, the tokenizer gives ${seq}`);
    }
    if (this.fixedBatch !== undefined && this.fixedBatch !== prompts.length) {
      if (this.fixedBatch !== 1) throw incompatible('text encoder', `its batch is fixed at ${this.fixedBatch}`);
      // One after the other: onnxruntime-web refuses a second run on a session that is still running
      // ("Session already started").
      const parts: Tensor[] = [];
      try {
        for (const p of prompts) {
          const t = await this.encode([p]);
          if (t.location !== 'device') {
            parts.push(t);
            continue;
          }
          try {
            parts.push(await t.download());
          } catch (e) {
            t.dispose();
            throw e;
          }
        }
      } finally {
        for (const t of parts) if (t.location === 'device') t.dispose();
      }
      return concatBatch(parts, 'text encoder output');
    }
    const flat = new Int32Array(prompts.length * seq);
    prompts.forEach((p, i) => flat.set(p, i * seq));
    const dims = [prompts.length, seq];
    const ids = this.ids.type === 'int64'
      ? hostTensor('int64', BigInt64Array.from(flat, (v) => BigInt(v)), dims)
      : hostTensor('int32', flat, dims);
    const res = await this.session.run({ [this.ids.name]: ids });
    return res[this.output.name]!;
  }
}

/** Host tensors joined along the batch axis, as float32. */
function concatBatch(parts: readonly Tensor[], what: string): Tensor {
  const values = parts.map((t) => toFloat32(t, what));
  const all = new Float32Array(values.reduce((n, v) => n + v.length, 0));
  let offset = 0;
  for (const v of values) {
    all.set(v, offset);
    offset += v.length;
  }
  const batch = parts.reduce((n, t) => n + t.dims[0]!, 0);
  return hostTensor('float32', all, [batch, ...parts[0]!.dims.slice(1)]);
}

export class UNetNet {
  private readonly sample: IOInfo;
  private readonly timestep: IOInfo;
  private readonly context: IOInfo;
  private readonly output: IOInfo;
  /** The UNet's fixed batch (1 or 2), or undefined when the batch is dynamic. */
  readonly fixedBatch: number | undefined;
  /** Fixed latent height and width, if the export baked them in. */
  readonly fixedLatentSize: readonly [number, number] | undefined;

  constructor(private readonly session: ModelSession) {
    this.sample = find(session.inputs, 'UNet', ['sample'], 0);
    this.timestep = find(session.inputs, 'UNet', ['timestep', 'timesteps', 't'], 1);
    this.context = find(session.inputs, 'UNet', ['encoder_hidden_states'], 2);
    this.output = find(session.outputs, 'UNet', ['out_sample', 'noise_pred'], 0);
    const b = staticDim(this.sample.shape[0]);
    if (b !== undefined && b !== 1 && b !== 2) throw incompatible('UNet', `its batch is fixed at ${b}`);
    this.fixedBatch = b;
    const [h, w] = [staticDim(this.sample.shape[2]), staticDim(this.sample.shape[3])];
    this.fixedLatentSize = h !== undefined && w !== undefined ? [h, w] : undefined;
  }

  /** Can one call evaluate the conditional and unconditional halves together? */
  get takesGuidanceBatch(): boolean {
    return this.fixedBatch !== 1;
  }

  /** The batch a call must have for `n` prompts' worth of work (a fixed batch of 2 pads a single one). */
  batchFor(n: number): number {
    return this.fixedBatch ?? n;
  }

  /**
   * ε for one latent [1, c, h, w] against each batch item of `context` [n, seq, width]; returns n
   * arrays (views of one buffer), in the context's order.
   */
  async predict(latents: Float32Array, latentDims: readonly number[], timestep: number, context: Tensor): Promise<Float32Array[]> {
    const batch = context.dims[0]!;
    if (this.fixedBatch !== undefined && batch !== this.fixedBatch) {
      throw new PocketError('internal', `the UNet takes a batch of ${this.fixedBatch}, got ${batch}`);
    }
    const per = size(latentDims);
    const stacked = new Float32Array(per * batch);
    for (let i = 0; i < batch; i++) stacked.set(latents, i * per);
    const dims = [batch, ...latentDims.slice(1)];
    const feeds: Record<string, Tensor> = {
      [this.sample.name]: floatTensor(this.sample.type, stacked, dims),
      [this.timestep.name]: this.timestepTensor(timestep, batch),
      [this.context.name]: this.asContextType(context),
    };
    const res = await this.session.run(feeds);
    const eps = toFloat32(res[this.output.name]!, 'UNet output');
    return Array.from({ length: batch }, (_, i) => eps.subarray(i * per, (i + 1) * per));
  }

  private timestepTensor(t: number, batch: number): Tensor {
    const rank = this.timestep.shape.length;
    const fixed = staticDim(this.timestep.shape[0]);
    const n = rank === 0 ? 1 : fixed ?? batch;
    const dims = rank === 0 ? [] : [n];
    switch (this.timestep.type) {
      case 'int64':
        return hostTensor('int64', new BigInt64Array(n).fill(BigInt(Math.round(t))), dims);
      case 'int32':
        return hostTensor('int32', new Int32Array(n).fill(Math.round(t)), dims);
      default:
        return floatTensor(this.timestep.type, new Float32Array(n).fill(t), dims);
    }
  }

  private asContextType(t: Tensor): Tensor {
    if (t.location === 'device' || t.type === this.context.type) return t;
    return floatTensor(this.context.type, toFloat32(t, 'text embeddings'), t.dims);
  }
}

export class VaeDecoderNet {
  private readonly input: IOInfo;
  private readonly output: IOInfo;

  constructor(private readonly session: ModelSession) {
    this.input = find(session.inputs, 'VAE decoder', ['latent_sample', 'latents', 'z'], 0);
    this.output = find(session.outputs, 'VAE decoder', ['sample', 'images'], 0);
  }

  /** Pixels [1, 3, 8h, 8w] in [-1, 1] for latents already divided by the scaling factor. */
  async decode(latents: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
    const res = await this.session.run({ [this.input.name]: floatTensor(this.input.type, latents, dims) });
    const out = res[this.output.name]!;
    return { data: toFloat32(out, 'VAE output'), dims: out.dims };
  }
}
