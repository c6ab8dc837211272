"""Evaluation: does the model draw what it is asked? And how close is int8 to fp32?

The judge knows the world's geometry, so it needs no training: background = the palette colour nearest
the median of the image border; objects = connected regions that differ from the background; an
object's colour = palette colour nearest its median; its shape = the template (world.shape_mask,
scaled to the region's bounding box) with the best intersection-over-union; count = regions larger
than a quarter of the largest.

Sampling uses DDIM (Song et al. 2021) with SD 1.5's "leading" timesteps and classifier-free guidance
(Ho & Salimans 2022), in torch, on the same weights the pack ships: the int8 model is evaluated with
its weights dequantized exactly as the ONNX DequantizeLinear nodes do.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from . import world
from .common import alphas_cumprod, setup_threads, NUM_TRAIN_TIMESTEPS
from .checkpoints import load_text_unet, load_tokenizer, load_vae
from .models import TextEncoder, UNet
from .quantize import int8_copy

PALETTE = np.array(list(world.COLOURS.values()), np.float32)
NAMES = list(world.COLOURS)
TEMPLATES = {s: world.shape_mask(s, 96) for s in world.SHAPES}


# ------------------------------------------------------------------ sampling
@torch.no_grad()
def sample(text: TextEncoder, unet: UNet, decoder: torch.nn.Module, ids: torch.Tensor, empty: torch.Tensor,
           width: int, height: int, seeds: list[int], steps: int = 20, guidance: float = 7.5,
           scaling: float = 1.0) -> np.ndarray:
    n = len(seeds)
    cond = text(ids)
    uncond = text(empty.expand(n, -1))
    ctx = torch.cat([uncond, cond])
    x = torch.stack([torch.randn(4, height // 8, width // 8, generator=torch.Generator().manual_seed(s)) for s in seeds])
    ratio = NUM_TRAIN_TIMESTEPS // steps
    timesteps = (np.arange(steps) * ratio).round()[::-1].astype(np.int64) + 1  # "leading", steps_offset 1
    return decode(decoder, ddim(unet, x, ctx, timesteps, guidance), scaling)


@torch.no_grad()
def ddim(unet: UNet, x: torch.Tensor, ctx: torch.Tensor, timesteps: np.ndarray, guidance: float) -> torch.Tensor:
    """DDIM (eta = 0) with classifier-free guidance through `timesteps` (descending); ctx = [uncond, cond]."""
    abar = alphas_cumprod().double()
    for i, t in enumerate(timesteps):
        e_u, e_c = unet(torch.cat([x, x]), torch.tensor([float(t)]), ctx).chunk(2)
        e = e_u + guidance * (e_c - e_u)
        a_t = abar[t]
        a_prev = abar[timesteps[i + 1]] if i + 1 < len(timesteps) else abar[0]  # set_alpha_to_one=False
        x0 = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()  # DDIM eq. 12
        x = (a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e).float()
    return x


@torch.no_grad()
def decode(decoder: torch.nn.Module, latents: torch.Tensor, scaling: float) -> np.ndarray:
    img = decoder(latents / scaling)
    return ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


# ------------------------------------------------------------------ judge
def nearest_colour(rgb: np.ndarray) -> str:
    return NAMES[int(np.argmin(((PALETTE - rgb) ** 2).sum(1)))]


def judge(img: np.ndarray) -> dict:
    h, w, _ = img.shape
    f = img.astype(np.float32)
    b = max(2, min(h, w) // 25)
    border = np.concatenate([f[:b].reshape(-1, 3), f[-b:].reshape(-1, 3), f[:, :b].reshape(-1, 3), f[:, -b:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    mask = np.sqrt(((f - bg_rgb) ** 2).sum(-1)) > 60
    labels, n = ndimage.label(mask)
    areas = ndimage.sum(mask, labels, range(1, n + 1)) if n else np.array([])
    min_area = 0.002 * h * w
    regions = [i + 1 for i in np.argsort(-areas) if areas[i] >= min_area]
    if regions:
        regions = [r for r in regions if areas[r - 1] >= 0.25 * areas[regions[0] - 1]]
    objects = []
    for r in regions:
        m = labels == r
        ys, xs = np.nonzero(m)
        crop = m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        objects.append({"colour": nearest_colour(np.median(f[m], axis=0)), "shape": classify_shape(crop),
                        "cx": float(xs.mean() / w), "cy": float(ys.mean() / h), "area": float(m.mean())})
    return {"background": nearest_colour(bg_rgb), "objects": objects}


def classify_shape(crop: np.ndarray) -> str:
    best, best_iou = "circle", -1.0
    region = np.asarray(Image.fromarray(crop.astype(np.uint8) * 255).resize((48, 48), Image.BILINEAR)) > 127
    for name, t in TEMPLATES.items():
        ys, xs = np.nonzero(t)
        tc = t[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        tr = np.asarray(Image.fromarray(tc.astype(np.uint8) * 255).resize((48, 48), Image.BILINEAR)) > 127
        iou = (region & tr).sum() / max(1, (region | tr).sum())
        if iou > best_iou:
            best, best_iou = name, iou
    return best


def score(scene: world.Scene, verdict: dict) -> dict:
    """What the picture got right. A colour or background the prompt left unsaid ("a star") is not judged;
    a named position is right when the object's centre lies in that third of the picture along each axis."""
    objs = verdict["objects"]
    res = {"background": verdict["background"] == scene.background} if scene.background else {}
    if len(scene.objects) == 1:
        o = scene.objects[0]
        if o.colour:
            res["colour"] = bool(objs) and objs[0]["colour"] == o.colour
        res["shape"] = bool(objs) and objs[0]["shape"] == o.shape
        if o.position:
            col, row = world.POSITIONS[o.position]
            res["position"] = bool(objs) and (min(2, int(objs[0]["cx"] * 3)), min(2, int(objs[0]["cy"] * 3))) == (col, row)
    else:
        res["count"] = len(objs) == len(scene.objects)
        res["colour"] = sorted(o["colour"] for o in objs) == sorted(o.colour for o in scene.objects)
        res["shapes"] = sorted(o["shape"] for o in objs) == sorted(o.shape for o in scene.objects)
    return res


