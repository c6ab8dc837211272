import json

import numpy as np

from shapes import bpe, world
from conftest import PACK


def test_reproduces_reference_clip_tokenizer(shared):
    tok = bpe.ClipTokenizer.from_files(shared / "clip-tokenizer")
    cases = json.loads((shared / "fixtures" / "clip-tokenizer.json").read_text())["cases"]
    assert len(cases) >= 10
    for case in cases:
        ids, _ = tok.encode(case["text"])
        assert ids == case["input_ids"], case["text"]


def test_truncation_is_reported(shared):
    tok = bpe.ClipTokenizer.from_files(shared / "clip-tokenizer")
    ids, cut = tok.encode("a " * 100)
    assert cut and len(ids) == 77 and ids[-1] == tok.eos_id
    assert tok.encode("a red circle")[1] is False


def _pack_tokenizer():
    return bpe.ClipTokenizer.from_files(PACK / "tokenizer")


def test_pack_vocabulary_has_clip_layout():
    vocab = json.loads((PACK / "tokenizer" / "vocab.json").read_text(encoding="utf-8"))
    byte_syms = list(bpe.bytes_to_unicode().values())
    assert [vocab[s] for s in byte_syms] == list(range(256))
    assert [vocab[s + "</w>"] for s in byte_syms] == list(range(256, 512))
    assert vocab["<|endoftext|>"] == len(vocab) - 1 and vocab["<|startoftext|>"] == len(vocab) - 2
    merges = (PACK / "tokenizer" / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert merges[0].startswith("#version")
    assert len(vocab) == 512 + len(merges) - 1 + 2


def test_every_caption_word_is_one_token():
    tok = _pack_tokenizer()
    for w in world.vocabulary_words():
        ids, _ = tok.encode(w)
        assert ids[2] == tok.eos_id, f"{w!r} took more than one token: {ids[:5]}"


def test_any_prompt_tokenizes_through_byte_fallback():
    tok = _pack_tokenizer()
    ids, _ = tok.encode("an astronaut riding a horse on mars, 🐱 café 12345")
    body = ids[1:ids.index(tok.eos_id)]
    assert len(body) > 10 and all(0 <= i < len(tok.vocab) for i in ids)
    inv = {v: k for k, v in tok.vocab.items()}
    dec = {v: k for k, v in bpe.bytes_to_unicode().items()}
    text = "".join(inv[i] for i in body).replace("</w>", " ")
    raw = bytes(dec[c] for c in text if c != " ").decode("utf-8")
    assert "🐱" in raw and "café" in raw


def test_vocabulary_learning_is_deterministic():
    rng = np.random.default_rng(5)
    corpus = [world.caption(world.sample_scene(rng, 256, 256), rng) for _ in range(200)]
    a = bpe.build_vocabulary(corpus, world.vocabulary_words())
    b = bpe.build_vocabulary(list(corpus), world.vocabulary_words())
    assert a == b
