// FP32 / FP16 -> INT8 weights for one ONNX network, while it streams: the model file is read field by field
// and each weight tensor is quantized as soon as its bytes are in, so neither the full-precision copy nor
// the result is ever held whole. The output is a valid ONNX model whose weights all live in one external
// data file (written in order, through `writeData`); the graph itself (a few MB even for SD 1.5's UNet) is
// returned as bytes.
//
// What is quantized — W8 per output channel, symmetric, DequantizeLinear on the initializer (int8.ts):
// the weight input of Conv (axis 0: [out, in, kh, kw]), MatMul (axis 1: x @ W, W [in, out]), Gemm (axis 0
// with transB, else 1) and Gather's table (axis 0: one scale per token row), of at least 1,024 elements.
// What stays float, and why: biases, norms' scales and offsets and other 1-D tensors (a few kB each, and
// added rather than multiplied: their error would not average out); position embeddings and any tensor
// that is not a weight of those ops (its output channel is not known); tensors under 1,024 elements.
//
// Activations are float32 by default: an fp16 export's graph is rewritten to compute in float32 (its
// fp16 inputs, outputs, casts and constants), so it runs on a GPU without `shader-f16` (most phones) and
// on WASM without the casts onnxruntime would insert. `activations: 'source'` keeps an fp16 graph fp16
// (a Cast after each DequantizeLinear) for GPUs that have it.
import { ByteStream } from './byte-stream';
import { floatValues, quantizePerChannel } from './int8';
import {
  ATTRIBUTE_GRAPH,
  ATTRIBUTE_TENSOR,
  DataType,
  EXTERNAL,
  type Graph,
  type Node,
  type Tensor,
  type ValueInfo,
  decodeNode,
  decodeOpset,
  decodeTensor,
  decodeValueInfo,
  encodeNode,
  encodeTensor,
  encodeValueInfo,
  lengthField,
  num,
  rawField,
} from './onnx-proto';

export const MIN_QUANT_ELEMENTS = 1024;
/** Tensors of at most this many bytes stay inside the graph; larger ones go to the external data file. */
const INLINE_BYTES = 1024;
const ALIGN = 64;

export interface QuantizeOptions {
  /** The output's external data file name, relative to the model file (e.g. "model.onnx_data"). */
  readonly dataFile: string;
  /** Where the source's external data files are: one stream per file, read once, in order. */
  readonly openExternal?: (location: string) => Promise<ByteStream>;
  readonly activations?: 'float32' | 'source';
  readonly signal?: AbortSignal;
  /** Bytes of the source read so far (model file and external data together). */
  readonly onProgress?: (sourceBytesRead: number) => void;
}

export interface QuantizeReport {
  readonly quantized: number;
  readonly keptFloat: number;
  readonly sourceWeightBytes: number;
  readonly int8Bytes: number;
  readonly floatBytes: number;
  readonly dataBytes: number;
  readonly sourceFloat: 'float32' | 'float16' | 'mixed' | 'none';
  readonly activations: 'float32' | 'float16';
}

export class QuantizeError extends Error {}

interface Pending {
  tensor: Tensor;
  location: string;
  offset: number;
  length: number;
}

const product = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);
const isFloat = (t: number | undefined) => t === DataType.FLOAT || t === DataType.FLOAT16;

/** The weights' output-channel axes, by initializer name, as training/shapes/quantize.py chooses them:
 * [axis, the rank the weight must have]. */
export function weightAxes(nodes: readonly Node[]): Map<string, readonly [number, number]> {
  const axes = new Map<string, readonly [number, number]>();
  for (const n of nodes) {
    const [a, b] = [n.input?.[0], n.input?.[1]];
    if (n.op_type === 'Conv' && b) axes.set(b, [0, 4]);
    else if (n.op_type === 'MatMul' && b) axes.set(b, [1, 2]);
    else if (n.op_type === 'Gemm' && b) axes.set(b, [num(n.attribute?.find((x) => x.name === 'transB')?.i) ? 0 : 1, 2]);
    else if (n.op_type === 'Gather' && a) axes.set(a, [0, 2]);
  }
  return axes;
}

