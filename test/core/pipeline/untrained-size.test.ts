// The note beside the size controls when a person picks a size the pack's weights were never trained at.
import { describe, expect, it } from 'vitest';
import { untrainedSizeNote, type ImageLimits } from '../../../src/core/pipeline/request';

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
