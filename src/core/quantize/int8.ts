// W8 per output channel, symmetric — the arithmetic of the stand-in pack's quantizer
// (training/shapes/quantize.py), so that an export quantized here and one quantized by the recipe hold the
// same bytes: scale_c = max|w_c| / 127 in float32 (1 where a channel is all zeros), q = clip(round(w / scale),
// ±127) with numpy's rounding (half to even), DequantizeLinear(q, scale, axis) = q · scale.
import { fromHalf } from '../pipeline/float16';

export interface Int8Weight {
  readonly q: Int8Array;
  readonly scale: Float32Array;
}

/** Float32 values of a float32 or float16 tensor's little-endian bytes. */
export function floatValues(bytes: Uint8Array, half: boolean): Float32Array {
  const copy = bytes.byteOffset % (half ? 2 : 4) === 0 ? bytes : bytes.slice();
  if (half) return fromHalf(new Uint16Array(copy.buffer, copy.byteOffset, copy.byteLength / 2));
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Quantize `w` (shape `dims`, row-major) per channel along `axis`. */
export function quantizePerChannel(w: Float32Array, dims: readonly number[], axis: number): Int8Weight {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const outer = w.length / (channels * inner);
  const max = new Float32Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let m = max[c]!;
      for (let i = 0; i < inner; i++) {
        const a = Math.abs(w[base + i]!);
        if (a > m) m = a;
      }
      max[c] = m;
    }
  }
  const scale = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scale[c] = max[c] === 0 ? 1 : Math.fround(max[c]! / 127);
  const q = new Int8Array(w.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = scale[c]!;
      for (let i = 0; i < inner; i++) {
        const v = roundHalfEven(Math.fround(w[base + i]! / s));
        q[base + i] = v > 127 ? 127 : v < -127 ? -127 : v;
      }
    }
  }
  return { q, scale };
}

/** q · scale, per channel along `axis`: what DequantizeLinear gives (for fidelity checks). */
export function dequantize({ q, scale }: Int8Weight, dims: readonly number[], axis: number): Float32Array {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]! * scale[Math.floor(i / inner) % channels]!;
  return out;
}
