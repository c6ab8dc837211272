/**
 * GPT-2/CLIP's reversible map from the 256 byte values to printable unicode characters, so that BPE
 * can work on strings: printable Latin-1 bytes map to themselves, the rest to code points from 256 up.
 */
function buildByteEncoder(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  }
  return table;
}

export const BYTE_ENCODER: readonly string[] = Object.freeze(buildByteEncoder());

const utf8 = new TextEncoder();

/** A piece of text as byte symbols: its UTF-8 bytes, each through BYTE_ENCODER. */
export function toByteSymbols(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_ENCODER[b];
  return out;
}
