"""Training stages: tokenizer vocabulary, VAE, latent data set, text encoder + UNet.

Every stage checkpoints into the work folder and resumes where it stopped, so it can run in slices of
at most ~10 minutes (the GPU machine's limit) or in one go on a CPU.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import bpe, world
from .common import (Deadline, alphas_cumprod, load_modules, load_optimizer_state, load_sharded, optimizer_state, prefixed,
                     save_sharded, setup_threads, unprefixed, NUM_TRAIN_TIMESTEPS)
from .models import AutoencoderKL, TextConfig, TextEncoder, UNet, UNetConfig, VaeConfig

SEED = 1234


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HWC -> float CHW in [-1, 1]."""
    return torch.from_numpy(img).permute(2, 0, 1).float() / 127.5 - 1.0


# ------------------------------------------------------------------ vocabulary
def stage_vocab(work: Path) -> None:
    rng = np.random.default_rng(SEED)
    corpus = [world.caption(world.sample_scene(rng, 256, 256, "any"), rng) for _ in range(5000)]
    vocab, merges = bpe.build_vocabulary(corpus, world.vocabulary_words())
    bpe.write_files(work / "tokenizer", vocab, merges)
    print(f"vocab: {len(vocab)} tokens, {len(merges)} merges -> {work / 'tokenizer'}")


def load_tokenizer(work: Path) -> bpe.ClipTokenizer:
    return bpe.ClipTokenizer.from_files(work / "tokenizer")


# ------------------------------------------------------------------ VAE
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
    torch.manual_seed(SEED)
    vae = AutoencoderKL(VaeConfig()).to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    start = 0
    ck = load_sharded(work / "vae")
    if ck:
        state, meta = ck
        vae.load_state_dict(unprefixed("model", state))
        if "optimizer" in meta:
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


def load_vae(work: Path, device: str = "cpu") -> AutoencoderKL:
    state, _ = load_sharded(work / "vae")  # type: ignore[misc]
    vae = AutoencoderKL(VaeConfig())
    vae.load_state_dict(unprefixed("model", state))
    return vae.to(device).eval()


# ------------------------------------------------------------------ latent data set
# (latent height, latent width, number of scenes): most at 256 px, fewer large ones (cost ~ area).
BUCKETS = ((32, 32, 6000), (32, 48, 1400), (48, 32, 1400), (40, 40, 1000), (48, 48, 800), (64, 64, 500),
           (32, 64, 300), (64, 32, 300))


def stage_latents(work: Path, device: str, scale: float = 1.0) -> None:
    setup_threads()
    vae = load_vae(work, device)
    tok = load_tokenizer(work)
    out = work / "latents"
    out.mkdir(parents=True, exist_ok=True)
    stats = []
    for lh, lw, n in BUCKETS:
        n = max(8, int(n * scale))
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
        torch.save({"latents": latents, "ids": torch.tensor(ids, dtype=torch.int32), "captions": caps}, path)
        stats.append(latents[:256].float())
        print(f"latents {lh}x{lw}: {len(caps)} scenes", flush=True)
    # SD's scaling factor was 1 / std of the KL-f8 latents (0.18215); measure ours the same way.
    allz = torch.cat([s.flatten() for s in stats])
    factor = float(1.0 / allz.std())
    (work / "vae_scaling.json").write_text(json.dumps({"scaling_factor": factor, "latent_mean": float(allz.mean())}))
    print(f"scaling_factor {factor:.5f} (latent mean {allz.mean():.4f})")


# ------------------------------------------------------------------ CLIP-style text pretraining
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
    ck = load_sharded(work / "clip")
    if ck:
        state, meta = ck
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


# ------------------------------------------------------------------ text encoder + UNet
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
    params = list(text.parameters()) + main + pooled  # the order of unet.parameters(): pooled-text last
    opt = torch.optim.AdamW([{"params": list(text.parameters()), "scale": TEXT_LR_SCALE},
                             {"params": main, "scale": 1.0}], lr=4e-4, weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    start = 0
    ck = load_sharded(work / "unet")
    if ck:
        state, meta = ck
        text.load_state_dict(unprefixed("text", state))
        load_unet_weights(unet, state)
        ema_state = unprefixed("ema", state)
        ema = [ema_state[str(i)].to(device) if str(i) in ema_state else p.detach().clone() for i, p in enumerate(params)]
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
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        hist.append(loss.item())
        if step % 100 == 0:
            print(f"unet step {step}/{steps} loss {np.mean(hist[-100:]):.4f} lr {lr:.2e} "
                  f"{(time.time() - t0) / (step - start):.2f}s/step", flush=True)
        if step % 1000 == 0:
            _save_unet(work, text, unet, ema, opt, step)
    _save_unet(work, text, unet, ema, opt, step)
    print(f"unet: saved at step {step}")
    return step


def _save_unet(work: Path, text: TextEncoder, unet: UNet, ema: list[torch.Tensor], opt, step: int) -> None:
    flat, opt_meta = optimizer_state(opt)
    state = {**prefixed("text", text.state_dict()), **prefixed("unet", unet.state_dict()),
             **prefixed("ema", {str(i): e for i, e in enumerate(ema)}), **flat}
    save_sharded(state, work / "unet", {"step": step, "text": TextConfig(vocab_size=text.cfg.vocab_size).__dict__,
                                         "unet": UNetConfig().__dict__, "optimizer": opt_meta})


def load_unet_weights(unet: UNet, state: dict[str, torch.Tensor]) -> None:
    """A checkpoint from before POOLED_FROM has no pooled-text embedding: it keeps its fresh zero output."""
    missing, unexpected = unet.load_state_dict(unprefixed("unet", state), strict=False)
    assert not unexpected and all(k.startswith("text_embedding.") for k in missing), (missing, unexpected)


def load_text_unet(work: Path, use_ema: bool = True, device: str = "cpu") -> tuple[TextEncoder, UNet, int]:
    state, meta = load_sharded(work / "unet")  # type: ignore[misc]
    text = TextEncoder(TextConfig(vocab_size=meta["text"]["vocab_size"]))
    unet = UNet(UNetConfig())
    text.load_state_dict(unprefixed("text", state))
    load_unet_weights(unet, state)
    if use_ema:
        ema = unprefixed("ema", state)
        params = list(text.parameters()) + list(unet.parameters())
        with torch.no_grad():
            for i, p in enumerate(params):
                if str(i) in ema:  # (a checkpoint from before POOLED_FROM: the pooled-text output stays zero)
                    p.copy_(ema[str(i)])
    return text.to(device).eval(), unet.to(device).eval(), meta["step"]
