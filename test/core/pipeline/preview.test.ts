import { describe, expect, it } from 'vitest';
import { latentPreview } from '../../../src/core/pipeline/preview';

describe('latentPreview', () => {
  it('maps each latent pixel through the pack\'s linear latent→RGB factors, channel-major input', () => {
    // 2 channels, 1×2 pixels: channel 0 drives red, channel 1 drives blue, green is the bias.
    const latents = Float32Array.from([1, 0.5, /* channel 1: */ 0, 1]);
    const img = latentPreview(latents, [2, 1, 2], { factors: [[1, 0, 0], [0, 0, 1]], bias: [0, 0.5, 0] });
    expect([img.width, img.height]).toEqual([2, 1]);
    expect(Array.from(img.pixels)).toEqual([255, 128, 0, 255, 128, 128, 255, 255]);
  });

  it('clamps out-of-range colours instead of wrapping', () => {
    const img = latentPreview(Float32Array.from([3, -3]), [1, 1, 2], { factors: [[1, 1, 1]], bias: [0, 0, 0] });
    expect(Array.from(img.pixels)).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });
});
