// The note beside the size controls when a person picks a size the pack's weights were never trained at.
import { describe, expect, it } from 'vitest';
import { layoutFor, planPasses, secondPassSteps, untrainedSizeNote, type ImageLimits } from '../../../src/core/pipeline/request';

const limits: ImageLimits = { minSize: 256, maxSize: 768, multipleOf: 64, trained: ['128x128', '256x256'] };

describe('untrainedSizeNote', () => {
  it('says nothing at a trained size, or where the pack does not say what it was trained at', () => {
    expect(untrainedSizeNote(limits, 256, 256)).toBe('');
    expect(untrainedSizeNote({ minSize: 256, maxSize: 768, multipleOf: 64 }, 512, 512)).toBe('');
  });

  it('says nothing for a fixed-size export (its status line says it allows one size)', () => {
    expect(untrainedSizeNote({ ...limits, fixed: [512, 512] }, 512, 512)).toBe('');
  });

  it('tells a trained size from its transpose, and names only sizes the app can be set to', () => {
    const tall = { ...limits, trained: ['256x384', '300x300'] };
    expect(untrainedSizeNote(tall, 256, 384)).toBe('');
    expect(untrainedSizeNote(tall, 384, 256)).toBe(
      'This model was trained at 256×384; at 384×256 it may repeat objects or follow the prompt less well. 256×384 gives its best pictures.');
  });

  it('names the trained sizes the app allows, what may go wrong, and the size to choose', () => {
    expect(untrainedSizeNote(limits, 512, 512)).toBe(
      'This model was trained at 256×256; at 512×512 it may repeat objects or follow the prompt less well. 256×256 gives its best pictures.');
  });

  it('shortens a long list and recommends the largest trained size', () => {
    const many = { ...limits, trained: ['256x256', '256x384', '320x320', '384x256', '384x384', '512x512'] };
    expect(untrainedSizeNote(many, 768, 768)).toBe(
      'This model was trained at 256×256, 256×384, 320×320, 384×256 and 2 more; at 768×768 it may repeat objects or follow the prompt less well. 512×512 gives its best pictures.');
  });

  it('says nothing when none of the trained sizes is one the app allows', () => {
    expect(untrainedSizeNote({ ...limits, trained: ['128x128'] }, 512, 512)).toBe('');
  });
});

// The same sizes as training/tests' test of evaluate.layout_for: the recipe's two-pass pictures and the app's agree.
describe('layoutFor (two passes above the layout size)', () => {
  const composing: ImageLimits = { ...limits, trained: ['128x128', '256x256', '512x512'], layout: [256, 256] };

  it.each([
    [512, 512, [256, 256]], [768, 768, [256, 256]], [640, 640, [256, 256]], [768, 512, [320, 192]], [384, 256, [320, 192]],
    [256, 384, [192, 320]], [512, 256, [256, 128]], [320, 256, [256, 192]], [768, 256, [384, 128]], [768, 704, [256, 256]],
    [512, 768, [192, 320]], [448, 320, [256, 192]],
  ] as const)('%i×%i is laid out at %j', (w, h, lay) => {
    expect(layoutFor(composing, w, h)).toEqual(lay);
  });

  // A pack laid out at 128×128: in 64-px steps its area holds no 3:2 size (128×128 or 128×64, 1.5× off), so a 3:2
  // picture is sketched at 192×128 — the short side the weights compose at — not squashed square.
  const at128: ImageLimits = { ...composing, layout: [128, 128] };
  it.each([
    [512, 512, [128, 128]], [768, 768, [128, 128]], [768, 512, [192, 128]], [512, 768, [128, 192]], [256, 192, [192, 128]],
    [640, 512, [128, 128]], [768, 256, [192, 64]],
  ] as const)('at a 128×128 layout, %i×%i is laid out at %j', (w, h, lay) => {
    expect(layoutFor(at128, w, h)).toEqual(lay);
  });

  it('draws no larger than the layout size, and nothing for a pack without one or a fixed-size export', () => {
    expect(layoutFor(composing, 256, 256)).toBeUndefined();
    expect(layoutFor(limits, 512, 512)).toBeUndefined();
    expect(layoutFor({ ...composing, fixed: [512, 512] }, 512, 512)).toBeUndefined();
  });

  it('finishes 40 % of the steps at full size, rounded up (8 of 20, as diffusers\' img2img; 2 of 4, where it leaves 1 at t = 1)', () => {
    expect([20, 4, 5, 8, 10, 3, 50, 100].map(secondPassSteps)).toEqual([8, 2, 2, 4, 4, 2, 20, 40]);
  });

  it('plans two passes only above the layout size, when asked, with 3 steps or more', () => {
    const r = { width: 512, height: 512, steps: 20, twoPass: true };
    expect(planPasses(composing, r)).toEqual({ layout: [256, 256], skip: 12, fullSteps: 8 });
    for (const other of [{ twoPass: false }, { steps: 2 }, { steps: Number.NaN }, { steps: 101 }, { width: 256, height: 256 }]) {
      expect(planPasses(composing, { ...r, ...other })).toBeUndefined();
    }
    expect(planPasses(limits, r)).toBeUndefined();
  });

  it('says what two passes do at a size above the layout, and what one pass risks', () => {
    expect(untrainedSizeNote(composing, 512, 512)).toBe(
      'Two passes: this model learned to compose pictures at 256×256, so 512×512 is sketched at 256×256 (20 steps), then enlarged and redrawn (8 more steps): its best pictures at this size.');
    expect(untrainedSizeNote(composing, 512, 512, false)).toBe(
      'One pass at 512×512: this model learned to compose pictures at 256×256, so it may repeat objects or follow the prompt less well. "Two passes" gives its best pictures at this size.');
    // at or below the layout size, nothing to say (its trained sizes are not named: it composes there)
    expect(untrainedSizeNote(composing, 256, 256, false)).toBe('');
    // what the pipeline will do, whatever the steps field holds
    expect(untrainedSizeNote(composing, 512, 512, true, 2)).toBe(
      'At 2 steps (too few to split) 512×512 is drawn in one pass: this model learned to compose pictures at 256×256, so it may repeat objects or follow the prompt less well. 3 or more steps draw it in two passes, its best pictures at this size.');
    expect(untrainedSizeNote(composing, 512, 512, true, Number.NaN)).toBe(
      'Two passes: this model learned to compose pictures at 256×256, so 512×512 is sketched at 256×256 first, then enlarged and redrawn: its best pictures at this size.');
  });
});
