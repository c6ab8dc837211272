import { toByteSymbols } from './byte-level';

/** What a pack says about its tokenizer (manifest `tokenizer`). */
export interface TokenizerConfig {
  readonly maxLength: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
}

export interface Tokenized {
  /** Exactly maxLength ids: BOS, the prompt's tokens, EOS, then padding. */
  readonly ids: Int32Array;
  /** How many of the prompt's tokens were dropped to fit (0 when it fit). */
  readonly droppedTokens: number;
  /** The number of ids before padding (BOS + tokens + EOS). */
  readonly length: number;
}

/**
 * CLIP's split pattern (openai/CLIP simple_tokenizer.py): the special tokens, English contractions,
 * runs of letters, single digits, and runs of anything that is neither space, letter nor digit.
 */
const SPLIT = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * CLIP's basic_clean (html.unescape applied twice; the common named entities and every numeric one)
 * and whitespace_clean, then lower-casing. ftfy's mojibake repair is not reproduced: it changes
 * nothing in text typed into a prompt box.
 */
export function normalise(text: string): string {
  const unescape = (s: string) =>
    s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, body: string) => {
      if (body[0] === '#') {
        const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
        return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
      }
      return NAMED_ENTITIES[body.toLowerCase()] ?? m;
    });
  return unescape(unescape(text)).replace(/\s+/g, ' ').trim().toLowerCase();
}

/**
 * The byte-level BPE tokenizer of Stable Diffusion 1.x/2.x (CLIP), built from a pack's `vocab.json`
 * and `merges.txt` — the files SD repositories ship under `tokenizer/`.
 */
export class ClipTokenizer {
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly ranks: ReadonlyMap<string, number>;
  private readonly cache = new Map<string, readonly string[]>();

  constructor(vocab: Readonly<Record<string, number>>, merges: string, readonly config: TokenizerConfig) {
    this.vocab = new Map(Object.entries(vocab));
    const ranks = new Map<string, number>();
    // The first line is a "#version" header; the rest are "left right" pairs in merge order.
    for (const line of merges.split('\n')) {
      if (!line || line.startsWith('#version')) continue;
      const parts = line.trim().split(/\s+/);
      if (parts.length === 2) ranks.set(`${parts[0]} ${parts[1]}`, ranks.size);
    }
    this.ranks = ranks;
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** A prompt's ids, truncated to the pack's length (keeping EOS) and padded with its pad id. */
  encode(text: string): Tokenized {
    const { maxLength, bosTokenId, eosTokenId, padTokenId } = this.config;
    const tokens = this.tokenize(text);
    const room = maxLength - 2;
    const kept = Math.min(tokens.length, room);
    const ids = new Int32Array(maxLength).fill(padTokenId);
    ids[0] = bosTokenId;
    for (let i = 0; i < kept; i++) ids[i + 1] = tokens[i]!;
    ids[kept + 1] = eosTokenId;
    return { ids, droppedTokens: tokens.length - kept, length: kept + 2 };
  }

  /** A prompt's token ids without BOS, EOS, truncation or padding. */
  tokenize(text: string): number[] {
    const out: number[] = [];
    for (const piece of normalise(text).match(SPLIT) ?? []) {
      for (const sym of this.bpe(toByteSymbols(piece))) {
        const id = this.vocab.get(sym);
        // Every byte symbol (with and without </w>) is in a CLIP vocabulary, so this only fails for
        // a vocabulary that is not CLIP's.
        if (id === undefined) throw new Error(`tokenizer: "${sym}" is not in the vocabulary; is vocab.json a CLIP vocabulary?`);
        out.push(id);
      }
    }
    return out;
  }

  /** Byte-pair merges of one word (Sennrich et al. 2016), lowest-ranked pair first; "</w>" ends a word. */
  private bpe(word: string): readonly string[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const chars = Array.from(word);
    let symbols = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (symbols.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const [left, right] = [symbols[best]!, symbols[best + 1]!];
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i < symbols.length - 1 && symbols[i] === left && symbols[i + 1] === right) {
          merged.push(left + right);
          i++;
        } else {
          merged.push(symbols[i]!);
        }
      }
      symbols = merged;
    }
    if (this.cache.size < 10_000) this.cache.set(word, symbols);
    return symbols;
  }
}
