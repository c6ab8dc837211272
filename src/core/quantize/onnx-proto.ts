// ONNX's protobuf messages, decoded and encoded by protobufjs (onnxruntime-web's own protobuf library)
// from onnx.proto's JSON descriptor (scripts/gen-onnx-proto.mjs writes it). Only the fields this app reads
// are typed below; protobufjs keeps every other field of a decoded message, so re-encoding loses nothing.
import protobuf from 'protobufjs/light.js';
import descriptor from './onnx-proto.json';

const root = protobuf.Root.fromJSON(descriptor);
const type = (name: string) => root.lookupType(`onnx.${name}`);
export const ModelProto = type('ModelProto');
export const NodeProto = type('NodeProto');
export const TensorProto = type('TensorProto');
export const ValueInfoProto = type('ValueInfoProto');
export const OperatorSetIdProto = type('OperatorSetIdProto');
export const Writer = protobuf.Writer;

/** TensorProto.DataType values. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11 } as const;
export const EXTERNAL = 1; // TensorProto.DataLocation.EXTERNAL
export const ATTRIBUTE_TENSOR = 4; // AttributeProto.AttributeType.TENSOR
export const ATTRIBUTE_GRAPH = 5;

/** protobufjs gives int64 fields as numbers (or Long-likes when a Long library is present). */
export type Int64 = number | { toNumber(): number };
export const num = (v: Int64 | undefined | null): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

export interface StringStringEntry {
  key: string;
  value: string;
}

export interface Tensor {
  name?: string;
  dims?: Int64[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  external_data?: StringStringEntry[];
  data_location?: number;
}

export interface Attribute {
  name?: string;
  type?: number;
  i?: Int64;
  t?: Tensor;
  tensors?: Tensor[];
  g?: Graph;
  graphs?: Graph[];
}

export interface Node {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: Attribute[];
}

export interface ValueInfo {
  name?: string;
  type?: { tensor_type?: { elem_type?: number } };
}

export interface Graph {
  node?: Node[];
  initializer?: Tensor[];
  input?: ValueInfo[];
  output?: ValueInfo[];
  value_info?: ValueInfo[];
}

export interface OpsetId {
  domain?: string;
  version?: Int64;
}

export interface Model {
  opset_import?: OpsetId[];
  graph?: Graph;
}

/** A whole model (tests and small models: the streaming quantizer never decodes one whole). */
export const decodeModel = (b: Uint8Array) => ModelProto.decode(b) as unknown as Model;
export const encodeModel = (m: Model) => ModelProto.encode(ModelProto.fromObject(m)).finish();
export const decodeNode = (b: Uint8Array) => NodeProto.decode(b) as unknown as Node;
export const decodeTensor = (b: Uint8Array) => TensorProto.decode(b) as unknown as Tensor;
export const decodeValueInfo = (b: Uint8Array) => ValueInfoProto.decode(b) as unknown as ValueInfo;
export const decodeOpset = (b: Uint8Array) => OperatorSetIdProto.decode(b) as unknown as OpsetId;
export const encodeNode = (n: Node) => NodeProto.encode(NodeProto.fromObject(n)).finish();
export const encodeTensor = (t: Tensor) => TensorProto.encode(TensorProto.fromObject(t)).finish();
export const encodeValueInfo = (v: ValueInfo) => ValueInfoProto.encode(ValueInfoProto.fromObject(v)).finish();

/** One length-delimited field: key, length, bytes. */
export function lengthField(field: number, bytes: Uint8Array): Uint8Array {
  return Writer.create().uint32((field << 3) | 2).bytes(bytes).finish();
}

/** A field exactly as it was read: key, then its varint, fixed-width or length-delimited value. */
export function rawField(field: number, wire: number, value: Uint8Array | number): Uint8Array {
  const w = Writer.create().uint32((field << 3) | wire);
  if (wire === 0) w.uint64(value as number);
  else if (wire === 2) w.bytes(value as Uint8Array);
  else {
    const key = w.finish();
    const bytes = value as Uint8Array;
    const out = new Uint8Array(key.length + bytes.length);
    out.set(key);
    out.set(bytes, key.length);
    return out;
  }
  return w.finish();
}