def mean_scores(scores: list[dict]) -> dict:
    """Each measure's share right, over the prompts that judge it."""
    keys = list(dict.fromkeys(k for sc in scores for k in sc))
    return {k: float(np.mean([sc[k] for sc in scores if k in sc])) for k in keys}


# ------------------------------------------------------------------ prompt sets
# Prompts as people type them, for `typed`: articles, bare nouns, capitals, punctuation, colour unsaid.
TYPED = ("{a} {c} {s}", "{c} {s}", "{A} {C} {S}.", "a {s}", "{c} {s} on {bg}", "A {c} {s}, {bg} background!")


def prompt_set(kind: str, n: int, seed: int) -> list[tuple[world.Scene, str]]:
    """Judged prompts of one kind: held_in / held_out single objects, two objects, position (a named grid cell),
    typed (TYPED's forms)."""
    rng = np.random.default_rng(seed)
    out: list[tuple[world.Scene, str]] = []
    held = sorted(world.HELD_OUT)
    while len(out) < n:
        if kind == "two":
            pair = []
            while len(pair) < 2:
                c, s = NAMES[rng.integers(len(NAMES))], world.SHAPES[rng.integers(len(world.SHAPES))]
                if (c, s) not in world.HELD_OUT and all(p[0] != c for p in pair):
                    pair.append((c, s))
            objs = [world.Obj(c, s, None, None) for c, s in pair]
            text = f"a {pair[0][0]} {pair[0][1]} and a {pair[1][0]} {pair[1][1]}"
        else:
            if kind == "held_out":
                c, s = held[len(out) % len(held)]
            else:
                c, s = NAMES[rng.integers(len(NAMES))], world.SHAPES[rng.integers(len(world.SHAPES))]
                if (c, s) in world.HELD_OUT:
                    continue
            objs = [world.Obj(c, s, None, None)]
            text = f"a {c} {s}"
        bg = NAMES[rng.integers(len(NAMES))]
        if any(o.colour == bg for o in objs):
            continue
        if kind == "position":
            cell = list(world.POSITIONS)[len(out) % len(world.POSITIONS)]
            objs[0].position = cell
            text += " " + world._POS_PHRASES[cell][0]
        if kind == "typed":
            form = TYPED[len(out) % len(TYPED)]
            o = objs[0]
            text = form.format(a="an" if o.colour[0] in "aeiou" else "a", A="An" if o.colour[0] in "aeiou" else "A",
                               c=o.colour, s=o.shape, C=o.colour.capitalize(), S=o.shape.capitalize(), bg=bg)
            if "{c}" not in form and "{C}" not in form:
                o.colour = ""
            out.append((world.Scene(bg if "{bg}" in form else "", objs), text))
            continue
        out.append((world.Scene(bg, objs), f"{text} on a {bg} background"))
    return out


