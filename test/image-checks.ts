// What a picture of the shapes world shows: the colour around its border and where a colour sits.
export type Rgb = readonly [number, number, number];

export function pixel(px: Uint8ClampedArray, width: number, x: number, y: number): Rgb {
  const i = 4 * (y * width + x);
  return [px[i]!, px[i + 1]!, px[i + 2]!];
}

export function isNear(c: Rgb, target: Rgb, tolerance = 60): boolean {
  return Math.hypot(c[0] - target[0], c[1] - target[1], c[2] - target[2]) < tolerance;
}

/** Fraction of the outer 5% frame whose colour is near `target`. */
export function borderFraction(px: Uint8ClampedArray, width: number, height: number, target: Rgb): number {
  const b = Math.max(1, Math.round(Math.min(width, height) * 0.05));
  let hit = 0;
  let all = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (x >= b && x < width - b && y >= b && y < height - b) continue;
      all++;
      if (isNear(pixel(px, width, x, y), target)) hit++;
    }
  }
  return hit / all;
}

/** Fraction of the picture whose colour is far from `background` (an object, or noise). */
export function offBackground(px: Uint8ClampedArray, width: number, height: number, background: Rgb): number {
  let n = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (!isNear(pixel(px, width, x, y), background, 90)) n++;
  return n / (width * height);
}

/** Peak signal-to-noise ratio of two RGBA images (alpha ignored), in dB. */
export function psnr(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    se += (a[i]! - b[i]!) ** 2;
    n++;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
}

// The world's palette (training/shapes/world.py)
export const RED: Rgb = [220, 40, 40];
export const BLUE: Rgb = [40, 90, 220];
export const ORANGE: Rgb = [245, 140, 20];

/** Fraction of the picture whose colour is near `target`. */
export function nearFraction(px: Uint8ClampedArray, width: number, height: number, target: Rgb, tolerance = 90): number {
  let n = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (isNear(pixel(px, width, x, y), target, tolerance)) n++;
  return n / (width * height);
}

/** The largest 4-connected region of pixels near `target`, as a fraction of the picture. */
export function largestBlob(px: Uint8ClampedArray, width: number, height: number, target: Rgb, tolerance = 80): number {
  const seen = new Uint8Array(width * height);
  const near = (i: number) => isNear(pixel(px, width, i % width, Math.floor(i / width)), target, tolerance);
  let best = 0;
  const stack: number[] = [];
  for (let start = 0; start < width * height; start++) {
    if (seen[start] || !near(start)) continue;
    let size = 0;
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      size++;
      const x = i % width;
      for (const j of [x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1, i - width, i + width]) {
        if (j < 0 || j >= width * height || seen[j] || !near(j)) continue;
        seen[j] = 1;
        stack.push(j);
      }
    }
    best = Math.max(best, size);
  }
  return best / (width * height);
}
