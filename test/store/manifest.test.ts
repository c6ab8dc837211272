import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PocketError } from '../../src/core/errors';
import { externalDataFor, fileFor, imageLimits, parseManifest } from '../../src/store/manifest';
import { BUILTIN_PACK } from '../shared';

const good = JSON.parse(readFileSync(resolve(BUILTIN_PACK, 'manifest.json'), 'utf8'));

describe('parseManifest', () => {
  it('accepts the built-in pack and finds its files by role', () => {
    const m = parseManifest(good);
    expect(fileFor(m, 'unet').path).toBe('unet/model.onnx');
    expect(m.tokenizer.maxLength).toBe(77);
  });

  it('passes the sizes the weights were trained at on to the image limits', () => {
    expect(imageLimits(parseManifest(good)).trained).toEqual(['128x128', '256x256', '512x512']);
    expect(imageLimits(parseManifest({ ...good, image: { ...good.image, trainedSizes: undefined } }))).not.toHaveProperty('trained');
  });

  it('passes the pack\'s choice to draw named objects apart on to the image limits (the built-in pack: on)', () => {
    expect(imageLimits(parseManifest(good)).regions).toBe(true);
    expect(imageLimits(parseManifest({ ...good, image: { ...good.image, regions: undefined } }))).not.toHaveProperty('regions');
  });

  it('passes the size the weights compose at on to the image limits (two passes above it), and refuses a malformed one', () => {
    expect(imageLimits(parseManifest(good)).layout).toEqual([128, 128]);
    expect(imageLimits(parseManifest({ ...good, image: { ...good.image, layoutSize: undefined } }))).not.toHaveProperty('layout');
    for (const bad of ['256', '256x', 'x256', '0x256', '250x256', 256]) {
      expect(() => parseManifest({ ...good, image: { ...good.image, layoutSize: bad } })).toThrow(/image\.layoutSize/);
    }
  });

  it('keeps the prompts the pack draws well, and a pack without them has none', () => {
    expect(parseManifest(good).examplePrompts).toContain('a yellow star on a blue background');
    expect(parseManifest({ ...good, examplePrompts: undefined }).examplePrompts).toBeUndefined();
  });

  it("names a network's external-data files the way the .onnx refers to them", () => {
    const zero = '0'.repeat(64);
    const m = parseManifest({
      ...good,
      files: [...good.files, { path: 'unet/weights.pb', role: 'external_data', for: 'unet', size: 10, sha256: zero },
        { path: 'vae_decoder/model.onnx_data', role: 'external_data', for: 'vae_decoder', size: 5, sha256: zero }],
    });
    expect(externalDataFor(m, 'unet').map((x) => [x.name, x.file.path])).toEqual([['weights.pb', 'unet/weights.pb']]);
    expect(externalDataFor(m, 'text_encoder')).toEqual([]);
  });

  it.each([
    ['not an object', null, /not a JSON object/],
    ['another format', { ...good, format: 'other' }, /format/],
    ['a path escaping the pack', { ...good, files: [...good.files, { ...good.files[0], path: '../../etc/passwd' }] }, /not relative/],
    ['a missing UNet', { ...good, files: good.files.filter((f: { role: string }) => f.role !== 'unet') }, /no unet file/],
    ['a bad hash', { ...good, files: [{ ...good.files[0], sha256: 'abc' }, ...good.files.slice(1)] }, /SHA-256/],
    ['no VAE scaling', { ...good, vae: {} }, /scaling factor/],
    ['no image limits', { ...good, image: undefined }, /no image limits/],
    ['an image limit that is not a number', { ...good, image: { ...good.image, maxSize: '768' } }, /image.maxSize is not a positive whole number/],
    ['a default size it does not allow', { ...good, image: { ...good.image, defaultWidth: 250 } }, /image.defaultWidth \(250\) is not a size it allows/],
    ['no defaults', { ...good, defaults: undefined }, /no defaults/],
    ['an unknown default scheduler', { ...good, defaults: { ...good.defaults, scheduler: 'heun' } }, /default scheduler "heun" is not one of pndm, ddim/],
    ['default steps out of range', { ...good, defaults: { ...good.defaults, steps: 0 } }, /default steps \(0\)/],
    ['a default guidance that is not a number', { ...good, defaults: { ...good.defaults, guidanceScale: 'high' } }, /default guidance/],
    ['trained sizes that are not sizes', { ...good, image: { ...good.image, trainedSizes: ['256'] } }, /image.trainedSizes is not a list of sizes/],
    ['example prompts that are not a list of prompts', { ...good, examplePrompts: 'a red star' }, /examplePrompts is not a list of at most 8 prompts/],
    ['an empty example prompt', { ...good, examplePrompts: ['a red star', ' '] }, /examplePrompts/],
    ['too many example prompts', { ...good, examplePrompts: Array(9).fill('a red star') }, /examplePrompts/],
    ['no downscale factor', { ...good, vae: { ...good.vae, downscaleFactor: undefined } }, /downscale factor/],
    ['a regions choice that is not true or false', { ...good, image: { ...good.image, regions: 'yes' } }, /image.regions \(yes\) is not true or false/],
  ])('refuses %s with a message', (_, json, message) => {
    let err: unknown;
    try {
      parseManifest(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PocketError);
    expect((err as PocketError).code).toBe('model-incompatible');
    expect((err as PocketError).message).toMatch(message);
  });
});
