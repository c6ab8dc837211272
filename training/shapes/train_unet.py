"""The UNet stage: the text encoder (from the CLIP stage, fine-tuned) and the UNet, on the latent data set."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoints import ema_by_name, load_tokenizer, load_unet_weights, text_unet_names
from .common import (SEED, Deadline, alphas_cumprod, load_optimizer_state, load_sharded, optimizer_state, prefixed,
                     save_sharded, setup_threads, step_with_ema, unprefixed, NUM_TRAIN_TIMESTEPS)
from .models import TextConfig, TextEncoder, UNet, UNetConfig
from .train_vae import BUCKETS


# Loss weighting: min-SNR-γ (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting
# Strategy") moves weight to the noisy timesteps where background and object colours are decided; plain
# ε-MSE (Ho et al. 2020, eq. 14) barely rewards those: an error Δ in x0 at t = 900 costs only ~(0.1 Δ)²
# in ε. The model still predicts ε; only the training loss changes.
MIN_SNR_GAMMA = 5.0
# Offset noise (a per-channel constant added to ε; Crosslabs 2023, "Diffusion with offset noise").
# SD 1.5's schedule keeps sqrt(ᾱ_999) = 0.068 of the signal at t = 999; in a world that is mostly one
# flat colour, that leaks the background into x_T's per-channel mean, the model reads the colour from
# there instead of from the prompt, and at inference (x_T holds no such signal) colours come out
# random. Measured in the first run at step 7000 with offset 0.1: the predicted x0 at t = 999 followed
# x_T's mean, and conditional and unconditional predictions differed by < 0.05. An offset of 0.5 drowns
# the leak (signal-to-noise of the mean ~0.14), so the prompt must decide colour.
OFFSET_NOISE = 0.5
# Multi-resolution ("pyramid") noise: Gaussian noise at coarser and coarser grids, upsampled and added
# with weight PYRAMID_DISCOUNT^level, then renormalised. Offset noise fixes the leak of the picture's
# mean into x_T; the same leak happens object by object: at t = 900 SD's schedule still keeps 12 % of
# the signal, and a large flat object's colour survives the white noise averaged over its area.
# Measured at step 5000 with offset noise alone: the x0 prediction inside a red square at t = 900 was
# red whether the prompt said red, green or yellow — the model reads the colour from x_t, so at
# inference (white x_T) object colours come out random. Pyramid noise was tried for steps 5000–6000 of
# the shipped run and did not change that within 1000 steps (24 held-in prompts at 256 px: object colour
# 17 % before, 8 % after); it stays in the recipe for exactly that window so that the recipe re-creates
# the shipped pack.
PYRAMID_DISCOUNT = 0.8
PYRAMID_STEPS = (5000, 6000)


def pyramid_noise(shape: tuple[int, ...], rng: np.random.Generator, device: str) -> torch.Tensor:
    b, c, h, w = shape
    noise = torch.randn(shape, device=device)
    level = 1
    while True:
        r = float(rng.uniform(2, 4)) ** level
        hh, ww = max(1, int(h / r)), max(1, int(w / r))
        coarse = torch.randn(b, c, hh, ww, device=device)
        noise = noise + F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False) * PYRAMID_DISCOUNT ** level
        if hh == 1 or ww == 1:
            break
        level += 1
    return noise / noise.std(dim=(1, 2, 3), keepdim=True)


# The text encoder starts from the CLIP stage and fine-tunes at a tenth of the UNet's learning rate.
TEXT_LR_SCALE = 0.1
# The first BASE_STEPS follow one warm-up + cosine schedule. Then continuation phases, each a learning-
# rate restart (warm-up 200, cosine to 10 % over `period` steps): (first step, end step, peak LR, period).
# From BASE_STEPS on, half of each batch's timesteps are drawn from the noisy half of the schedule
# (t >= HIGH_NOISE_FROM), where the layout and the object's colour are decided (measured on 48 held-in
# prompts at 256 px, DDIM 20 steps: object colour 8 % at step 12,000, 25 % at 18,000, 35 % at 24,000,
# 48 % at 28,000). The 24,000-30,000 phase was cut at 28,000, where the pooled-text embedding joined;
# the 46,000-62,000 phase was cut at 60,000 (its learning rate already at 13 % of the peak). The 60,000-71,000
# phase is a whole cosine (object colour 81 % -> 90 % on 48 held-in prompts at 256 px; see training/README.md).
BASE_STEPS = 12000
PHASES = ((12000, 18000, 2e-4, 6000), (18000, 24000, 1.5e-4, 6000), (24000, 28000, 1.2e-4, 6000),
          (28000, 46000, 2e-4, 18000), (46000, 60000, 1.5e-4, 16000), (60000, 71000, 1.5e-4, 11000))
HIGH_NOISE_FRAC = 0.5
HIGH_NOISE_FROM = 500
# The UNet's pooled-text embedding (models.UNetConfig.pooled_text) trains from this step on; before it,
# it is frozen at its zero output, so the UNet is exactly the one the first 28,000 steps made without it.
# Measured at step 28,000 without it: object colour 48 %, shape 21 %; the shape word moved the x0
# estimate by 2-7 % (`recipe.py probe`) — cross-attention sits at the 8x8 and 4x4 latent levels only,
# where a medium object is two latent pixels wide, too coarse to say its outline. Measured at 46,000: it
# did not measurably help (zeroing its output: colour 62 -> 58 %, shape 17 -> 25 %, within the noise).
POOLED_FROM = 28000


def learning_rate(step: int, steps: int) -> float:
    for start, end, peak, period in PHASES:
        if start <= step < end:
            k = step - start
            return peak * min(1.0, (k + 1) / 200) * (0.5 * (1 + math.cos(math.pi * k / period)) * 0.9 + 0.1)
    base = min(steps, BASE_STEPS)
    return 4e-4 * min(1.0, (step + 1) / 300) * (0.5 * (1 + math.cos(math.pi * step / base)) * 0.9 + 0.1)


def sample_timesteps(step: int, n: int, rng: np.random.Generator, device: str) -> torch.Tensor:
    if step < BASE_STEPS:
        return torch.randint(0, NUM_TRAIN_TIMESTEPS, (n,), device=device)
    high = torch.from_numpy(rng.random(n) < HIGH_NOISE_FRAC)
    t = torch.where(high, torch.from_numpy(rng.integers(HIGH_NOISE_FROM, NUM_TRAIN_TIMESTEPS, n)),
                    torch.from_numpy(rng.integers(0, NUM_TRAIN_TIMESTEPS, n)))
    return t.to(device)


def stage_unet(work: Path, device: str, steps: int, minutes: float, batch_pixels: int = 16 * 32 * 32) -> int:
    """Train (or resume) the text encoder and UNet for up to `minutes`; returns the step reached."""
    setup_threads()
    torch.manual_seed(SEED)
    tok = load_tokenizer(work)
    factor = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    data = []
    for lh, lw, _ in BUCKETS:
        d = torch.load(work / "latents" / f"{lh}x{lw}.pt")
        data.append((d["latents"], d["ids"]))
    weights = np.array([len(d[0]) * d[0].shape[2] * d[0].shape[3] for d in data], np.float64)
    weights /= weights.sum()
    empty = torch.tensor(tok.encode("")[0], dtype=torch.int32)

    text = TextEncoder(TextConfig(vocab_size=len(tok.vocab))).to(device)
    pre = load_sharded(work / "clip")
    if pre:
        text.load_state_dict(unprefixed("text", pre[0]))
    unet = UNet(UNetConfig()).to(device)
    pooled = list(unet.text_embedding.parameters())
    main = [p for n, p in unet.named_parameters() if not n.startswith("text_embedding.")]
    params = list(text.parameters()) + main + pooled
    names = text_unet_names(text, unet)  # the same order: the pooled-text embedding is unet.parameters()' last
    opt = torch.optim.AdamW([{"params": list(text.parameters()), "scale": TEXT_LR_SCALE},
                             {"params": main, "scale": 1.0}], lr=4e-4, weight_decay=0.01)
    ema = {n: p.detach().clone() for n, p in zip(names, params)}
    start = 0
    ck = load_sharded(work / "unet")
    if ck:
        state, meta = ck
        text.load_state_dict(unprefixed("text", state))
        load_unet_weights(unet, state)
        saved = ema_by_name(state, names)
        ema = {n: saved[n].to(device) if n in saved else p.detach().clone() for n, p in zip(names, params)}
        if len(meta["optimizer"]["param_groups"]) == 3:
            opt.add_param_group({"params": pooled, "scale": 1.0})
        load_optimizer_state(opt, {k: v.to(device) for k, v in state.items()}, meta["optimizer"])
        start = meta["step"]

    def pooled_trains(step: int) -> None:
        for p in pooled:
            p.requires_grad_(step >= POOLED_FROM)
        if step >= POOLED_FROM and len(opt.param_groups) == 2:
            opt.add_param_group({"params": pooled, "scale": 1.0, "lr": learning_rate(step, steps)})

    abar = alphas_cumprod().to(device)
    deadline = Deadline(minutes)
    step, t0, hist = start, time.time(), []
    while step < steps and not deadline.passed():
        pooled_trains(step)
        lr = learning_rate(step, steps)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        rng = np.random.default_rng(SEED * 31 + step)
        b = int(rng.choice(len(data), p=weights))
        lat_all, ids_all = data[b]
        n = max(2, batch_pixels // (lat_all.shape[2] * lat_all.shape[3]))
        idx = torch.from_numpy(rng.integers(0, len(lat_all), n))
        x0 = lat_all[idx].float().to(device) * factor
        ids = ids_all[idx].clone()
        drop = torch.from_numpy(rng.random(n) < 0.1)  # caption dropout for classifier-free guidance
        ids[drop] = empty
        t = sample_timesteps(step, n, rng, device)
        pyramid = PYRAMID_STEPS[0] <= step < PYRAMID_STEPS[1]
        white = pyramid_noise(tuple(x0.shape), rng, device) if pyramid else torch.randn_like(x0)
        noise = white + OFFSET_NOISE * torch.randn(n, x0.shape[1], 1, 1, device=device)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise  # q(x_t | x_0), Ho et al. 2020 eq. 4
        eps = unet(xt, t, text(ids.to(device)))
        per_sample = (eps - noise).pow(2).mean(dim=(1, 2, 3))  # epsilon prediction, Ho et al. 2020 eq. 14
        snr = abar[t] / (1 - abar[t])
        loss = (per_sample * snr.clamp(max=MIN_SNR_GAMMA) / snr).mean()
        step += 1
        step_with_ema(opt, loss, params, ema, list(zip(names, params)), step)
        hist.append(loss.item())
        if step % 100 == 0:
            print(f"unet step {step}/{steps} loss {np.mean(hist[-100:]):.4f} lr {lr:.2e} "
                  f"{(time.time() - t0) / (step - start):.2f}s/step", flush=True)
        if step % 1000 == 0:
            _save_unet(work, text, unet, ema, opt, step)
    _save_unet(work, text, unet, ema, opt, step)
    print(f"unet: saved at step {step}")
    return step


def _save_unet(work: Path, text: TextEncoder, unet: UNet, ema: dict[str, torch.Tensor], opt, step: int) -> None:
    flat, opt_meta = optimizer_state(opt)
    state = {**prefixed("text", text.state_dict()), **prefixed("unet", unet.state_dict()), **prefixed("ema", ema), **flat}
    save_sharded(state, work / "unet", {"step": step, "text": TextConfig(vocab_size=text.cfg.vocab_size).__dict__,
                                         "unet": UNetConfig().__dict__, "optimizer": opt_meta})
