"""Two-object prompts drawn with regional prompts: each object's own caption, given a place ("a red star on the
left on a green background"), guides only its own part of the latent (soft masks that sum to one), the way
Regional Prompter / MultiDiffusion's region mode split a canvas — forward passes only, as the app's ONNX UNet runs.
Against the eval's plain prompt at the eval's prompts and seeds (`evaluate.prompt_set('two', 32, 102)`, seeds 0..31).

    cd training && /usr/bin/python3 diagnostics/regional_two.py [STAGE=w2-more-pairs] [GUIDANCE=3] [SIZE=256]

Modes: plain (the eval's); placed (the prompt rewritten with each object's place: "a red star on the left and a
blue circle on the right on a green background"); regional (each object's placed caption in its own half; the
second pass, at SIZE, with the plain prompt); regional2 (both passes regional).
"""
import math
import sys

import numpy as np
import torch

sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path

from shapes import checkpoints, evaluate
from shapes.common import alphas_cumprod
from shapes.curriculum import scaling_factor

work = Path('work')
stage = sys.argv[1] if len(sys.argv) > 1 else 'w2-more-pairs'
g = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
size = int(sys.argv[3]) if len(sys.argv) > 3 else 256
modes = sys.argv[4].split(',') if len(sys.argv) > 4 else ['plain', 'placed', 'regional', 'regional2']
tok = checkpoints.load_tokenizer(work)
dec = checkpoints.load_vae(work).decoder
te, un, steps = checkpoints.load_stage(work, stage)
sf = scaling_factor(work)
import os
scenes = evaluate.prompt_set('two', int(os.environ.get('N', 32)), seed=int(os.environ.get('PSEED', 102)))
TAU = float(os.environ.get('TAU', 1 / 16))
LAYS = os.environ.get('LAYS', 'lr,tb').split(',')
n = len(scenes)
enc = lambda ps: te(torch.tensor([tok.encode(p)[0] for p in ps], dtype=torch.int32))  # noqa: E731
abar = alphas_cumprod().double()
grid = (np.arange(20) * 50).round()[::-1].astype(np.int64) + 1
LAYOUTS = {"lr": ("left", "right"), "tb": ("top", "bottom"), "d1": ("top left", "bottom right"),
           "d2": ("top right", "bottom left")}


def masks(k: int, h: int, w: int) -> torch.Tensor:
    """[2, 1, h, w] soft halves for layout k (0: left | right, 1: top / bottom), summing to one."""
    tau = max(h, w) * TAU
    xs = (torch.arange(w) + 0.5 - w / 2)[None, :].expand(h, w) / tau
    ys = (torch.arange(h) + 0.5 - h / 2)[:, None].expand(h, w) / tau
    a = torch.sigmoid({"lr": -xs, "tb": -ys, "d1": -(xs + ys), "d2": xs - ys}[k])
    return torch.stack([a, 1 - a])[:, None]


@torch.no_grad()
def ddim(x, u, conds, ms, timesteps):
    """conds: list of [n, 77, d] (one per region); ms: [n, R, 1, h, w] or None (one cond)."""
    for i, t in enumerate(timesteps):
        tt = torch.tensor([float(t)])
        es = un(torch.cat([x] * (1 + len(conds))), tt, torch.cat([u] + conds)).chunk(1 + len(conds))
        e_u = es[0]
        e_c = es[1] if ms is None else sum(ms[:, r] * es[1 + r] for r in range(len(conds)))
        e = e_u + g * (e_c - e_u)
        a_t, a_prev = abar[t], (abar[timesteps[i + 1]] if i + 1 < len(timesteps) else abar[0])
        x0 = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()
        x = (a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e).float()
    return x


@torch.no_grad()
def draw(mode: str) -> dict:
    seeds = list(range(n))
    lays = [LAYS[s % len(LAYS)] for s in seeds]
    plain = [p for _, p in scenes]
    placed, region = [], [[], []]
    for (s, p), k in zip(scenes, lays):
        a, b = s.objects
        pa, pb = (f"on the {w}" if w in ("left", "right") else f"in the {w}" if " " in w else f"at the {w}"
                  for w in LAYOUTS[k])
        bg = f"on a {s.background} background"
        placed.append(f"a {a.colour} {a.shape} {pa} and a {b.colour} {b.shape} {pb} {bg}")
        region[0].append(f"a {a.colour} {a.shape} {pa} {bg}")
        region[1].append(f"a {b.colour} {b.shape} {pb} {bg}")
    u = enc([""] * n)
    h0 = 16
    x = torch.stack([torch.randn(4, h0, h0, generator=torch.Generator().manual_seed(s)) for s in seeds])
    m0 = torch.stack([masks(k, h0, h0) for k in lays])
    if mode == 'plain':
        c1, m1 = [enc(plain)], None
    elif mode == 'placed':
        c1, m1 = [enc(placed)], None
    else:
        c1, m1 = [enc(region[0]), enc(region[1])], m0
    x = ddim(x, u, c1, m1, grid)
    if size > 128 and mode != 'regional1':
        hs = size // 8
        up = torch.nn.functional.interpolate(x, size=(hs, hs), mode="bilinear", align_corners=False)
        rest = grid[20 - 8:]
        noise = torch.stack([torch.randn(4, hs, hs, generator=torch.Generator().manual_seed(s + 2 ** 20)) for s in seeds])
        a = abar[rest[0]]
        x = (a.sqrt() * up + (1 - a).sqrt() * noise).float()
        if mode == 'regional2':
            x = ddim(x, u, c1, torch.stack([masks(k, hs, hs) for k in lays]), rest)
        elif mode == 'placed':
            x = ddim(x, u, c1, None, rest)
        else:
            x = ddim(x, u, [enc(plain)], None, rest)
    imgs = evaluate.decode(dec, x, sf)
    return evaluate.mean_scores([evaluate.score(s, evaluate.judge(im)) for (s, _), im in zip(scenes, imgs)]), imgs


print(f"{stage} (chain step {steps:,}), {n} two-object prompts at {size} px (from 128), guidance {g:g}, DDIM 20")
print("| mode | count | both colours | both shapes |\n| --- | --- | --- | --- |")
for mode in modes:
    r, imgs = draw(mode)
    np.save(f'/tmp/regional-{mode}-{size}.npy', imgs)
    print(f"| {mode} | {r['count']:.0%} | {r['colour']:.0%} | {r['shapes']:.0%} |", flush=True)
