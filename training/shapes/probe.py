"""Does the UNet read the object's colour and shape from the prompt? Diagnostics, not scores.

1. Pull of each word: for 32 rendered single-object scenes (256 px, held-in pairs), noised to t in
   {999, ..., 500} with fixed noise, the x0 estimate's squared error inside the object is compared between
   the true caption and the same caption with the colour (or the shape) swapped, and the empty caption.
   A ratio of 1.0 means the model ignores that word; larger means the word moves its estimate towards
   the truth.
2. Where the outline is lost: the same scenes noised to t0 and denoised back to an image (DDIM, guidance
   7.5, true caption), then judged like `eval`. The share whose colour and shape survive, per t0, says at
   which noise levels the model stops keeping what the picture already holds.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import evaluate, world
from .common import alphas_cumprod, setup_threads
from .checkpoints import load_model, load_tokenizer, load_vae
from .common import to_tensor

TIMESTEPS = (999, 950, 900, 800, 650, 500)
RENOISE_FROM = (100, 250, 400, 550, 700, 850)


@torch.no_grad()
def stage_probe(work: Path, source: str = "unet", n: int = 32) -> dict:
    setup_threads()
    text, unet, step = load_model(work, source)
    vae = load_vae(work)
    tok = load_tokenizer(work)
    factor = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    rng = np.random.default_rng(5)
    names = list(world.COLOURS)
    scenes: list[world.Scene] = []
    images, masks, caps = [], [], {"true": [], "colour": [], "shape": [], "empty": []}
    while len(images) < n:
        c, s, bg = names[rng.integers(len(names))], world.SHAPES[rng.integers(6)], names[rng.integers(len(names))]
        if bg == c or (c, s) in world.HELD_OUT:
            continue
        o = world.Obj(c, s, None, None)
        if not world._place([o], rng, 1.0):
            continue
        scenes.append(world.Scene(bg, [o]))
        img = world.render(scenes[-1], 256, 256)
        plain = world.render(world.Scene(bg, []), 256, 256)
        m = (np.abs(img.astype(int) - plain.astype(int)).sum(-1) > 30).astype(np.float32)
        masks.append(F.avg_pool2d(torch.from_numpy(m)[None, None], 8)[0])
        images.append(to_tensor(img))
        c2 = next(x for x in rng.permutation(names) if x not in (c, bg))
        s2 = next(x for x in rng.permutation(world.SHAPES) if x != s)
        caps["true"].append(f"a {c} {s} on a {bg} background")
        caps["colour"].append(f"a {c2} {s} on a {bg} background")
        caps["shape"].append(f"a {c} {s2} on a {bg} background")
        caps["empty"].append("")
    z = vae.encoder(torch.stack(images))[0] * factor
    mask = torch.stack(masks)
    embs = {k: text(torch.tensor([tok.encode(x)[0] for x in v], dtype=torch.int32)) for k, v in caps.items()}
    abar = alphas_cumprod()
    table = {}
    for t in TIMESTEPS:
        g = torch.Generator().manual_seed(t)
        noise = torch.randn(z.shape, generator=g)
        a = abar[t]
        xt = a.sqrt() * z + (1 - a).sqrt() * noise
        err = {}
        for k, e in embs.items():
            eps = unet(xt, torch.full((n,), t), e)
            x0 = (xt - (1 - a).sqrt() * eps) / a.sqrt()
            err[k] = float((((x0 - z) ** 2).mean(1, keepdim=True) * mask).sum() / mask.sum())
        table[t] = {k: round(v / err["true"], 3) for k, v in err.items() if k != "true"}
        print(f"t={t}: x0 error inside the object, relative to the true caption: " +
              ", ".join(f"{k} {v:.3f}" for k, v in table[t].items()), flush=True)
    kept = {}
    ctx = torch.cat([embs["empty"], embs["true"]])
    for t0 in RENOISE_FROM:
        x = (abar[t0].sqrt() * z + (1 - abar[t0]).sqrt() * torch.randn(z.shape, generator=torch.Generator().manual_seed(t0)))
        ts = np.linspace(t0, 1, max(2, t0 // 50)).round().astype(np.int64)  # ~50 timesteps apart, like DDIM 20
        img = evaluate.decode(vae.decoder, evaluate.ddim(unet, x, ctx, ts, 7.5), factor)
        res = [evaluate.score(sc, evaluate.judge(im)) for sc, im in zip(scenes, img)]
        kept[t0] = {k: round(float(np.mean([r[k] for r in res])), 3) for k in ("colour", "shape")}
        print(f"re-noised to t0={t0} and denoised: colour kept {kept[t0]['colour']:.0%}, "
              f"shape kept {kept[t0]['shape']:.0%}", flush=True)
    report = {"training_steps": step, "relative_x0_error": table, "kept_after_renoise": kept}
    (work / "probe_report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report
