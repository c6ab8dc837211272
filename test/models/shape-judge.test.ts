// The browser tests judge what the page drew with the recipe's own rules (test/image-checks.ts
// judgeObjects): here that port is held to the recipe's judge itself — its verdicts on renders of the world
// and on the recipe's sample pictures, which `recipe.py fixtures` writes with the templates and palette
// (test/fixtures/packs/shape-judge, from Vitest's global setup).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { judgeObjects, readJudgeFixture, resizeMask, type JudgeTables, type Verdict } from '../image-checks';

const DIR = resolve(__dirname, '../fixtures/packs/shape-judge');
const ROOT = resolve(__dirname, '../..');

interface Fixture extends JudgeTables {
  resized: { h: number; w: number; mask: string[]; resized: string[] }[];
  renders: { file: string; background: string; objects: { colour: string; shape: string }[]; verdict: Verdict }[];
  samples: { file: string; verdict: Verdict }[];
}

function load(): Fixture {
  return readJudgeFixture<Fixture>();
}

function judgePng(t: JudgeTables, path: string): Verdict {
  const png = PNG.sync.read(readFileSync(path));
  return judgeObjects(t, png.data, png.width, png.height);
}

function sameVerdict(got: Verdict, want: Verdict): void {
  expect(got.background).toBe(want.background);
  expect(got.objects.map((o) => [o.colour, o.shape])).toEqual(want.objects.map((o) => [o.colour, o.shape]));
  got.objects.forEach((o, i) => {
    expect(o.cx).toBeCloseTo(want.objects[i]!.cx, 4);
    expect(o.cy).toBeCloseTo(want.objects[i]!.cy, 4);
  });
}

describe("the recipe's judge, ported for the browser tests", () => {
  const fx = load();

  it('names every shape of the world, in every colour, size and place, as the recipe does', () => {
    expect(fx.renders.length).toBeGreaterThanOrEqual(24);
    for (const r of fx.renders) {
      const got = judgePng(fx, resolve(DIR, r.file));
      sameVerdict(got, r.verdict);
      // and the truth: what was drawn
      expect(got.background).toBe(r.background);
      expect([...got.objects.map((o) => o.shape)].sort()).toEqual([...r.objects.map((o) => o.shape)].sort());
    }
  });

  it("agrees with the recipe's judge on pictures a model drew (soft edges, stray pixels)", () => {
    expect(fx.samples.length).toBeGreaterThanOrEqual(6);
    for (const s of fx.samples) sameVerdict(judgePng(fx, resolve(ROOT, s.file)), s.verdict);
  });

  it("resizes a region to 48×48 exactly as Pillow's bilinear does: shrunk, grown, and to another aspect", () => {
    const bits = (rows: string[]) => Uint8Array.from(rows.join(''), (c) => (c === '1' ? 1 : 0));
    expect(fx.resized.length).toBeGreaterThanOrEqual(4);
    for (const r of fx.resized) expect(resizeMask(bits(r.mask), r.w, r.h), `${r.w}×${r.h}`).toEqual(bits(r.resized));
  });
});