export async function quantizeOnnx(
  model: ByteStream,
  writeData: (bytes: Uint8Array) => Promise<void>,
  options: QuantizeOptions,
): Promise<{ model: Uint8Array; report: QuantizeReport }> {
  const q = new Quantizer(writeData, options);
  return q.run(model);
}

class Quantizer {
  private readonly nodes: Node[] = [];
  private nodesDone = false;
  private axes = new Map<string, readonly [number, number]>();
  private readonly outInits: Uint8Array[] = [];
  private readonly extraNodes: Node[] = [];
  private readonly pending: Pending[] = [];
  private readonly quantized = new Set<string>();
  /** Tables read only by Gather: rows gathered from the int8 table, then scaled (never dequantized whole). */
  private readonly rowsFirst = new Map<string, { qName: string; sName: string; axesName: string; keepHalf: boolean }>();
  private readonly consumers = new Map<string, Node[]>();
  private dataBytes = 0;
  private sourceRead = 0;
  private half = 0;
  private single = 0;
  private toF32 = false;
  private stats = { quantized: 0, keptFloat: 0, sourceWeightBytes: 0, int8Bytes: 0, floatBytes: 0 };

  constructor(
    private readonly writeData: (bytes: Uint8Array) => Promise<void>,
    private readonly opts: QuantizeOptions,
  ) {}

  async run(model: ByteStream): Promise<{ model: Uint8Array; report: QuantizeReport }> {
    const top: Uint8Array[] = [];
    let graph: (() => Uint8Array) | undefined;
    while (model.position < model.size) {
      const { field, wire } = split(await model.varint());
      if (field === 7 && wire === 2) {
        const len = await model.varint();
        graph = await this.graph(model, model.position + len);
      } else if (field === 8 && wire === 2) {
        const bytes = await model.read(await model.varint());
        const opset = decoded(decodeOpset, bytes, 'opset');
        if ((!opset.domain || opset.domain === 'ai.onnx') && num(opset.version) < 13) {
          throw new QuantizeError(`this model is ONNX opset ${num(opset.version)}: per-channel DequantizeLinear needs opset 13 or later; re-export it with a newer opset`);
        }
        top.push(lengthField(8, bytes));
      } else {
        if (field === 25 && this.toF32 && this.half) throw unsupportedRewrite('model-local functions');
        top.push(await copyField(model, field, wire));
      }
      this.progress(model);
    }
    if (!graph) throw new QuantizeError('this file holds no ONNX graph');
    this.sourceRead = model.position;
    await this.external();
    const out = concat([...top, lengthField(7, graph())]);
    const sourceFloat = this.half && this.single ? 'mixed' : this.half ? 'float16' : this.single ? 'float32' : 'none';
    return {
      model: out,
      report: {
        ...this.stats,
        dataBytes: this.dataBytes,
        sourceFloat,
        activations: this.half && !this.toF32 ? 'float16' : 'float32',
      },
    };
  }

  private progress(s: ByteStream): void {
    this.opts.signal?.throwIfAborted();
    this.opts.onProgress?.(this.sourceRead + s.position);
  }

  /** The graph's fields; weights are rewritten as they come, the rest kept (and typed float32 if asked).
   * Gives the function that writes the graph once the external weights are done too. */
  private async graph(s: ByteStream, end: number): Promise<() => Uint8Array> {
    const kept: Uint8Array[] = [];
    const io: { field: number; v: ValueInfo }[] = [];
    while (s.position < end) {
      const { field, wire } = split(await s.varint());
      if (wire !== 2 || ![1, 5, 11, 12, 13].includes(field)) {
        if (field === 15 && this.toF32 && this.half) throw unsupportedRewrite('sparse weights');
        kept.push(await copyField(s, field, wire));
        continue;
      }
      const bytes = await s.read(await s.varint());
      if (field === 1) {
        if (this.nodesDone) throw new QuantizeError("this model's graph lists operators after its weights; re-save it with onnx.save_model and try again");
        this.nodes.push(decoded(decodeNode, bytes, 'operator list'));
      } else if (field === 5) {
        this.startWeights();
        await this.initializer(decoded(decodeTensor, bytes, 'weights'));
      } else {
        io.push({ field, v: decoded(decodeValueInfo, bytes, 'inputs and outputs') });
      }
      this.progress(s);
    }
    this.startWeights();
    const nodes = this.toF32 ? this.nodes.map((n) => nodeToFloat32(n)) : this.nodes;
    for (const { v } of io) if (this.toF32) valueInfoToFloat32(v);
    // DequantizeLinear nodes first, so the node list stays in topological order.
    return () => concat([
      ...[...this.extraNodes, ...nodes.flatMap((n) => this.gatherRows(n))].map((n) => lengthField(1, encodeNode(n))),
      ...kept,
      ...this.outInits.map((t) => lengthField(5, t)),
      // A weight also listed as a graph input (keep_initializers_as_inputs exports) is now a node's output.
      ...io.filter(({ field, v }) => !(field === 11 && this.quantized.has(v.name ?? ''))).map(({ field, v }) => lengthField(field, encodeValueInfo(v))),
    ]);
  }

