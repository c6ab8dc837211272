// The page draws a transferred pixel buffer as it is: no second copy (dom.ts drawPixels, used by the
// result view, the live preview and Compare).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { drawPixels } from '../../src/ui/dom';

describe('drawPixels', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('hands ImageData a view over the same buffer, and sizes the canvas', () => {
    const made: Uint8ClampedArray[] = [];
    vi.stubGlobal('ImageData', class {
      constructor(readonly data: Uint8ClampedArray, readonly width: number, readonly height: number) {
        made.push(data);
      }
    });
    const put = vi.fn();
    const canvas = { width: 0, height: 0, getContext: () => ({ putImageData: put }) } as unknown as HTMLCanvasElement;
    const pixels = new Uint8ClampedArray(4 * 3 * 2).fill(7);
    drawPixels(canvas, { width: 3, height: 2, pixels });
    expect([canvas.width, canvas.height]).toEqual([3, 2]);
    expect(made).toHaveLength(1);
    expect(made[0]!.buffer).toBe(pixels.buffer);
    expect(put).toHaveBeenCalledOnce();
  });
});
