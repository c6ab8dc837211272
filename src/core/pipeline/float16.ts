// float32 <-> IEEE half conversion for fp16 model inputs and outputs, through @petamoriken/float16
// (a well-kept, spec-exact implementation: round-to-nearest-even, subnormals, infinities).
import { getFloat16, setFloat16 } from '@petamoriken/float16';

export function toHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) setFloat16(view, i * 2, values[i]!, true);
  return out;
}

let table: Float32Array | undefined;

/** Every half value's float32, computed once (256 kB): a weight of millions of elements converts by lookup. */
function halfTable(): Float32Array {
  if (!table) {
    const bits = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) bits[i] = i;
    const view = new DataView(bits.buffer);
    table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = getFloat16(view, i * 2, true);
  }
  return table;
}

export function fromHalf(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  if (bits.length < 4096) {
    const view = new DataView(bits.buffer, bits.byteOffset, bits.byteLength);
    for (let i = 0; i < bits.length; i++) out[i] = getFloat16(view, i * 2, true);
    return out;
  }
  const t = halfTable();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
  return out;
}
