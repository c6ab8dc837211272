"""Has the UNet learned a colour on a background at all? Round eleven found gray drawn purple on white, with the
background said too. For a few (object colour, background) pairs, 24 single-object pictures each (the world's own
renders at 128 px, encoded by the recipe's VAE, captioned "a {colour} {shape} on a {background} background"), the
UNet's conditional x0 estimate from the noised true latents at t = 400, 600, 800 (the same noise for every pair),
decoded: the object's mean RGB inside its true mask, the colour the judge's palette names for it, and the
diffusion loss (epsilon MSE). A pair the UNet has learned comes back in its own colour from the noisy latents.

    cd training && /usr/bin/python3 diagnostics/pair_probe.py [STAGE=w2-more-pairs]
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, '.')
from shapes import evaluate as E, world  # noqa: E402
from shapes.checkpoints import load_model, load_tokenizer, load_vae  # noqa: E402
from shapes.common import alphas_cumprod, to_tensor  # noqa: E402

E.setup_threads()
work = Path('work')
stage = sys.argv[1] if len(sys.argv) > 1 else 'w2-more-pairs'
tok = load_tokenizer(work)
text, unet, _ = load_model(work, stage)
vae = load_vae(work)
scaling = json.loads((work / 'vae_scaling.json').read_text())['scaling_factor']
abar = alphas_cumprod().double()
PAIRS = [('gray', 'white'), ('gray', 'blue'), ('gray', 'black'), ('purple', 'white'), ('brown', 'white'),
         ('orange', 'white'), ('red', 'white'), ('pink', 'white')]
N = 24
rng = np.random.default_rng(11)
layout = []  # the same shapes, places and sizes for every pair
for i in range(N):
    shape = world.SHAPES[i % len(world.SHAPES)]
    layout.append((shape, float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.2, 0.3))))
gen = torch.Generator().manual_seed(5)
noise = torch.randn(N, 4, 16, 16, generator=gen)
print(f"{stage}: conditional x0 estimate from the noised true latents, 24 pictures a pair, 128 px")
print("| object on background | t | loss | object's mean RGB | named as (of 24) |")
print("| --- | --- | --- | --- | --- |")
for colour, bg in PAIRS:
    scenes = [world.Scene(bg, [world.Obj(colour, s, None, None, cx, cy, r)]) for s, cx, cy, r in layout]
    imgs = np.stack([world.render(s, 128, 128) for s in scenes])
    masks = np.abs(imgs.astype(int) - np.array(world.COLOURS[bg])).sum(-1) > 60
    ids = torch.tensor([tok.encode(f"a {colour} {s.objects[0].shape} on a {bg} background")[0] for s in scenes],
                       dtype=torch.int32)
    with torch.no_grad():
        lat = vae.encoder(torch.stack([to_tensor(im) for im in imgs]))[0] * scaling
        ctx = text(ids)
        for t in (400, 600, 800):
            a = abar[t].float()
            xt = a.sqrt() * lat + (1 - a).sqrt() * noise
            eps = unet(xt, torch.tensor([float(t)]), ctx)
            loss = float(((eps - noise) ** 2).mean())
            x0 = (xt - (1 - a).sqrt() * eps) / a.sqrt()
            out = E.decode(vae.decoder, x0, scaling)
            means = np.stack([o[m].mean(0) for o, m in zip(out, masks)])
            named = [E.nearest_colour(m) for m in means]
            counts = ", ".join(f"{c} {named.count(c)}" for c in sorted(set(named), key=named.count, reverse=True))
            print(f"| {colour} on {bg} | {t} | {loss:.4f} | {tuple(int(v) for v in means.mean(0))} | {counts} |", flush=True)