  /** The first weight: every operator is known (serializers write a graph's nodes before its weights). */
  private startWeights(): void {
    if (this.nodesDone) return;
    this.nodesDone = true;
    this.axes = weightAxes(this.nodes);
    for (const n of this.nodes) for (const i of n.input ?? []) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
    this.toF32 = this.opts.activations !== 'source';
  }

  private async initializer(t: Tensor): Promise<void> {
    if (t.data_location === EXTERNAL) {
      const entry = (k: string) => t.external_data?.find((e) => e.key === k)?.value;
      const location = entry('location');
      if (!location) throw new QuantizeError(`weight ${t.name} is stored outside the model without saying where`);
      const dims = (t.dims ?? []).map(num);
      const length = entry('length') ? Number(entry('length')) : product(dims) * elementBytes(t.data_type);
      this.pending.push({ tensor: t, location, offset: Number(entry('offset') ?? 0), length });
      return;
    }
    if (isFloat(t.data_type)) await this.weight(t, inlineBytes(t));
    // Integers (shape constants; an already-int8 weight): as they were, large raw ones moved to the data file.
    else if (t.raw_data && t.raw_data.length > INLINE_BYTES) await this.emit({ name: t.name ?? '', dims: (t.dims ?? []).map(num), data_type: t.data_type ?? 0 }, t.raw_data);
    else this.outInits.push(encodeTensor(t));
  }

  /** The source's external data, file by file, in offset order. */
  private async external(): Promise<void> {
    const byFile = new Map<string, Pending[]>();
    for (const p of this.pending) byFile.set(p.location, [...(byFile.get(p.location) ?? []), p]);
    for (const [location, list] of byFile) {
      if (!this.opts.openExternal) throw new QuantizeError(`the model's weights are in ${location}, which was not given`);
      const s = await this.opts.openExternal(location);
      list.sort((a, b) => a.offset - b.offset);
      for (const p of list) {
        if (p.offset < s.position) throw new QuantizeError(`weights overlap in ${location} (at byte ${p.offset})`);
        await s.skip(p.offset - s.position);
        const bytes = await s.read(p.length);
        await this.weight({ ...p.tensor, external_data: [], data_location: 0 }, bytes);
        this.progress(s);
      }
      this.sourceRead += s.position;
      await s.close();
    }
  }

