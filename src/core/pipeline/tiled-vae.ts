// A tiled VAE decode: the latents in overlapping tiles, each decoded on its own and blended with linear
// ramps across the overlaps, so the decoder's largest activation is a tile's, not the whole image's —
// what lets a large image decode within a phone GPU's buffer limits (the seed's "micro-tile" idea).
// GroupNorm statistics differ per tile, so the result is close to, not equal to, a whole decode.
import { DEFAULT_DOWNSCALE } from './request';

export interface TileOptions {
  /** Tile side in latent pixels (× the downscale factor in image pixels). */
  readonly tile: number;
  /** Overlap between neighbouring tiles, in latent pixels. */
  readonly overlap: number;
}

export const DEFAULT_TILES: TileOptions = Object.freeze({ tile: 32, overlap: 8 });

/** Tile starts along one axis of length n: evenly stepped, the last flush with the end. */
export function tileStarts(n: number, tile: number, overlap: number): number[] {
  if (n <= tile) return [0];
  const step = tile - overlap;
  const starts: number[] = [];
  for (let s = 0; s + tile < n; s += step) starts.push(s);
  starts.push(n - tile);
  return starts;
}

/** Weight of image pixel p (0..size-1) inside a tile: 1, ramping down over `ramp` pixels at edges that
 * border another tile (not at the image's own borders). */
function rampWeight(p: number, size: number, ramp: number, rampStart: boolean, rampEnd: boolean): number {
  let w = 1;
  if (rampStart && p < ramp) w = Math.min(w, (p + 0.5) / ramp);
  if (rampEnd && p >= size - ramp) w = Math.min(w, (size - p - 0.5) / ramp);
  return w;
}

/**
 * Decode latents [c, h, w] (already divided by the scaling factor) tile by tile with `decode`, which
 * takes latents and dims [1, c, th, tw] and returns planar pixels [3, f·th, f·tw] (f: the VAE's
 * downscale factor). Returns planar [3, f·h, f·w].
 */
export async function decodeTiled(
  latents: Float32Array,
  latentDims: readonly [number, number, number],
  decode: (tile: Float32Array, dims: readonly number[]) => Promise<Float32Array>,
  options: TileOptions = DEFAULT_TILES,
  f: number = DEFAULT_DOWNSCALE,
): Promise<Float32Array> {
  const [c, h, w] = latentDims;
  const H = h * f;
  const W = w * f;
  const out = new Float32Array(3 * H * W);
  const weight = new Float32Array(H * W);
  const ys = tileStarts(h, options.tile, options.overlap);
  const xs = tileStarts(w, options.tile, options.overlap);
  const ramp = options.overlap * f;
  for (const [iy, y0] of ys.entries()) {
    for (const [ix, x0] of xs.entries()) {
      const th = Math.min(options.tile, h);
      const tw = Math.min(options.tile, w);
      const tile = new Float32Array(c * th * tw);
      for (let ch = 0; ch < c; ch++) {
        for (let y = 0; y < th; y++) tile.set(latents.subarray(ch * h * w + (y0 + y) * w + x0, ch * h * w + (y0 + y) * w + x0 + tw), ch * th * tw + y * tw);
      }
      const px = await decode(tile, [1, c, th, tw]);
      const TH = th * f;
      const TW = tw * f;
      for (let y = 0; y < TH; y++) {
        const wy = rampWeight(y, TH, ramp, iy > 0, iy < ys.length - 1);
        for (let x = 0; x < TW; x++) {
          const wt = wy * rampWeight(x, TW, ramp, ix > 0, ix < xs.length - 1);
          const o = (y0 * f + y) * W + x0 * f + x;
          weight[o]! += wt;
          for (let k = 0; k < 3; k++) out[k * H * W + o]! += wt * px[k * TH * TW + y * TW + x]!;
        }
      }
    }
  }
  for (let k = 0; k < 3; k++) for (let i = 0; i < H * W; i++) out[k * H * W + i]! /= weight[i]!;
  return out;
}
