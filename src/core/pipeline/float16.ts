// float32 <-> IEEE half conversion for fp16 model inputs and outputs, through @petamoriken/float16
// (a well-kept, spec-exact implementation: round-to-nearest-even, subnormals, infinities).
import { getFloat16, setFloat16 } from '@petamoriken/float16';

export function toHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) setFloat16(view, i * 2, values[i]!, true);
  return out;
}

export function fromHalf(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const view = new DataView(bits.buffer, bits.byteOffset, bits.byteLength);
  for (let i = 0; i < bits.length; i++) out[i] = getFloat16(view, i * 2, true);
  return out;
}
