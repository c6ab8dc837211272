// Regional prompts' plan: which objects a prompt names, each one's caption and point, and the masks. The same
// cases as training/tests/test_regions.py: the recipe measures the pictures the app draws.
import { describe, expect, it } from 'vitest';
import { objectCount, planRegions, regionMasks, splitObjects } from '../../../src/core/pipeline/regions';

describe('splitObjects', () => {
  it.each([
    ['a red star and a blue circle on a green background', ['a red star', 'a blue circle'], ' on a green background'],
    ['a red star, a blue circle and a green ring, white background', ['a red star', 'a blue circle', 'a green ring'], ', white background'],
    ['A red star and a blue circle.', ['A red star', 'a blue circle'], '.'],
    ['a small red star in the top left and a blue circle against a pink background', ['a small red star in the top left', 'a blue circle'], ' against a pink background'],
    ['a cat and a dog sitting on a sofa, oil painting', ['a cat', 'a dog sitting'], ' on a sofa, oil painting'],
    ['a red star, and a blue circle', ['a red star', 'a blue circle'], ''],
    ['a red star, a blue circle, and a green ring on a white background', ['a red star', 'a blue circle', 'a green ring'], ' on a white background'],
    ['a red star AND a blue circle!', ['a red star', 'a blue circle'], '!'],
    ['two red stars and a blue ring', ['two red stars', 'a blue ring'], ''],
  ])('%j names %j, then %j', (prompt, objects, tail) => {
    expect(splitObjects(prompt)).toEqual({ objects, tail });
  });

  // (a no-break space is not a space here, as in training/shapes/regions.py: the two parsers agree beyond ASCII)
  // (each object is named with an article or a number: "a red and blue star" is one star in two colours)
  it.each(['a red star on a green background', 'two purple triangles on a white background', 'a b, a c, a d and a e', ' and a red star', 'blue star',
    'a red star\u00a0and\u00a0a blue circle', '   ', 'a red and blue star', 'a black and white cat', 'red star and blue circle'])(
    '%j names no two or three objects', (prompt) => {
      expect(splitObjects(prompt)).toBeUndefined();
    });
});

describe('objectCount', () => {
  // the page says when a prompt names more objects than are drawn apart (the app's own: the recipe draws only
  // what splitObjects plans, so training/tests/test_regions.py has no twin of these)
  it.each([
    ['a red star, a blue circle, a green ring and a pink heart on a white background', 4],
    ['a b, a c, a d and a e', 4],
    ['a red star and a blue circle', 2],
    ['a red star in the top left and a blue circle in the top left', 2],
    ['a red star on a green background', 0],
    ['a red and blue star', 0],
  ])('%j names %i', (prompt, n) => {
    expect(objectCount(prompt)).toBe(n);
  });
});

describe('planRegions', () => {
  it('places objects that name no place in diagonal corners, the seed choosing which diagonal', () => {
    expect(planRegions('a red star and a blue circle on a green background', 0)).toEqual([
      { object: 'a red star', prompt: 'a red star in the top left on a green background', point: [0.2, 0.2] },
      { object: 'a blue circle', prompt: 'a blue circle in the bottom right on a green background', point: [0.8, 0.8] },
    ]);
    expect(planRegions('a red star and a blue circle on a green background', 1)!.map((r) => r.point)).toEqual([[0.8, 0.2], [0.2, 0.8]]);
  });

  it('keeps a place the prompt names and gives the others free ones', () => {
    expect(planRegions('a red star in the bottom left corner and a blue circle, white background', 0)).toEqual([
      { object: 'a red star in the bottom left corner', prompt: 'a red star in the bottom left corner, white background', point: [0.2, 0.8] },
      { object: 'a blue circle', prompt: 'a blue circle in the top left, white background', point: [0.2, 0.2] },
    ]);
    expect(planRegions('a red star in the middle and a blue ring at the top', 0)!.map((r) => r.point)).toEqual([[0.5, 0.5], [0.5, 0.2]]);
  });

  it('lays three objects out as a triangle', () => {
    expect(planRegions('a red star, a blue circle and a green ring on a white background', 1)).toEqual([
      { object: 'a red star', prompt: 'a red star at the top on a white background', point: [0.5, 0.2] },
      { object: 'a blue circle', prompt: 'a blue circle in the bottom left on a white background', point: [0.2, 0.8] },
      { object: 'a green ring', prompt: 'a green ring in the bottom right on a white background', point: [0.8, 0.8] },
    ]);
  });

  it('draws the prompt whole where two objects name the same place, or it names one', () => {
    expect(planRegions('a red star on the left and a blue circle at the left', 0)).toBeUndefined();
    expect(planRegions('a red star on a green background', 0)).toBeUndefined();
  });
});

describe('regionMasks', () => {
  it('sums to one at every latent pixel and splits the picture along the bisector', () => {
    const [a, b] = regionMasks([[0.2, 0.2], [0.8, 0.8]], 4, 4) as [Float32Array, Float32Array];
    a.forEach((v, i) => expect(v + b[i]!).toBeCloseTo(1, 6));
    // pixel (0, 0), at (0.125, 0.125): |p − b|² − |p − a|² = 0.9, over the temperature 0.075: a logit of 12
    expect(a[0]).toBeCloseTo(1 / (1 + Math.exp(-12)), 6);
    // on the bisector (pixel (3, 0) and (0, 3)): half each
    expect(a[3]).toBeCloseTo(0.5, 6);
    expect(a[12]).toBeCloseTo(0.5, 6);
    expect(b[15]).toBeCloseTo(a[0]!, 6);
  });
});
