"""Two objects in one colour: is it the layout (decided at high noise, before the objects have shapes) or the
binding itself? Two-object pictures rendered, encoded, noised to t and denoised from there (DDIM on the 20-step
grid, guidance 4, the prompt naming both), then each object's own pixels judged for its colour. If the colours
come out right from a t where the layout still shows, the UNet binds colours to the objects it sees, and what
fails is the layout at the start; if not, it cannot bind even when shown where the objects are.

    cd training && /usr/bin/python3 diagnostics/binding_by_noise.py [STAGE=s4-multi] [N=32]
"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, '.')
from shapes import checkpoints, evaluate, world  # noqa: E402
from shapes.common import NUM_TRAIN_TIMESTEPS, alphas_cumprod, to_tensor  # noqa: E402
from shapes.curriculum import scaling_factor  # noqa: E402

torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
work, stage = Path('work'), sys.argv[1] if len(sys.argv) > 1 else 's4-multi'
n = int(sys.argv[2]) if len(sys.argv) > 2 else 32
tok, vae = checkpoints.load_tokenizer(work), checkpoints.load_vae(work)
te, un, _ = checkpoints.load_stage(work, stage)
scaling = scaling_factor(work)
C, S = list(world.COLOURS), list(world.SHAPES)
rng = np.random.default_rng(7)
scenes, prompts = [], []
while len(scenes) < n:
    bg, c1, c2 = (C[i] for i in rng.choice(len(C), 3, replace=False))
    s1, s2 = S[rng.integers(len(S))], S[rng.integers(len(S))]
    if {(c1, s1), (c2, s2)} & world.HELD_OUT:
        continue
    objs = [world.Obj(c1, s1, None, None), world.Obj(c2, s2, None, None)]
    if not world._place(objs, rng, 1.0):
        continue
    scenes.append(world.Scene(bg, objs))
    prompts.append(f"a {c1} {s1} and a {c2} {s2} on a {bg} background")
imgs = torch.stack([to_tensor(world.render(s, 256, 256)) for s in scenes])
masks = [[(np.abs(world.render(world.Scene(s.background, [o]), 256, 256).astype(int)
                  - world.render(world.Scene(s.background, []), 256, 256).astype(int)).sum(-1) > 60) for o in s.objects]
         for s in scenes]
with torch.no_grad():
    x0 = vae.encoder(imgs)[0] * scaling
    ids = torch.tensor([tok.encode(p)[0] for p in prompts], dtype=torch.int32)
    ctx = torch.cat([te(torch.tensor([tok.encode('')[0]] * n, dtype=torch.int32)), te(ids)])
abar = alphas_cumprod().double()
grid = (np.arange(20) * (NUM_TRAIN_TIMESTEPS // 20)).round()[::-1].astype(np.int64) + 1
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
print(f"{stage}: {n} two-object pictures, each object's pixels judged for its colour after denoising from t")
print("| from t | both right | one right | both in one colour | colours swapped | wrong ones: background / other object's / another |")
print("| --- | --- | --- | --- | --- | --- |")
for t0 in (int(t) for t in (sys.argv[4] if len(sys.argv) > 4 else "301,501,651,801,901,951").split(",")):
    steps = grid[grid <= t0]
    a = abar[steps[0]]
    xt = (a.sqrt() * x0 + (1 - a).sqrt() * noise).float()
    out = []
    for i in range(0, n, 8):
        sl = slice(i, min(n, i + 8))
        x = evaluate.ddim(un, xt[sl], torch.cat([ctx[:n][sl], ctx[n:][sl]]), steps, 4.0)
        out.append(evaluate.decode(vae.decoder, x, scaling))
    out = np.concatenate(out)
    got = [[evaluate.nearest_colour(np.median(im[m].astype(np.float32), axis=0)) for m in ms] for im, ms in zip(out, masks)]
    want = [[o.colour for o in s.objects] for s in scenes]
    right = [sum(g == w for g, w in zip(gs, ws)) for gs, ws in zip(got, want)]
    wrong = [(g, w, s) for gs, ws, s in zip(got, want, scenes) for g, w in zip(gs, ws) if g != w]
    kinds = [sum(g == s.background for g, _, s in wrong), sum(g in [o.colour for o in s.objects] for g, _, s in wrong)]
    print(f"| {steps[0]} | {np.mean([r == 2 for r in right]):.0%} | {np.mean([r == 1 for r in right]):.0%} | "
          f"{np.mean([g[0] == g[1] for g in got]):.0%} | {np.mean([g == w[::-1] for g, w in zip(got, want)]):.0%} | "
          f"{kinds[0]} / {kinds[1]} / {len(wrong) - sum(kinds)} of {len(wrong)} |", flush=True)
    if len(sys.argv) > 5:
        for gs, ws, s in list(zip(got, want, scenes))[:12]:
            print("   ", s.background, ws, "->", gs)
