// A live preview of the denoising without the VAE: each latent pixel (c channels) mapped linearly to
// RGB, one preview pixel per latent pixel (1/8 of the image's size for SD's VAE). The map is the pack's
// `vae.latentRgbFactors` / `latentRgbBias`, fitted by least squares between latents and their decoded
// images (training/shapes/export.py does it for the built-in pack; the same idea gives the
// latent-to-RGB factors people use for SD 1.5 previews).

export interface LatentRgbMap {
  /** [c][3]: each latent channel's contribution to R, G, B in 0..1. */
  readonly factors: readonly (readonly number[])[];
  readonly bias: readonly number[];
}

export interface PreviewImage {
  readonly width: number;
  readonly height: number;
  /** RGBA bytes, row-major. */
  readonly pixels: Uint8ClampedArray;
}

/** latents [c, h, w] (scaled, as the UNet sees them) → an RGBA picture h × w. */
export function latentPreview(latents: Float32Array, dims: readonly [number, number, number], map: LatentRgbMap): PreviewImage {
  const [c, h, w] = dims;
  const plane = h * w;
  const pixels = new Uint8ClampedArray(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      let v = map.bias[k] ?? 0;
      for (let ch = 0; ch < c; ch++) v += latents[ch * plane + i]! * (map.factors[ch]?.[k] ?? 0);
      pixels[i * 4 + k] = Math.round(v * 255);
    }
    pixels[i * 4 + 3] = 255;
  }
  return { width: w, height: h, pixels };
}
