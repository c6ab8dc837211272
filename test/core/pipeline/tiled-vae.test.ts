import { describe, expect, it } from 'vitest';
import { decodeTiled, tileStarts } from '../../../src/core/pipeline/tiled-vae';

describe('tileStarts', () => {
  it('covers the axis with the given overlap, the last tile flush with the end', () => {
    expect(tileStarts(24, 32, 8)).toEqual([0]);
    expect(tileStarts(64, 32, 8)).toEqual([0, 24, 32]);
    expect(tileStarts(96, 32, 8)).toEqual([0, 24, 48, 64]);
  });
});

describe('decodeTiled', () => {
  it('reproduces a decoder with no spatial context exactly (blending weights sum to 1 everywhere)', async () => {
    // A "decoder" that maps each latent pixel to an 8×8 block of (channel sum, channel 0, channel 1).
    const decode = async (t: Float32Array, dims: readonly number[]) => {
      const [, c, h, w] = dims as [number, number, number, number];
      const out = new Float32Array(3 * h * 8 * w * 8);
      for (let y = 0; y < h * 8; y++) for (let x = 0; x < w * 8; x++) {
        const i = Math.floor(y / 8) * w + Math.floor(x / 8);
        let s = 0;
        for (let ch = 0; ch < c; ch++) s += t[ch * h * w + i]!;
        out[y * w * 8 + x] = s;
        out[h * w * 64 + y * w * 8 + x] = t[i]!;
        out[2 * h * w * 64 + y * w * 8 + x] = t[h * w + i]!;
      }
      return out;
    };
    const dims = [4, 40, 56] as const;
    const latents = Float32Array.from({ length: 4 * 40 * 56 }, (_, i) => Math.sin(i * 0.37));
    const whole = await decode(latents, [1, ...dims]);
    const tiled = await decodeTiled(latents, dims, decode, { tile: 16, overlap: 4 });
    expect(tiled.length).toBe(whole.length);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(tiled[i]! - whole[i]!));
    expect(worst).toBeLessThan(1e-5);
  });
});
