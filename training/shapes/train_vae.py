"""The VAE stage and the latent data set the UNet stage trains on."""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import world
from .checkpoints import load_tokenizer, load_vae
from .common import (SEED, Deadline, load_optimizer_state, load_sharded, optimizer_state, prefixed, save_sharded,
                     setup_threads, to_tensor, unprefixed)
from .models import AutoencoderKL, VaeConfig


def vae_batch(rng: np.random.Generator, n: int, crop: int) -> torch.Tensor:
    out = []
    for _ in range(n):
        w, h = world.RESOLUTIONS[rng.integers(len(world.RESOLUTIONS))]
        scene = world.sample_scene(rng, w, h, "any")
        # Crops near objects teach edges; the rest teach flat colour.
        o = scene.objects[rng.integers(len(scene.objects))]
        cx = int(np.clip(o.cx * w - crop / 2 + rng.integers(-crop // 3, crop // 3 + 1), 0, w - crop))
        cy = int(np.clip(o.cy * h - crop / 2 + rng.integers(-crop // 3, crop // 3 + 1), 0, h - crop))
        out.append(to_tensor(world.render(scene, w, h, (cx, cy, crop, crop))))
    return torch.stack(out)


def stage_vae(work: Path, device: str, steps: int, minutes: float, batch: int = 16, crop: int = 96) -> int:
    """Train (or resume) the VAE for up to `minutes`; returns the step reached."""
    setup_threads()
    ck = load_sharded(work / "vae")
    if ck and ck[1]["step"] >= steps:  # finished (here, or restored from training/checkpoints)
        return ck[1]["step"]
    torch.manual_seed(SEED)
    vae = AutoencoderKL(VaeConfig()).to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    start = 0
    if ck:
        state, meta = ck
        vae.load_state_dict(unprefixed("model", state))
        if meta.get("optimizer"):  # (none in a checkpoint restored from training/checkpoints)
            load_optimizer_state(opt, {k: v.to(device) for k, v in state.items()}, meta["optimizer"])
        start = meta["step"]
    deadline = Deadline(minutes)
    step, t0, hist = start, time.time(), []
    while step < steps and not deadline.passed():
        lr = 1e-3 * (0.5 * (1 + math.cos(math.pi * step / steps)) * 0.95 + 0.05)
        for g in opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng(SEED * 7 + step)
        x = vae_batch(rng, batch, crop).to(device)
        mean, logvar = vae.encoder(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        y = vae.decoder(z)
        rec = (y - x).abs().mean() + F.mse_loss(y, x)
        # KL(q(z|x) || N(0, I)) with the tiny weight LDM's KL-f8 used, per element.
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
        loss = rec + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        hist.append(rec.item())
        if step % 100 == 0:
            print(f"vae step {step}/{steps} rec {np.mean(hist[-100:]):.4f} kl {kl.item():.2f} "
                  f"{(time.time() - t0) / (step - start):.2f}s/step", flush=True)
    flat, opt_meta = optimizer_state(opt)
    save_sharded({**prefixed("model", vae.state_dict()), **flat}, work / "vae",
                 {"step": step, "config": VaeConfig().__dict__, "optimizer": opt_meta})
    print(f"vae: saved at step {step}")
    return step


# ------------------------------------------------------------------ the decoder's fades
DECODER_STEPS = 3000
FADE_MAX = 0.6  # how far a latent is blended toward its twin's (0: the picture itself)


def fade_batch(rng: np.random.Generator, n: int, crop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crops as `vae_batch`'s, each with a twin — the same scene with its objects in the background's colour (half of
    them: the objects faded out), or one object in another colour — and how far (lambda) to blend toward the twin:
    0 for 40 % of them (the picture itself), else uniform in 0.05 - FADE_MAX."""
    names = list(world.COLOURS)
    x1, x2, lam = [], [], []
    for _ in range(n):
        w, h = world.RESOLUTIONS[rng.integers(len(world.RESOLUTIONS))]
        scene = world.sample_scene(rng, w, h, "any")
        o = scene.objects[rng.integers(len(scene.objects))]
        cx = int(np.clip(o.cx * w - crop / 2 + rng.integers(-crop // 3, crop // 3 + 1), 0, w - crop))
        cy = int(np.clip(o.cy * h - crop / 2 + rng.integers(-crop // 3, crop // 3 + 1), 0, h - crop))
        if rng.random() < 0.5:
            objs = [dataclasses.replace(q, colour=scene.background) for q in scene.objects]
        else:
            k = int(rng.integers(len(scene.objects)))
            others = [c for c in names if c not in (scene.background, scene.objects[k].colour)]
            objs = list(scene.objects)
            objs[k] = dataclasses.replace(objs[k], colour=others[rng.integers(len(others))])
        twin = dataclasses.replace(scene, objects=objs)
        x1.append(to_tensor(world.render(scene, w, h, (cx, cy, crop, crop))))
        x2.append(to_tensor(world.render(twin, w, h, (cx, cy, crop, crop))))
        lam.append(0.0 if rng.random() < 0.4 else float(rng.uniform(0.05, FADE_MAX)))
    return torch.stack(x1), torch.stack(x2), torch.tensor(lam).view(-1, 1, 1, 1)


def stage_decoder(work: Path, device: str, steps: int, minutes: float, batch: int = 16, crop: int = 96) -> int:
    """Fine-tune (or resume) the VAE's decoder, its encoder frozen, so that a blend of two pictures' latents decodes
    as the blend of the pictures: returns the step reached. A UNet's sample is such a blend where it is not sure
    yet — an object a little washed toward its background — and the VAE as trained decodes those off its
    pictures' latents freely: a gray star's latent 25 % of the way to a white background's decodes purple, and
    this UNet drew gray on white purple half the time (training/README.md, round twelve). The latents, so every
    UNet stage trained on them, stay as they are: only what a sample decodes to changes. Saved apart
    (work/decoder), with the digest of the VAE it was made from; `checkpoints.load_vae(tuned=True)` loads it. Not in
    the pack: it draws gray on white right and costs held-out pairs and two objects their colours (round twelve)."""
    from .handoff import digest

    setup_threads()
    base = load_vae(work, device)
    vae_digest = digest(unprefixed("model", load_sharded(work / "vae")[0]))  # as handoff's lineage.json names it
    ck = load_sharded(work / "decoder")
    if ck:
        assert ck[1]["vae"] == vae_digest, "work/decoder was fine-tuned from another VAE: remove it"
        if ck[1]["step"] >= min(steps, ck[1]["steps"]):  # finished (a longer run: remove work/decoder first)
            if steps > ck[1]["step"]:
                print(f"decoder: finished at step {ck[1]['step']}; remove {work / 'decoder'} to tune it for {steps}")
            return ck[1]["step"]
    for p in base.encoder.parameters():
        p.requires_grad_(False)
    decoder = base.decoder.train()
    opt = torch.optim.AdamW(decoder.parameters(), lr=2e-4, weight_decay=0.0)
    start = 0
    if ck:
        state, meta = ck
        decoder.load_state_dict(unprefixed("decoder", state))
        if meta.get("optimizer"):  # (none in one restored from training/checkpoints)
            load_optimizer_state(opt, {k: v.to(device) for k, v in state.items()}, meta["optimizer"])
        start = meta["step"]
    deadline = Deadline(minutes)
    torch.manual_seed(SEED + start)
    step, t0, hist = start, time.time(), []
    while step < steps and not deadline.passed():
        # 50 warm-up steps, then a cosine to a tenth
        lr = 2e-4 * (0.5 * (1 + math.cos(math.pi * step / steps)) * 0.9 + 0.1) * min(1.0, (step + 1) / 50)
        for g in opt.param_groups:
            g["lr"] = lr
        x1, x2, lam = fade_batch(np.random.default_rng(SEED * 11 + step), batch, crop)
        x1, x2, lam = x1.to(device), x2.to(device), lam.to(device)
        with torch.no_grad():
            mean, logvar = base.encoder(torch.cat([x1, x2]))
            m1, m2 = mean.chunk(2)
            z = (1 - lam) * m1 + lam * m2 + torch.exp(0.5 * logvar.chunk(2)[0]) * torch.randn_like(m1)
            target = (1 - lam) * x1 + lam * x2
        y = decoder(z)
        loss = (y - target).abs().mean() + F.mse_loss(y, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        hist.append(loss.item())
        if step % 100 == 0:
            print(f"decoder step {step}/{steps} loss {np.mean(hist[-100:]):.4f} "
                  f"{(time.time() - t0) / (step - start):.2f}s/step", flush=True)
    flat, opt_meta = optimizer_state(opt)
    save_sharded({**prefixed("decoder", decoder.state_dict()), **flat}, work / "decoder",
                 {"step": step, "steps": steps, "vae": vae_digest, "optimizer": opt_meta})
    print(f"decoder: saved at step {step}")
    return step


# ------------------------------------------------------------------ latent data set
# (latent height, latent width, number of scenes): most at 256 px, fewer large ones (cost ~ area).
BUCKETS = ((32, 32, 6000), (32, 48, 1400), (48, 32, 1400), (40, 40, 1000), (48, 48, 800), (64, 64, 500),
           (32, 64, 300), (64, 32, 300))


def stage_latents(work: Path, device: str, scale: float = 1.0, factor_only: bool = False) -> None:
    """The latent data set the single long run (`recipe.py unet`) trains on, and the scaling factor. The
    factor is measured on the first 256 scenes of each bucket, so `factor_only` (all the curriculum needs:
    it encodes its own worlds) draws just those — the same scenes, the same factor — and keeps no data set."""
    setup_threads()
    if factor_only and (work / "vae_scaling.json").exists():  # measured already (or restored with its VAE)
        print(f"scaling factor kept: {json.loads((work / 'vae_scaling.json').read_text())['scaling_factor']:.5f}")
        return
    vae = load_vae(work, device)
    tok = load_tokenizer(work)
    out = work / "latents"
    out.mkdir(parents=True, exist_ok=True)
    stats = []
    for lh, lw, n in BUCKETS:
        n = max(8, int(n * scale))
        if factor_only:
            n = min(n, 256)
        path = out / f"{lh}x{lw}.pt"
        if path.exists():
            stats.append(torch.load(path)["latents"][:256].float())
            continue
        rng = np.random.default_rng(SEED * 13 + lh * 100 + lw)
        lat, ids, caps = [], [], []
        for i in range(0, n, 32):
            imgs = []
            for _ in range(min(32, n - i)):
                scene = world.sample_scene(rng, lw * 8, lh * 8, "exclude")
                cap = world.caption(scene, rng)
                imgs.append(to_tensor(world.render(scene, lw * 8, lh * 8)))
                caps.append(cap)
                ids.append(tok.encode(cap)[0])
            with torch.no_grad():
                mean, _ = vae.encoder(torch.stack(imgs).to(device))
            lat.append(mean.cpu().half())
        latents = torch.cat(lat)
        if not factor_only:
            torch.save({"latents": latents, "ids": torch.tensor(ids, dtype=torch.int32), "captions": caps}, path)
        stats.append(latents[:256].float())
        print(f"latents {lh}x{lw}: {len(caps)} scenes", flush=True)
    # SD's scaling factor was 1 / std of the KL-f8 latents (0.18215); measure ours the same way.
    allz = torch.cat([s.flatten() for s in stats])
    factor = float(1.0 / allz.std())
    (work / "vae_scaling.json").write_text(json.dumps({"scaling_factor": factor, "latent_mean": float(allz.mean())}))
    print(f"scaling_factor {factor:.5f} (latent mean {allz.mean():.4f})")
