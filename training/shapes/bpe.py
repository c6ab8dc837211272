"""CLIP's byte-level BPE, in the exact file format Stable Diffusion 1.x ships (vocab.json + merges.txt).

`ClipTokenizer` reproduces the reference tokenizer (checked against ../shared/fixtures with the real
CLIP vocabulary in tests/test_bpe.py); `build_vocabulary` learns the stand-in pack's own small
vocabulary from the caption language, laid out the way CLIP's is:
  256 byte symbols, the same 256 with "</w>", one token per learned merge, then
  <|startoftext|> and <|endoftext|>.
Because every byte symbol (with and without "</w>") is in the vocabulary, any prompt tokenizes:
unknown words fall back to smaller pieces, down to single bytes.
"""
from __future__ import annotations

import html
import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77

# CLIP's split pattern with \p{L} / \p{N} spelled for Python's re: letters are word characters that are
# neither digits nor "_"; the last alternative is "neither space, letter nor digit".
_SPLIT = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+",
    re.IGNORECASE,
)


@lru_cache()
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def normalise(text: str) -> str:
    """CLIP's basic_clean + whitespace_clean + lower-casing (ftfy is not needed for plain text)."""
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip().lower()


def pre_tokenize(text: str) -> list[str]:
    """Normalised text split by CLIP's pattern, each piece as byte symbols."""
    enc = bytes_to_unicode()
    return ["".join(enc[b] for b in piece.encode("utf-8")) for piece in _SPLIT.findall(normalise(text))]


def merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Every occurrence of `pair` in `symbols`, left to right, joined into one symbol."""
    out, i = [], 0
    while i < len(symbols):
        if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


class ClipTokenizer:
    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]], pad_token: str = EOS):
        self.vocab = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.bos_id, self.eos_id = vocab[BOS], vocab[EOS]
        self.pad_id = vocab[pad_token] if pad_token in vocab else int(pad_token)
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def from_files(cls, folder: str | Path, pad_token: str = EOS) -> "ClipTokenizer":
        folder = Path(folder)
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        lines = (folder / "merges.txt").read_text(encoding="utf-8").split("\n")
        merges = [tuple(l.split()) for l in lines[1:] if l and not l.startswith("#version")]
        return cls(vocab, merges, pad_token)  # type: ignore[arg-type]

    def bpe(self, piece: str) -> list[str]:
        if piece in self._cache:
            return self._cache[piece]
        word = list(piece[:-1]) + [piece[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            word = merge_pair(word, best)
        self._cache[piece] = word
        return word

    def encode(self, text: str, max_length: int = MAX_LENGTH) -> tuple[list[int], bool]:
        """Ids padded/truncated to max_length (BOS ... EOS pad...), and whether the prompt was cut."""
        ids = [self.vocab[t] for piece in pre_tokenize(text) for t in self.bpe(piece)]
        truncated = len(ids) > max_length - 2
        ids = [self.bos_id] + ids[: max_length - 2] + [self.eos_id]
        return ids + [self.pad_id] * (max_length - len(ids)), truncated


def build_vocabulary(corpus: list[str], must_be_whole: list[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Learn BPE merges from a corpus until every word in must_be_whole is a single token.

    Classic BPE (Sennrich et al. 2016) over word frequencies, ties broken by the pair's text so the
    result is deterministic.
    """
    enc = bytes_to_unicode()
    byte_syms = list(enc.values())
    words = Counter(p for text in corpus for p in pre_tokenize(text))
    for w in must_be_whole:
        for p in pre_tokenize(w):
            words[p] += 1
    split = {w: tuple(list(w[:-1]) + [w[-1] + "</w>"]) for w in words}
    targets = {p + "</w>" for w in must_be_whole for p in pre_tokenize(w)}
    merges: list[tuple[str, str]] = []
    while True:
        done = {s[0] for s in split.values() if len(s) == 1}
        if targets <= done:
            break
        pairs: Counter[tuple[str, str]] = Counter()
        for w, syms in split.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += words[w]
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for w, syms in split.items():
            split[w] = tuple(merge_pair(list(syms), best))
    tokens = byte_syms + [s + "</w>" for s in byte_syms] + ["".join(m) for m in merges] + [BOS, EOS]
    vocab: dict[str, int] = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    return vocab, merges


def write_files(folder: str | Path, vocab: dict[str, int], merges: list[tuple[str, str]]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