  /** One weight tensor, its bytes in hand: int8 + scales, float32 (from fp16), or kept as it is. */
  private async weight(t: Tensor, bytes: Uint8Array): Promise<void> {
    const name = t.name ?? '';
    const dims = (t.dims ?? []).map(num);
    const type = t.data_type;
    if (type === DataType.FLOAT16) this.half++;
    else if (type === DataType.FLOAT) this.single++;
    this.stats.sourceWeightBytes += bytes.length;
    const [axis, rank] = this.axes.get(name) ?? [-1, -1];
    if (isFloat(type) && dims.length === rank && product(dims) >= MIN_QUANT_ELEMENTS) {
      const w = floatValues(bytes, type === DataType.FLOAT16);
      const { q, scale } = quantizePerChannel(w, dims, axis);
      const qName = `${name}_quantized`;
      const sName = `${name}_scale`;
      await this.emit({ name: qName, dims, data_type: DataType.INT8 }, new Uint8Array(q.buffer, q.byteOffset, q.byteLength));
      await this.emit({ name: sName, dims: [dims[axis]!], data_type: DataType.FLOAT }, new Uint8Array(scale.buffer));
      const keepHalf = type === DataType.FLOAT16 && !this.toF32;
      const readers = this.consumers.get(name) ?? [];
      if (axis === 0 && readers.length && readers.every((n) => n.op_type === 'Gather' && n.input?.[0] === name && !num(n.attribute?.find((a) => a.name === 'axis')?.i))) {
        // An embedding table: SD 1.5's is 152 MB as fp32, over the 128 MiB a phone's GPU binds at once.
        const axesName = `${name}_rows_axes`;
        this.outInits.push(encodeTensor({ name: axesName, dims: [1], data_type: DataType.INT64, raw_data: new Uint8Array(new BigInt64Array([-1n]).buffer) }));
        this.rowsFirst.set(name, { qName, sName, axesName, keepHalf });
        this.stats.quantized++;
        this.quantized.add(name);
        this.stats.int8Bytes += q.byteLength + scale.byteLength;
        return;
      }
      const dqOut = keepHalf ? `${name}_dequantized` : name;
      this.extraNodes.push({ op_type: 'DequantizeLinear', name: `${name}_dq`, input: [qName, sName], output: [dqOut], attribute: [{ name: 'axis', type: 2, i: axis }] });
      if (keepHalf) this.extraNodes.push({ op_type: 'Cast', name: `${name}_cast`, input: [dqOut], output: [name], attribute: [{ name: 'to', type: 2, i: DataType.FLOAT16 }] });
      this.stats.quantized++;
      this.quantized.add(name);
      this.stats.int8Bytes += q.byteLength + scale.byteLength;
      return;
    }
    let out = bytes;
    let outType = type ?? DataType.FLOAT;
    if (type === DataType.FLOAT16 && this.toF32) {
      const f = floatValues(bytes, true);
      out = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      outType = DataType.FLOAT;
    }
    this.stats.keptFloat++;
    if (isFloat(outType)) this.stats.floatBytes += out.length;
    await this.emit({ name, dims, data_type: outType }, out);
  }

  /** Gather(table, ids) -> Gather(q, ids) · Gather(scale, ids)[..., None]: the same values as
   * DequantizeLinear then Gather (q · scale in float32), with only the gathered rows ever in float. */
  private gatherRows(n: Node): Node[] {
    const t = this.rowsFirst.get(n.input?.[0] ?? '');
    if (n.op_type !== 'Gather' || !t) return [n];
    const y = n.output![0]!;
    const ids = n.input![1]!;
    const base = n.name || y;
    const out = t.keepHalf ? `${y}_f32` : y;
    const nodes: Node[] = [
      { ...n, name: `${base}_rows`, input: [t.qName, ids], output: [`${y}_q`] },
      { op_type: 'Gather', name: `${base}_row_scales`, input: [t.sName, ids], output: [`${y}_s`] },
      { op_type: 'Unsqueeze', name: `${base}_row_scales_column`, input: [`${y}_s`, t.axesName], output: [`${y}_s1`] },
      { op_type: 'Cast', name: `${base}_rows_float`, input: [`${y}_q`], output: [`${y}_f`], attribute: [{ name: 'to', type: 2, i: DataType.FLOAT }] },
      { op_type: 'Mul', name: `${base}_rows_scaled`, input: [`${y}_f`, `${y}_s1`], output: [out] },
    ];
    if (t.keepHalf) nodes.push({ op_type: 'Cast', name: `${base}_rows_half`, input: [out], output: [y], attribute: [{ name: 'to', type: 2, i: DataType.FLOAT16 }] });
    return nodes;
  }

  /** A tensor of the output: inside the graph when small, else appended to the external data file. */
  private async emit(t: Tensor, bytes: Uint8Array): Promise<void> {
    if (bytes.length <= INLINE_BYTES) {
      this.outInits.push(encodeTensor({ ...t, raw_data: bytes.slice() }));
      return;
    }
    const pad = (ALIGN - (this.dataBytes % ALIGN)) % ALIGN;
    if (pad) await this.writeData(new Uint8Array(pad));
    const offset = this.dataBytes + pad;
    await this.writeData(bytes);
    this.dataBytes = offset + bytes.length;
    this.outInits.push(encodeTensor({
      ...t,
      data_location: EXTERNAL,
      external_data: [
        { key: 'location', value: this.opts.dataFile },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.length) },
      ],
    }));
  }
}

