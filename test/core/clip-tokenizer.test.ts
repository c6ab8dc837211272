import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer, normalise } from '../../src/core/tokenizer/clip-tokenizer';
import { BUILTIN_PACK, readShared } from '../shared';

const SD15 = { maxLength: 77, bosTokenId: 49406, eosTokenId: 49407, padTokenId: 49407 };
const clip = new ClipTokenizer(JSON.parse(readShared('clip-tokenizer/vocab.json')), readShared('clip-tokenizer/merges.txt'), SD15);
const fixtures: { cases: { text: string; input_ids: number[] }[] } = JSON.parse(readShared('fixtures/clip-tokenizer.json'));

describe('ClipTokenizer with the real SD 1.x vocabulary', () => {
  it.each(fixtures.cases.map((c) => [JSON.stringify(c.text).slice(0, 60), c] as const))('reproduces %s', (_, c) => {
    expect(Array.from(clip.encode(c.text).ids)).toEqual(c.input_ids);
  });

  it('reports how many tokens a long prompt lost, keeping EOS last', () => {
    const t = clip.encode('a '.repeat(100));
    expect(t.droppedTokens).toBe(25);
    expect(t.ids[76]).toBe(49407);
    expect(t.length).toBe(77);
    expect(clip.encode('a red circle').droppedTokens).toBe(0);
  });

  it('pads with the pack pad id (SD 2.x pads with 0)', () => {
    const sd2 = new ClipTokenizer(JSON.parse(readShared('clip-tokenizer/vocab.json')), readShared('clip-tokenizer/merges.txt'), { ...SD15, padTokenId: 0 });
    const t = sd2.encode('a cat');
    expect(Array.from(t.ids.slice(0, 5))).toEqual([49406, 320, 2368, 49407, 0]);
    expect(t.length).toBe(4);
  });
});

describe('normalise', () => {
  it('unescapes HTML twice, folds whitespace and lower-cases', () => {
    expect(normalise('  Tom &amp;amp; JERRY\t\n&#x41;&#66; ')).toBe('tom & jerry ab');
    expect(normalise('&unknown; &#0;')).toBe('&unknown; &#0;');
  });
});

describe('ClipTokenizer with the built-in pack vocabulary', () => {
  const manifest = JSON.parse(readFileSync(resolve(BUILTIN_PACK, 'manifest.json'), 'utf8'));
  const vocab = JSON.parse(readFileSync(resolve(BUILTIN_PACK, 'tokenizer/vocab.json'), 'utf8'));
  const pack = new ClipTokenizer(vocab, readFileSync(resolve(BUILTIN_PACK, 'tokenizer/merges.txt'), 'utf8'), manifest.tokenizer);
  const parity = JSON.parse(readFileSync(resolve(__dirname, '../fixtures/shapes-int8-parity.json'), 'utf8'));

  it('gives the ids the recipe trained with', () => {
    expect(Array.from(pack.encode(parity.prompt).ids)).toEqual(parity.input_ids[1]);
    expect(Array.from(pack.encode('').ids)).toEqual(parity.input_ids[0]);
  });

  it('tokenizes any prompt, falling back to byte symbols', () => {
    const t = pack.encode('an astronaut 🐱 café');
    expect(t.length).toBeGreaterThan(10);
    expect(Array.from(t.ids).every((id) => id >= 0 && id < pack.vocabSize)).toBe(true);
  });
});
