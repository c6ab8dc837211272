// The ONNX weight scan reads tensor sizes straight from the protobuf: checked on the fixture packs (whose
// tensors are known by construction, training/shapes/fixtures.py) and on the shipped int8 pack.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { largestWeight, weightTensors } from '../../src/core/onnx-scan';
import { BUILTIN_PACK, REPO } from '../shared';

const FIXTURES = resolve(REPO, 'test/fixtures/packs');
const model = (p: string) => new Uint8Array(readFileSync(p));

describe('weightTensors / largestWeight', () => {
  it('finds the token embedding as the largest weight of a text encoder, fp32 and fp16', () => {
    expect(largestWeight(model(resolve(FIXTURES, 'sd21-base/text_encoder/model.onnx')))).toEqual(
      { name: 'token_embedding', elements: 1000 * 1024, bytes: 1000 * 1024 * 4, gpuBytes: 1000 * 1024 * 4 });
    expect(largestWeight(model(resolve(FIXTURES, 'sd15-optimum-fp16/text_encoder/model.onnx')))).toMatchObject(
      { name: 'token_embedding', bytes: 1000 * 768 * 2 });
  });

  it('sizes weights kept in external data from their dims', () => {
    const t = weightTensors(model(resolve(FIXTURES, 'sd15-diffusers/unet/model.onnx')));
    expect(t.find((x) => x.name === 'ctx_w')).toMatchObject({ elements: 768 * 4, bytes: 768 * 4 * 4 });
    expect(t.find((x) => x.name === 'axes23')).toMatchObject({ elements: 2, bytes: 16 });
  });

  it('walks every weight of the shipped int8 UNet (they make up most of the file) and counts int8 as fp32 on a GPU', () => {
    const path = resolve(BUILTIN_PACK, 'unet/model.onnx');
    const t = weightTensors(model(path));
    const stored = t.reduce((a, x) => a + x.bytes, 0);
    expect(stored).toBeLessThanOrEqual(statSync(path).size);
    expect(stored).toBeGreaterThan(0.9 * statSync(path).size);
    const big = largestWeight(model(path))!;
    expect(big.gpuBytes).toBe(big.elements * 4);
    expect(big.bytes).toBe(big.elements);
  });
});
