"""The text side: the tokenizer's vocabulary from the caption language, and the CLIP-style text encoder."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import bpe, world
from .checkpoints import load_tokenizer
from .common import (SEED, Deadline, load_modules, load_optimizer_state, load_sharded, optimizer_state, prefixed,
                     save_sharded, setup_threads)
from .models import TextConfig, TextEncoder


def stage_vocab(work: Path) -> None:
    rng = np.random.default_rng(SEED)
    corpus = [world.caption(world.sample_scene(rng, 256, 256, "any"), rng) for _ in range(5000)]
    vocab, merges = bpe.build_vocabulary(corpus, world.vocabulary_words())
    bpe.write_files(work / "tokenizer", vocab, merges)
    print(f"vocab: {len(vocab)} tokens, {len(merges)} merges -> {work / 'tokenizer'}")



# SD 1.x does not learn its text encoder from the diffusion loss: it borrows CLIP's, trained
# contrastively on image-caption pairs (Radford et al. 2021). The recipe does the same on its own world
# before the UNet stage: the text encoder (EOS token -> linear projection) and a small image encoder
# (64x64 renders) learn to pick each other's caption/picture out of a batch. Measured in the first run:
# learning the text encoder from scratch through the diffusion loss alone gave a UNet that got the
# background from the prompt but not the object's colour (17 % after 13,000 steps).
CLIP_STEPS = 1200
CLIP_RES = 64
CLIP_SCENES = 24000
CLIP_SEQ = 40  # the causal encoder's first 40 positions hold every caption and its EOS


class ImageEncoder(torch.nn.Module):
    """Four stride-2 convolutions (64 -> 4 px) and a linear projection; only the recipe uses it."""

    def __init__(self, width: int):
        super().__init__()
        layers, cin = [], 3
        for cout in (32, 64, 128, 128):
            layers += [torch.nn.Conv2d(cin, cout, 3, stride=2, padding=1), torch.nn.GroupNorm(8, cout), torch.nn.SiLU()]
            cin = cout
        self.convs = torch.nn.Sequential(*layers)
        self.proj = torch.nn.Linear(128 * (CLIP_RES // 16) ** 2, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.convs(x).flatten(1))


def clip_pairs(work: Path, scenes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rendered 64x64 scenes (training pairs only, held-out pairs excluded) with their token ids, cached."""
    path = work / "clip_pairs.pt"
    if path.exists():
        d = torch.load(path)
        if len(d["ids"]) == scenes:
            return d["images"], d["ids"]
    tok = load_tokenizer(work)
    rng = np.random.default_rng(SEED * 17)
    imgs, ids = [], []
    for _ in range(scenes):
        scene = world.sample_scene(rng, 256, 256, "exclude")  # square, so shapes keep their proportions
        enc = tok.encode(world.caption(scene, rng))[0]
        assert enc[CLIP_SEQ - 1] == tok.eos_id, "a caption longer than CLIP_SEQ tokens"
        ids.append(enc[:CLIP_SEQ])
        imgs.append(torch.from_numpy(world.render(scene, CLIP_RES, CLIP_RES)).permute(2, 0, 1))
    d = {"images": torch.stack(imgs), "ids": torch.tensor(ids, dtype=torch.int32)}
    torch.save(d, path)
    return d["images"], d["ids"]


def eos_features(text: TextEncoder, ids: torch.Tensor) -> torch.Tensor:
    """CLIP's pooled output: the hidden state at the first EOS token (EOS is the vocabulary's last id)."""
    h = text(ids)
    eos = (ids == text.cfg.vocab_size - 1).int().argmax(dim=1)
    return h[torch.arange(len(ids)), eos]


def stage_clip(work: Path, device: str, steps: int, minutes: float, batch: int = 256, scenes: int = CLIP_SCENES) -> int:
    """Contrastive pretraining of the text encoder (or resume); returns the step reached."""
    setup_threads()
    ck = load_sharded(work / "clip")
    if ck and ck[1]["step"] >= steps:  # finished (here, or restored from training/checkpoints: text tower only)
        return ck[1]["step"]
    torch.manual_seed(SEED)
    tok = load_tokenizer(work)
    images, ids_all = clip_pairs(work, scenes)
    cfg = TextConfig(vocab_size=len(tok.vocab))
    text, image = TextEncoder(cfg).to(device), ImageEncoder(cfg.width).to(device)
    proj = torch.nn.Linear(cfg.width, cfg.width, bias=False).to(device)
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07), device=device))
    params = list(text.parameters()) + list(image.parameters()) + list(proj.parameters()) + [logit_scale]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
    start = 0
    if ck:
        state, meta = ck
        if not meta.get("optimizer"):
            raise SystemExit(f"{work / 'clip'} holds the text tower only (restored from training/checkpoints): it cannot "
                             f"train further; train the CLIP stage from scratch in a fresh --work folder.")
        load_modules(state, {"text": text, "image": image, "proj": proj})
        with torch.no_grad():
            logit_scale.copy_(state["logit_scale"])
        load_optimizer_state(opt, {k: v.to(device) for k, v in state.items()}, meta["optimizer"])
        start = meta["step"]
    deadline = Deadline(minutes)
    step, t0, hist, accs = start, time.time(), [], []
    while step < steps and not deadline.passed():
        lr = 1e-3 * min(1.0, (step + 1) / 100) * (0.5 * (1 + math.cos(math.pi * step / steps)) * 0.95 + 0.05)
        for g in opt.param_groups:
            g["lr"] = lr
        g = torch.Generator().manual_seed(SEED * 37 + step)
        idx = torch.randperm(len(ids_all), generator=g)[:batch]
        x = images[idx].float().to(device) / 127.5 - 1.0
        ids = ids_all[idx].to(device)
        t_emb = F.normalize(proj(eos_features(text, ids)), dim=-1)
        i_emb = F.normalize(image(x), dim=-1)
        logits = logit_scale.clamp(max=math.log(100)).exp() * t_emb @ i_emb.T
        labels = torch.arange(len(idx), device=device)
        # Identical captions can repeat in a batch; CLIP's loss treats them as negatives, and so does this.
        loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        hist.append(loss.item())
        accs.append((logits.argmax(1) == labels).float().mean().item())
        if step % 100 == 0:
            print(f"clip step {step}/{steps} loss {np.mean(hist[-100:]):.3f} text->image top-1 "
                  f"{np.mean(accs[-100:]):.0%} {(time.time() - t0) / (step - start):.2f}s/step", flush=True)
    flat, opt_meta = optimizer_state(opt)
    save_sharded({**prefixed("text", text.state_dict()), **prefixed("image", image.state_dict()),
                  **prefixed("proj", proj.state_dict()), "logit_scale": logit_scale.detach(), **flat},
                 work / "clip", {"step": step, "text": cfg.__dict__, "optimizer": opt_meta})
    print(f"clip: saved at step {step}")
    return step