function unsupportedRewrite(what: string): QuantizeError {
  return new QuantizeError(`this fp16 export has ${what}, which the float32 rewrite does not cover: add it without int8, or quantize it with "npm run quantize -- --activations source"`);
}

/** A protobuf message decoded, or a QuantizeError that says the file is damaged (protobufjs throws RangeErrors). */
function decoded<T>(decode: (b: Uint8Array) => T, bytes: Uint8Array, what: string): T {
  try {
    return decode(bytes);
  } catch (e) {
    throw new QuantizeError(`its ${what} cannot be read (${e instanceof Error ? e.message : String(e)}): the file is damaged or not an ONNX model`);
  }
}

function split(key: number): { field: number; wire: number } {
  return { field: Math.floor(key / 8), wire: key % 8 };
}

async function copyField(s: ByteStream, field: number, wire: number): Promise<Uint8Array> {
  if (wire === 0) return rawField(field, 0, await s.rawVarint());
  if (wire === 1) return rawField(field, 1, (await s.read(8)).slice());
  if (wire === 5) return rawField(field, 5, (await s.read(4)).slice());
  if (wire === 2) return rawField(field, 2, (await s.read(await s.varint())).slice());
  throw new QuantizeError(`not an ONNX model (protobuf wire type ${wire} at byte ${s.position})`);
}

function elementBytes(type: number | undefined): number {
  return type === DataType.FLOAT16 ? 2 : type === DataType.INT8 || type === DataType.UINT8 ? 1 : type === DataType.INT64 || type === DataType.DOUBLE ? 8 : 4;
}

/** A tensor's bytes from wherever ONNX put them (raw_data, or the typed repeated fields). */
function inlineBytes(t: Tensor): Uint8Array {
  if (t.raw_data && t.raw_data.length) return t.raw_data;
  if (t.data_type === DataType.FLOAT && t.float_data?.length) return new Uint8Array(Float32Array.from(t.float_data).buffer);
  if (t.data_type === DataType.FLOAT16 && t.int32_data?.length) return new Uint8Array(Uint16Array.from(t.int32_data).buffer);
  return new Uint8Array(0);
}

// ------------------------------------------------------------------ fp16 graph -> float32 graph
function tensorToFloat32(t: Tensor): Tensor {
  if (t.data_type !== DataType.FLOAT16) return t;
  if (t.data_location === EXTERNAL) throw new QuantizeError(`the fp16 tensor ${t.name} inside a subgraph is stored outside the model; this export cannot be rewritten to float32: add it without int8, or quantize it with "npm run quantize -- --activations source"`);
  const f = floatValues(inlineBytes(t), true);
  return { ...t, data_type: DataType.FLOAT, raw_data: new Uint8Array(f.buffer), int32_data: [] };
}

function nodeToFloat32(n: Node): Node {
  for (const a of n.attribute ?? []) {
    if (n.op_type === 'Cast' && a.name === 'to' && num(a.i) === DataType.FLOAT16) a.i = DataType.FLOAT;
    if (a.type === ATTRIBUTE_TENSOR && a.t) a.t = tensorToFloat32(a.t);
    if (a.tensors) a.tensors = a.tensors.map(tensorToFloat32);
    if (a.type === ATTRIBUTE_GRAPH && a.g) graphToFloat32(a.g);
    for (const g of a.graphs ?? []) graphToFloat32(g);
  }
  return n;
}

function graphToFloat32(g: Graph): void {
  g.node?.forEach(nodeToFloat32);
  if (g.initializer) g.initializer = g.initializer.map(tensorToFloat32);
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.value_info ?? [])]) valueInfoToFloat32(v);
}

function valueInfoToFloat32(v: ValueInfo): void {
  const tt = v.type?.tensor_type;
  if (tt && tt.elem_type === DataType.FLOAT16) tt.elem_type = DataType.FLOAT;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
