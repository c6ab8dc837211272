// The largest weight tensor of an ONNX model, read from its protobuf bytes without loading it, so the
// app can say before a load whether a GPU's buffer limits can hold it. Only the few fields needed are
// decoded (onnx.proto: ModelProto.graph = 7; GraphProto.node = 1, .initializer = 5;
// NodeProto.attribute = 5; AttributeProto.t = 5, .g = 6; TensorProto.dims = 1, .data_type = 2,
// .name = 8); everything else is skipped by its wire type. Written here rather than pulling in a
// protobuf library and onnx.proto's generated code (~200 kB) for three fields.

/** Bytes per element of ONNX's TensorProto.DataType values. */
const ELEMENT_BYTES: Readonly<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };
const INT8_TYPES = new Set([2, 3]);

export interface TensorSize {
  readonly name: string;
  readonly elements: number;
  /** Bytes as stored in the file. */
  readonly bytes: number;
  /** Bytes once on a GPU: int8/uint8 weights are dequantized to float32 (constant folding). */
  readonly gpuBytes: number;
}

class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.pos += this.varint();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  /** Each field of the message: its number, wire type, and for length-delimited ones a sub-reader. */
  *fields(): Generator<{ field: number; wire: number; sub?: Reader }> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 2) {
        const len = this.varint();
        const sub = new Reader(this.buf, this.pos, this.pos + len);
        this.pos += len;
        yield { field, wire, sub };
      } else {
        const at = this.pos;
        yield { field, wire };
        if (this.pos === at) this.skip(wire);
      }
    }
  }
}

function tensor(r: Reader): TensorSize {
  const dims: number[] = [];
  let type = 0;
  let name = '';
  for (const f of r.fields()) {
    if (f.field === 1 && f.sub) while (f.sub.pos < f.sub.end) dims.push(f.sub.varint());
    else if (f.field === 1) dims.push(r.varint());
    else if (f.field === 2 && !f.sub) type = r.varint();
    else if (f.field === 8 && f.sub) name = new TextDecoder().decode(f.sub.buf.subarray(f.sub.pos, f.sub.end));
  }
  const elements = dims.reduce((a, d) => a * d, 1);
  const bytes = elements * (ELEMENT_BYTES[type] ?? 4);
  return { name, elements, bytes, gpuBytes: INT8_TYPES.has(type) ? elements * 4 : bytes };
}

function graph(r: Reader, out: TensorSize[]): void {
  const mine: TensorSize[] = [];
  // An int8 table read by Gather directly (the app's quantizer gathers rows first, then scales them) is
  // never dequantized whole: it stays int8 on a GPU.
  const gathered = new Set<string>();
  const text = (s: Reader) => new TextDecoder().decode(s.buf.subarray(s.pos, s.end));
  for (const f of r.fields()) {
    if (!f.sub) continue;
    if (f.field === 5) mine.push(tensor(f.sub));
    else if (f.field === 1) {
      // NodeProto: input = 1, op_type = 4; Constant nodes hold tensors in attributes; If/Loop nodes hold subgraphs.
      let op = '';
      let first = '';
      for (const n of f.sub.fields()) {
        if (n.field === 1 && n.sub && !first) first = text(n.sub);
        else if (n.field === 4 && n.sub) op = text(n.sub);
        if (n.field !== 5 || !n.sub) continue;
        for (const a of n.sub.fields()) {
          if (a.field === 5 && a.sub) mine.push(tensor(a.sub));
          else if (a.field === 6 && a.sub) graph(a.sub, out);
        }
      }
      if (op === 'Gather' && first) gathered.add(first);
    }
  }
  for (const t of mine) out.push(gathered.has(t.name) ? { ...t, gpuBytes: t.bytes } : t);
}

/** Every weight tensor (initializers and Constant nodes) of an ONNX model's bytes. */
export function weightTensors(model: Uint8Array): TensorSize[] {
  const out: TensorSize[] = [];
  for (const f of new Reader(model, 0, model.length).fields()) if (f.field === 7 && f.sub) graph(f.sub, out);
  return out;
}

/** The largest weight tensor on a GPU (by gpuBytes), or undefined for a model without weights. */
export function largestWeight(model: Uint8Array): TensorSize | undefined {
  let best: TensorSize | undefined;
  for (const t of weightTensors(model)) if (!best || t.gpuBytes > best.gpuBytes) best = t;
  return best;
}