def stage_eval(work: Path, pack: Path, quick: bool = False) -> None:
    setup_threads()
    tok = load_tokenizer(work)
    text, unet, step = load_text_unet(work)
    vae = load_vae(work)
    scaling = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    models = {"fp32": (text, unet, vae.decoder),
              "int8": (int8_copy(text), int8_copy(unet), int8_copy(vae.decoder))}
    empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
    sizes = [256] if quick else [256, 512]
    counts = {"held_in": 4, "held_out": 2, "two": 2} if quick else {"held_in": 48, "held_out": 24, "two": 32}
    table: dict = {}
    images: dict = {}
    for kind, n in counts.items():
        prompts = prompt_set(kind, n, seed=99 + len(kind))
        ids = torch.tensor([tok.encode(p)[0] for _, p in prompts], dtype=torch.int32)
        for size in sizes:
            for prec, (te, un, de) in models.items():
                imgs = []
                for i in range(0, n, 8):
                    imgs.append(sample(te, un, de, ids[i:i + 8], empty, size, size, list(range(i, min(n, i + 8))),
                                       scaling=scaling))
                imgs = np.concatenate(imgs)
                images[(kind, size, prec)] = imgs
                scores = [score(s, judge(im)) for (s, _), im in zip(prompts, imgs)]
                row = mean_scores(scores)
                table[f"{kind} {size}px {prec}"] = {**row, "n": n}
                print(f"{kind:8s} {size}px {prec}: " + "  ".join(f"{k} {v:.0%}" for k, v in row.items()), flush=True)
    psnr = {}
    for size in sizes:
        a = np.concatenate([images[(k, size, "fp32")] for k in counts]).astype(np.float64)
        b = np.concatenate([images[(k, size, "int8")] for k in counts]).astype(np.float64)
        mse = ((a - b) ** 2).reshape(len(a), -1).mean(1)
        psnr[f"{size}px"] = float(np.median(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))
    print("int8 vs fp32 PSNR (median over prompts):", psnr)
    report = {"training_steps": step, "sampler": "DDIM, 20 steps, guidance 7.5", "adherence": table,
              "psnr_int8_vs_fp32_db": psnr}
    (work / "eval_report.json").write_text(json.dumps(report, indent=1) + "\n")


SAMPLE_PROMPTS = [
    ("a red circle on a blue background", 512, 512),
    ("a small yellow star in the top left and a big green square, black background", 512, 512),
    ("two purple triangles on a white background", 512, 512),
    ("a pink heart on the right on a gray background", 384, 256),
    ("a large orange ring in the centre on a black background", 256, 256),
    ("a green star on a yellow background", 512, 512),  # held-out pair
]


def stage_samples(work: Path, out: Path) -> None:
    """Draw the sample images shown in training/README.md, with the int8 weights the pack ships."""
    setup_threads()
    tok = load_tokenizer(work)
    text, unet, _ = load_text_unet(work)
    vae = load_vae(work)
    te, un, de = int8_copy(text), int8_copy(unet), int8_copy(vae.decoder)
    scaling = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
    out.mkdir(parents=True, exist_ok=True)
    for i, (prompt, w, h) in enumerate(SAMPLE_PROMPTS):
        ids = torch.tensor([tok.encode(prompt)[0]], dtype=torch.int32)
        img = sample(te, un, de, ids, empty, w, h, [i + 1], scaling=scaling)[0]
        name = f"{i + 1}-" + "-".join(prompt.replace(",", "").split()[:6]) + ".png"
        Image.fromarray(img).save(out / name, optimize=True)
        print(name, judge(img))
