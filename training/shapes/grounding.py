"""Grounding the caption's words in the picture: a loss on the UNet's cross-attention (a run's `grounding`).

Two named objects come out in blended or swapped colours because the layout is decided at high noise, where
ε-prediction averages over which object gets which colour (training/README.md, the binding arms). The UNet reads
the caption only through cross-attention; if the pixels of the star attend "red" and "star" and those of the
circle attend "blue" and "circle", the colours are bound to their objects where the layout forms. TokenCompose
(Wang et al., CVPR 2024) supervises exactly that with segmentation masks; our world renders its own, so each
object's mask is exact. Its token loss, per cross-attention layer and grounded word k with mask M:

    L_k = 1 - sum_pixels(A_k * M) / sum_pixels(A_k)

where A_k is the attention every pixel gives word k (mean over heads). A word is grounded when it names the
colour or shape of the objects it covers (a counted group's plural: all of them) and occurs once in the caption;
the background's colour word is grounded in the pixels no object covers. Dropped captions are not grounded.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from . import world
from .models import SpatialTransformer

MAX_WORDS = 8  # grounded words per picture: three objects' colour and shape, the background's colour, one spare


def _coverage(scene: world.Scene, width: int, height: int, cols: int, rows: int, supersample: int = 4) -> np.ndarray:
    """Each object's share of every cell of a cols x rows grid over the picture: float [objects, rows, cols]."""
    gx, gy = np.meshgrid((np.arange(cols * supersample) + 0.5) * width / (cols * supersample),
                         (np.arange(rows * supersample) + 0.5) * height / (rows * supersample))
    cell = width / (cols * supersample)
    short = min(width, height)
    out = []
    for o in scene.objects:
        d = world._sd_shape(o.shape, gx - o.cx * width, -(gy - o.cy * height), o.r * short)
        cover = np.clip(0.5 - d / cell, 0.0, 1.0)
        out.append(cover.reshape(rows, supersample, cols, supersample).mean(axis=(1, 3)))
    return np.stack(out) if out else np.zeros((0, rows, cols))


def word_ids(tok) -> dict[str, int]:
    """The token of every word that can be grounded (each is one token: bpe.build_vocabulary keeps them whole)."""
    return {w: tok.encode(w)[0][1] for w in [*world.COLOURS, *world.SHAPES, *world.PLURAL.values()]}


def grounded_words(scene: world.Scene, ids: list[int], word_id: dict[str, int],
                   masks: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(token index, mask) for every word of the caption `ids` that names what the picture's objects are."""
    claims: dict[str, list[int]] = {}
    for i, o in enumerate(scene.objects):
        for word in {o.colour, o.shape, world.PLURAL[o.shape]}:
            claims.setdefault(word, []).append(i)
    out = []
    for word, owners in claims.items():
        at = [k for k, t in enumerate(ids) if t == word_id.get(word)]
        if len(at) != 1:
            continue  # unsaid, or said twice ("a red star and a red circle"): which is which is not known
        out.append((at[0], np.clip(masks[owners].sum(axis=0), 0.0, 1.0)))
    at = [k for k, t in enumerate(ids) if t == word_id.get(scene.background)]  # (objects never share its colour)
    if len(at) == 1:
        out.append((at[0], 1.0 - np.clip(masks.sum(axis=0), 0.0, 1.0)))
    return out[:MAX_WORDS]


def world_grounding(scenes: Iterable[tuple[world.Scene, str]], tok, width: int, height: int, cols: int,
                    rows: int) -> dict[str, torch.Tensor]:
    """For each picture: the token index of up to MAX_WORDS grounded words (-1: none) and their masks on a
    cols x rows grid (the finest of the UNet's SpatialTransformers; TextAttention blocks are not grounded)."""
    word_id = word_ids(tok)
    index, mask = [], []
    for scene, cap in scenes:
        words = grounded_words(scene, tok.encode(cap)[0], word_id, _coverage(scene, width, height, cols, rows))
        ix = np.full(MAX_WORDS, -1, np.int64)
        m = np.zeros((MAX_WORDS, rows, cols), np.float16)
        for j, (k, mk) in enumerate(words):
            ix[j], m[j] = k, mk
        index.append(ix)
        mask.append(m)
    return {"index": torch.from_numpy(np.stack(index)), "mask": torch.from_numpy(np.stack(mask))}


def keep_cross_attention(unet: torch.nn.Module, on: bool = True) -> list[torch.nn.Module]:
    """Make every SpatialTransformer's cross-attention keep its attention weights of the last call."""
    layers = [m.attn2 for m in unet.modules() if isinstance(m, SpatialTransformer)]
    for a in layers:
        a.keep = on
        a.probs = None
    return layers


def grounding_loss(layers: list[torch.nn.Module], index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The token loss averaged over the layers and the grounded words of the batch (0 where none are).

    index [b, W] token positions (-1: none); mask [b, W, rows, cols] at the finest layer's grid; each layer's
    grid is that one pooled down (the UNet halves it level by level)."""
    valid = index >= 0
    if not valid.any():
        return mask.new_zeros(())
    rows, cols = mask.shape[-2:]
    total = []
    for a in layers:
        p = a.probs.mean(dim=1)  # [b, pixels, tokens]
        n = p.shape[1]
        f = int(round((rows * cols / n) ** 0.5))
        m = F.avg_pool2d(mask.float().flatten(0, 1)[:, None], f).reshape(*mask.shape[:2], -1) if f > 1 \
            else mask.float().flatten(2)  # [b, W, pixels]
        att = torch.gather(p.transpose(1, 2), 1, index.clamp(min=0)[..., None].expand(-1, -1, n))  # [b, W, pixels]
        inside = (att * m).sum(-1) / att.sum(-1).clamp(min=1e-8)
        total.append((1 - inside)[valid].mean())
    return torch.stack(total).mean()
