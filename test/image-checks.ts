// What a picture of the shapes world shows: the colour around its border and where a colour sits.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

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

// ---------------------------------------------------------------------------------------------------
// The recipe's judge (training/shapes/evaluate.py `judge`), for what the browser drew: background = the
// palette colour nearest the median of the border; objects = 4-connected regions far (> 60) from it, the
// small ones dropped; an object's colour = the palette colour nearest its median; its shape = the template
// with the best intersection-over-union, both scaled to 48×48 as Pillow's bilinear resize does. The
// templates and the palette come from the recipe (`recipe.py fixtures` writes them with its own verdicts on
// renders of the world, which test/models/shape-judge.test.ts checks this against).

export interface JudgeTables {
  palette: Record<string, [number, number, number]>;
  /** shape → 48 rows of 48 '0'/'1' */
  templates: Record<string, string[]>;
}

export interface JudgedObject {
  colour: string;
  shape: string;
  /** centre, as a fraction of the width / height */
  cx: number;
  cy: number;
  /** share of the picture */
  area: number;
}

export interface Verdict {
  background: string;
  objects: JudgedObject[];
}

const SIDE = 48;

function median(values: number[]): number {
  const v = values.sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

function nearestName(palette: JudgeTables['palette'], rgb: readonly number[]): string {
  let best = '';
  let bestD = Infinity;
  for (const [name, c] of Object.entries(palette)) {
    const d = (c[0] - rgb[0]!) ** 2 + (c[1] - rgb[1]!) ** 2 + (c[2] - rgb[2]!) ** 2;
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

/** One pass of Pillow's resampling along one axis (ImagingResample: a triangle filter widened by the scale
 *  when shrinking, weights normalised, 8-bit rounding after each pass). */
function resampleAxis(src: Float64Array, w: number, h: number, outLen: number, horizontal: boolean): Float64Array {
  const inLen = horizontal ? w : h;
  const scale = inLen / outLen;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const ow = horizontal ? outLen : w;
  const oh = horizontal ? h : outLen;
  const out = new Float64Array(ow * oh);
  for (let i = 0; i < outLen; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inLen);
    const weights: number[] = [];
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const x = (j - centre + 0.5) / filterScale;
      const wt = Math.max(0, 1 - Math.abs(x));
      weights.push(wt);
      total += wt;
    }
    for (let k = 0; k < (horizontal ? h : w); k++) {
      let acc = 0;
      for (let j = lo; j < hi; j++) {
        acc += weights[j - lo]! * (horizontal ? src[k * w + j]! : src[j * w + k]!);
      }
      const v = Math.min(255, Math.max(0, Math.round(total ? acc / total : 0)));
      if (horizontal) out[k * ow + i] = v;
      else out[i * ow + k] = v;
    }
  }
  return out;
}

/** A binary mask (row-major, w×h) resized to 48×48 as Image.fromarray(mask * 255).resize((48, 48), BILINEAR) > 127. */
export function resizeMask(mask: Uint8Array, w: number, h: number): Uint8Array {
  let img: Float64Array = Float64Array.from(mask, (v) => (v ? 255 : 0));
  let cw = w;
  if (w !== SIDE) [img, cw] = [resampleAxis(img, w, h, SIDE, true), SIDE];
  if (h !== SIDE) img = resampleAxis(img, cw, h, SIDE, false);
  return Uint8Array.from(img, (v) => (v > 127 ? 1 : 0));
}

/** The template with the best intersection-over-union against a region's bounding-box crop. */
export function classifyShape(tables: JudgeTables, crop: Uint8Array, w: number, h: number): string {
  const region = resizeMask(crop, w, h);
  let best = 'circle';
  let bestIou = -1;
  for (const [name, rows] of Object.entries(tables.templates)) {
    let inter = 0;
    let union = 0;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const a = region[y * SIDE + x]!;
        const b = rows[y]![x] === '1' ? 1 : 0;
        inter += a & b;
        union += a | b;
      }
    }
    const iou = inter / Math.max(1, union);
    if (iou > bestIou) [best, bestIou] = [name, iou];
  }
  return best;
}

/** What a picture of the shapes world shows, by the recipe's judge. `px` is RGBA or RGB (`channels`). */
export function judgeObjects(tables: JudgeTables, px: ArrayLike<number>, width: number, height: number, channels = 4): Verdict {
  const at = (i: number, c: number) => px[i * channels + c]!;
  const b = Math.max(2, Math.floor(Math.min(width, height) / 25));
  // the border as numpy concatenates it: top rows, bottom rows, left columns, right columns (corners twice)
  const border: number[] = [];
  const rows = [...Array(b).keys(), ...Array.from({ length: b }, (_, k) => height - b + k)];
  const cols = [...Array(b).keys(), ...Array.from({ length: b }, (_, k) => width - b + k)];
  for (const y of rows) for (let x = 0; x < width; x++) border.push(y * width + x);
  for (let y = 0; y < height; y++) for (const x of cols) border.push(y * width + x);
  const bg = [0, 1, 2].map((c) => median(border.map((i) => at(i, c))));
  const n = width * height;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = (at(i, 0) - bg[0]!) ** 2 + (at(i, 1) - bg[1]!) ** 2 + (at(i, 2) - bg[2]!) ** 2 > 3600 ? 1 : 0;
  // 4-connected regions (scipy.ndimage.label's default)
  const label = new Int32Array(n);
  const regions: number[][] = [];
  for (let s = 0; s < n; s++) {
    if (!mask[s] || label[s]) continue;
    const members: number[] = [];
    label[s] = regions.length + 1;
    const stack = [s];
    while (stack.length) {
      const i = stack.pop()!;
      members.push(i);
      const x = i % width;
      for (const j of [x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1, i - width, i + width]) {
        if (j < 0 || j >= n || !mask[j] || label[j]) continue;
        label[j] = regions.length + 1;
        stack.push(j);
      }
    }
    regions.push(members);
  }
  // largest first; equal areas keep their label order (numpy's stable argsort in the recipe)
  const big = regions.filter((r) => r.length >= 0.002 * n).sort((a, b2) => b2.length - a.length);
  const kept = big.filter((r) => r.length >= 0.25 * big[0]!.length);
  const objects = kept.map((members) => {
    let [x0, y0, x1, y1, sx, sy] = [width, height, 0, 0, 0, 0];
    for (const i of members) {
      const x = i % width;
      const y = (i - x) / width;
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      sx += x;
      sy += y;
    }
    const cw = x1 - x0 + 1;
    const ch = y1 - y0 + 1;
    const id = label[members[0]!]!;
    const crop = new Uint8Array(cw * ch);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) crop[(y - y0) * cw + (x - x0)] = label[y * width + x] === id ? 1 : 0;
    const rgb = [0, 1, 2].map((c) => median(members.map((i) => at(i, c))));
    return {
      colour: nearestName(tables.palette, rgb),
      shape: classifyShape(tables, crop, cw, ch),
      cx: sx / members.length / width,
      cy: sy / members.length / height,
      area: members.length / n,
    };
  });
  return { background: nearestName(tables.palette, bg), objects };
}

/** The recipe's judge tables (palette, shape templates) and its verdicts on renders, which `python3
 *  training/recipe.py fixtures` writes (the test command runs it before the suites; run from the repo root). */
export function readJudgeFixture<T extends JudgeTables = JudgeTables>(): T {
  const path = resolve(process.cwd(), 'test/fixtures/packs/shape-judge/judge.json');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`python3 training/recipe.py fixtures\` (npm run setup installs its packages)`);
  return JSON.parse(readFileSync(path, 'utf8'));
}
