// The page's elements by id, typed at the call site (index.html declares every id the UI uses).
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** RGBA pixels onto a canvas (resized to them). A transferred buffer is drawn as it is: no copy. */
export function drawPixels(canvas: HTMLCanvasElement, img: { readonly width: number; readonly height: number; readonly pixels: Uint8ClampedArray }): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const { buffer, byteOffset, length } = img.pixels;
  // ImageData takes a view over an ArrayBuffer only; one over a SharedArrayBuffer is copied out.
  const data = buffer instanceof ArrayBuffer ? new Uint8ClampedArray(buffer, byteOffset, length) : Uint8ClampedArray.from(img.pixels);
  canvas.getContext('2d')!.putImageData(new ImageData(data, img.width, img.height), 0, 0);
}
