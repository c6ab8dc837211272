import { describe, expect, it } from 'vitest';
import { randomSeed, SeededRandom } from '../../src/core/random';

describe('SeededRandom', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = new SeededRandom(42).gaussian(1000);
    const b = new SeededRandom(42).gaussian(1000);
    const c = new SeededRandom(43).gaussian(1000);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.filter((v, i) => v === c[i]).length).toBe(0);
  });

  it('is xoshiro128** (the reference implementation\'s test vector)', () => {
    const r = SeededRandom.fromState([1, 2, 3, 4]);
    const out = Array.from({ length: 10 }, () => r.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });

  it('keeps its published sequence (an image made with a seed stays reproducible across versions)', () => {
    const r = new SeededRandom(1);
    const first = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
    // Pinned on first release; changing the generator would change every saved seed's image.
    expect(first).toEqual(PINNED_SEED1);
  });

  it('draws standard normals', () => {
    const x = new SeededRandom(7).gaussian(200_000);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    const tail = x.filter((v) => Math.abs(v) > 1.96).length / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    expect(Math.abs(tail - 0.05)).toBeLessThan(0.003);
    expect(x.every(Number.isFinite)).toBe(true);
  });

  it('accepts every 32-bit seed and refuses others', () => {
    expect(() => new SeededRandom(0)).not.toThrow();
    expect(() => new SeededRandom(0xffffffff)).not.toThrow();
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) expect(() => new SeededRandom(bad)).toThrow(RangeError);
    const s = randomSeed();
    expect(Number.isInteger(s) && s >= 0 && s <= 0xffffffff).toBe(true);
  });
});

const PINNED_SEED1 = [2442144158, 3238099751, 3819917871];
