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
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from . import regions, world
from .common import alphas_cumprod, setup_threads, NUM_TRAIN_TIMESTEPS
from .checkpoints import load_model, load_tokenizer, load_vae
from .models import TextEncoder, UNet
from .quantize import int8_copy

PALETTE = np.array(list(world.COLOURS.values()), np.float32)
NAMES = list(world.COLOURS)
TEMPLATES = {s: world.shape_mask(s, 96) for s in world.SHAPES}


# ------------------------------------------------------------------ sampling
@dataclass
class Regional:
    """A batch's regional prompts (shapes/regions.py): each picture's captions' token ids [n, R, 77] and points.
    A picture with fewer regions (or none: its prompt drawn whole) repeats its last caption at weight zero."""
    ids: torch.Tensor
    points: list[list[tuple[float, float]]]

    @staticmethod
    def of(tok, prompts: list[str], seeds: list[int]) -> "Regional | None":
        plans = [regions.plan(p, s) or [(p, (0.5, 0.5))] for p, s in zip(prompts, seeds)]
        if all(len(pl) == 1 for pl in plans):
            return None
        r = max(len(pl) for pl in plans)
        ids = [[tok.encode(pl[min(i, len(pl) - 1)][0])[0] for i in range(r)] for pl in plans]
        return Regional(torch.tensor(ids, dtype=torch.int32), [[pt for _, pt in pl] for pl in plans])

    def masks(self, h: int, w: int) -> torch.Tensor:
        r = self.ids.shape[1]
        out = torch.zeros(len(self.points), r, 1, h, w)
        for i, pts in enumerate(self.points):
            out[i, :len(pts)] = regions.masks(pts, h, w)
        return out


# The two-pass sampler's strength: the share of the 20-step grid run again at the size asked for (diffusers'
# img2img `strength`: 0.4 starts at t = 351, the last 8 steps). Measured at 512 px from a 256-px layout: 0.4 kept one
# object and colour best of 0.4 / 0.55 / 0.7 (training/README.md, "Evaluation").
LAYOUT_STRENGTH = 0.4
# Prompts that name two or three objects are drawn with regional prompts (shapes/regions.py): the pack's default
# (`export` writes it into the manifest's defaults.regions), so the eval draws them as the app does.
REGIONS = True
MAX_ASPECT_STRAY = 1.15  # how far a layout's aspect ratio may stray from the picture's


@torch.no_grad()
def sample(text: TextEncoder, unet: UNet, decoder: torch.nn.Module, ids: torch.Tensor, empty: torch.Tensor,
           width: int, height: int, seeds: list[int], steps: int = 20, guidance: float = 7.5,
           scaling: float = 1.0, layout: tuple[int, int] | None = None, strength: float = LAYOUT_STRENGTH,
           regional: Regional | None = None) -> np.ndarray:
    """DDIM pictures of width x height. With `layout` (a smaller width, height — a size the UNet was trained at),
    two passes, as SD front-ends' "hires fix": the picture is drawn at `layout`, its latents upscaled
    (bilinear) to the size asked for, noised to the grid's timestep at `strength` (diffusers' img2img: the first
    steps - int(steps * strength) timesteps skipped) and denoised there on the rest of the grid. With `regional`,
    the first pass draws each named object from its own caption in its own region (shapes/regions.py)."""
    return decode(decoder, sample_latents(text, unet, ids, empty, width, height, seeds, steps, guidance, layout, strength,
                                          regional), scaling)


def layout_for(width: int, height: int, side: int, multiple: int = 64) -> tuple[int, int] | None:
    """The size a width x height picture is laid out at before its second pass (as the app's `layoutFor`): none
    where it is no larger than side x side; else the largest size in side x side's area, each side a multiple of
    `multiple`, whose aspect ratio is within 15 % of the picture's; where that area holds none (3:2 at 128 px), the
    largest within twice the area whose shorter side is no longer than `side` (192x128); else the closest ratio
    in the area (the larger of two as close)."""
    area = side * side
    if width * height <= area:
        return None
    target = math.log(width / height)
    best, best_key = None, (math.inf, math.inf)
    for w in range(multiple, 2 * area // multiple + 1, multiple):
        for h in range(multiple, 2 * area // w + 1, multiple):
            stray = abs(math.log(w / h) - target)
            near = stray <= math.log(MAX_ASPECT_STRAY) + 1e-12
            if w * h <= area:
                key = (0, -w * h + stray * 1e-3) if near else (2, stray - w * h * 1e-9)
            elif near and min(w, h) <= side:
                key = (1, -w * h + stray * 1e-3)
            else:
                continue
            if key < best_key:
                best, best_key = (w, h), key
    return best


@torch.no_grad()
def sample_latents(text: TextEncoder, unet: UNet, ids: torch.Tensor, empty: torch.Tensor, width: int, height: int,
                   seeds: list[int], steps: int, guidance: float, layout: tuple[int, int] | None = None,
                   strength: float = LAYOUT_STRENGTH, regional: Regional | None = None) -> torch.Tensor:
    """`sample`'s latents, before the VAE."""
    n = len(seeds)
    cond = text(ids)
    uncond = text(empty.expand(n, -1))
    ctx = torch.cat([uncond, cond])
    ratio = NUM_TRAIN_TIMESTEPS // steps
    timesteps = (np.arange(steps) * ratio).round()[::-1].astype(np.int64) + 1  # "leading", steps_offset 1
    w0, h0 = layout or (width, height)
    x = torch.stack([torch.randn(4, h0 // 8, w0 // 8, generator=torch.Generator().manual_seed(s)) for s in seeds])
    if regional is not None:
        conds = [text(regional.ids[:, r]) for r in range(regional.ids.shape[1])]
        x = ddim(unet, x, torch.cat([uncond] + conds), timesteps, guidance, regional.masks(h0 // 8, w0 // 8))
    else:
        x = ddim(unet, x, ctx, timesteps, guidance)
    if layout:
        up = torch.nn.functional.interpolate(x, size=(height // 8, width // 8), mode="bilinear", align_corners=False)
        # 40 % of the steps rounded up, as the app (diffusers rounds down: at 4 steps, one step at t = 1); 8 of 20
        rest = timesteps[steps - math.ceil(round(steps * strength, 6)):]
        # the second pass's noise: seeded apart from the first's (seed + 2^20)
        noise = torch.stack([torch.randn(4, height // 8, width // 8, generator=torch.Generator().manual_seed(s + 2 ** 20))
                             for s in seeds])
        if len(rest):
            a = alphas_cumprod().double()[rest[0]]
            x = ddim(unet, (a.sqrt() * up + (1 - a).sqrt() * noise).float(), ctx, rest, guidance)
        else:
            x = up
    return x


@torch.no_grad()
def ddim(unet: UNet, x: torch.Tensor, ctx: torch.Tensor, timesteps: np.ndarray, guidance: float,
         masks: torch.Tensor | None = None) -> torch.Tensor:
    """DDIM (eta = 0) with classifier-free guidance through `timesteps` (descending); ctx = [uncond, cond], or
    with `masks` [n, R, 1, h, w] [uncond, cond_1 … cond_R]: the conditional ε is Σ_r masks_r ε(cond_r)."""
    abar = alphas_cumprod().double()
    k = 2 if masks is None else 1 + masks.shape[1]
    for i, t in enumerate(timesteps):
        es = unet(torch.cat([x] * k), torch.tensor([float(t)]), ctx).chunk(k)
        e_u = es[0]
        e_c = es[1] if masks is None else sum(masks[:, r] * es[1 + r] for r in range(k - 1))
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
    mask = ((f - bg_rgb) ** 2).sum(-1) > 60 ** 2
    labels, n = ndimage.label(mask)
    areas = ndimage.sum(mask, labels, range(1, n + 1)) if n else np.array([])
    min_area = 0.002 * h * w
    regions = [i + 1 for i in np.argsort(-areas, kind="stable") if areas[i] >= min_area]
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
    for name in TEMPLATES:
        tr = template(name)
        iou = (region & tr).sum() / max(1, (region | tr).sum())
        if iou > best_iou:
            best, best_iou = name, iou
    return best


def template(name: str) -> np.ndarray:
    """A shape's silhouette as classify_shape compares it: cropped to its bounding box, 48x48."""
    t = TEMPLATES[name]
    ys, xs = np.nonzero(t)
    tc = t[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.asarray(Image.fromarray(tc.astype(np.uint8) * 255).resize((48, 48), Image.BILINEAR)) > 127


def write_judge_fixture(out: Path, size: int = 128) -> None:
    """For the app's tests, which judge what the browser drew by these same rules (test/image-checks.ts's
    judgeObjects): the six 48x48 templates, and renders of the world — every shape in four colours, sizes
    and places, and two two-object scenes — as PNGs with this judge's verdicts."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    renders = []
    scenes = []
    for i, shape in enumerate(world.SHAPES):
        for k, sz in enumerate((None, "small", "large", None)):
            colour = NAMES[(3 * i + k) % len(NAMES)]
            bg = NAMES[(3 * i + k + 5) % len(NAMES)]
            scenes.append(world.Scene(bg, [world.Obj(colour, shape, sz, None)]))
    scenes.append(world.Scene("white", [world.Obj("blue", "square", None, None), world.Obj("red", "heart", None, None)]))
    scenes.append(world.Scene("black", [world.Obj("yellow", "star", None, None), world.Obj("green", "ring", None, None)]))
    for j, scene in enumerate(scenes):
        assert world._place(scene.objects, rng, 1.0)
        img = world.render(scene, size, size)
        name = f"{j:02d}.png"
        Image.fromarray(img).save(out / name)
        renders.append({"file": name, "background": scene.background,
                        "objects": [{"colour": o.colour, "shape": o.shape} for o in scene.objects],
                        "verdict": judge(img)})
    # and the recipe's sample pictures, drawn by a model (soft edges, stray pixels): the judge's verdicts on them
    samples = sorted((Path(__file__).resolve().parents[1] / "samples").glob("*.png"))
    drawn = [{"file": f"training/samples/{p.name}", "verdict": judge(np.asarray(Image.open(p).convert("RGB")))}
             for p in samples]
    # Pillow's bilinear resize of masks that shrink, grow and change aspect, as classify_shape resizes a region
    mrng = np.random.default_rng(11)
    resized = []
    for h, w in ((96, 96), (5, 7), (30, 70), (61, 23), (48, 48)):
        yy, xx = np.mgrid[0:h, 0:w]
        m = (((yy - h / 2) / (h / 2.2)) ** 2 + ((xx - w / 2) / (w / 2.5)) ** 2 < 1) ^ (mrng.random((h, w)) < 0.15)
        r = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((48, 48), Image.BILINEAR)) > 127
        resized.append({"h": h, "w": w, "mask": ["".join("1" if v else "0" for v in row) for row in m],
                        "resized": ["".join("1" if v else "0" for v in row) for row in r]})
    (out / "judge.json").write_text(json.dumps({
        "resized": resized,
        "samples": drawn,
        "about": "Written by training/recipe.py fixtures (shapes/evaluate.py write_judge_fixture): the recipe's judge's "
                 "templates and its verdicts on renders of the world.",
        "palette": {n: list(c) for n, c in world.COLOURS.items()},
        "templates": {n: ["".join("1" if v else "0" for v in row) for row in template(n)] for n in world.SHAPES},
        "renders": renders}) + "\n")


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
        res["one"] = len(objs) == 1  # one object asked for, one drawn (at untrained sizes UNets repeat it)
        if o.position:
            col, row = world.POSITIONS[o.position]
            res["position"] = bool(objs) and (min(2, int(objs[0]["cx"] * 3)), min(2, int(objs[0]["cy"] * 3))) == (col, row)
    else:
        res["count"] = len(objs) == len(scene.objects)
        res["colour"] = sorted(o["colour"] for o in objs) == sorted(o.colour for o in scene.objects)
        res["shapes"] = sorted(o["shape"] for o in objs) == sorted(o.shape for o in scene.objects)
        # each object in its own colour: "a red star and a blue circle", not a blue star and a red circle
        res["pairs"] = sorted((o["colour"], o["shape"]) for o in objs) == sorted((o.colour, o.shape) for o in scene.objects)
    return res


def mean_scores(scores: list[dict]) -> dict:
    """Each measure's share right, over the prompts that judge it."""
    keys = list(dict.fromkeys(k for sc in scores for k in sc))
    return {k: float(np.mean([sc[k] for sc in scores if k in sc])) for k in keys}


# ------------------------------------------------------------------ prompt sets
# Prompts as people type them, for `typed`: articles, bare nouns, capitals, punctuation, colour unsaid.
TYPED = ("{a} {c} {s}", "{c} {s}", "{A} {C} {S}.", "a {s}", "{c} {s} on {bg}", "A {c} {s}, {bg} background!")


def prompt_set(kind: str, n: int, seed: int) -> list[tuple[world.Scene, str]]:
    """Judged prompts of one kind: held_in / held_out single objects, two / three objects, position (a named grid
    cell), typed (TYPED's forms)."""
    rng = np.random.default_rng(seed)
    out: list[tuple[world.Scene, str]] = []
    held = sorted(world.HELD_OUT)
    while len(out) < n:
        if kind in ("two", "three"):
            pair = []
            while len(pair) < (2 if kind == "two" else 3):
                c, s = NAMES[rng.integers(len(NAMES))], world.SHAPES[rng.integers(len(world.SHAPES))]
                if (c, s) not in world.HELD_OUT and all(p[0] != c for p in pair):
                    pair.append((c, s))
            objs = [world.Obj(c, s, None, None) for c, s in pair]
            named = [f"a {c} {s}" for c, s in pair]
            text = f"{', '.join(named[:-1])} and {named[-1]}"
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


EVAL_COUNTS = {"held_in": 48, "held_out": 24, "two": 32, "three": 24, "position": 36, "typed": 36}
# The quick runs (`--quick`: the recipe's tests) check what is written, not how well: DDIM at 4 steps there.
QUICK_STEPS = 4
QUICK_COUNTS = {"held_in": 4, "held_out": 2, "two": 2, "three": 2, "position": 2, "typed": 2}
# Kinds that name several objects are also drawn whole (`two-whole`: one caption, no regions), what the UNet
# binds by itself.
MANY = ("two", "three")


def render_set(te, un, de, tok, prompts: list[tuple[world.Scene, str]], size: tuple[int, int], guidance: float,
               scaling: float, seed0: int = 0, layout: tuple[int, int] | None = None,
               regional: bool = REGIONS, steps: int = 20) -> np.ndarray:
    """The pictures of a prompt set (noise seed seed0 + i for prompt i), DDIM `steps` steps, in batches of 8 (two
    passes, from a picture drawn at `layout`, where given; prompts that name two or three objects with regional
    prompts, unless `regional` is False)."""
    empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
    ids = torch.tensor([tok.encode(p)[0] for _, p in prompts], dtype=torch.int32)
    n = len(prompts)
    out = []
    for i in range(0, n, 8):
        seeds = list(range(seed0 + i, seed0 + min(n, i + 8)))
        reg = Regional.of(tok, [p for _, p in prompts[i:i + 8]], seeds) if regional else None
        out.append(sample(te, un, de, ids[i:i + 8], empty, size[0], size[1], seeds, steps=steps, guidance=guidance,
                          scaling=scaling, layout=layout, regional=reg))
    return np.concatenate(out)


def kind_score(row: dict) -> float:
    """One figure for a prompt kind: the mean of what it judges (background, colour, shape, position, count…).
    Not `one` (one object drawn for one asked): the shipped guidance was chosen without it, and it stays
    comparable."""
    return float(np.mean([v for k, v in row.items() if k != "one"]))


def stage_guidance(work: Path, source: str, quick: bool = False,
                   scales: tuple[float, ...] = (3.0, 4.5, 6.0, 7.5)) -> float:
    """Choose the pack's default guidance by measurement: each scale on 24 prompts of each kind a person
    types most (held-in single objects, as typed, with a position, two objects) at 256 and 512 px, fp32,
    DDIM 20 (512 px in two passes from 256 where the weights lay pictures out there, as the app draws it); the scale with the best mean of the kinds' scores wins (the lower on a tie). Its prompts and
    noise seeds are not the eval's (which then reports the chosen scale on pictures it was not chosen on).
    Written to work/guidance.json, which `export` puts into the pack's defaults."""
    setup_threads()
    tok = load_tokenizer(work)
    text, unet, step = load_model(work, source)
    decoder = load_vae(work).decoder
    scaling = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    from .export import layout_side

    n, sizes = (2, [64]) if quick else (24, [256, 512])
    lay = layout_side(source)
    kinds = ("held_in", "typed", "position", "two")
    table: dict = {}
    for g in scales[-2:] if quick else scales:
        rows = {}
        for size in sizes:
            for kind in kinds:
                prompts = prompt_set(kind, n, seed=1099 + len(kind))
                # sizes above the pack's layout side as the app draws them: in two passes from a layout there
                two = lay is not None and size > lay
                imgs = render_set(text, unet, decoder, tok, prompts, (size, size), g, scaling, seed0=1000,
                                  layout=(lay, lay) if two else None)
                rows[f"{kind} {size}px" + (f"/{lay}" if two else "")] = mean_scores([score(sc, judge(im)) for (sc, _), im in zip(prompts, imgs)])
        table[g] = {"score": float(np.mean([kind_score(r) for r in rows.values()])), "kinds": rows}
        print(f"guidance {g:g}: score {table[g]['score']:.3f}  " +
              "  ".join(f"{k} {kind_score(r):.0%}" for k, r in rows.items()), flush=True)
    chosen = max(table, key=lambda g: (round(table[g]["score"], 6), -g))
    (work / "guidance.json").write_text(json.dumps({"chosen": chosen, "source": source, "training_steps": step,
                                                    "prompts_per_kind": n, "sizes": sizes, "layout_side": lay,
                                                    "table": {str(g): v for g, v in table.items()}}, indent=1) + "\n")
    print(f"guidance: {chosen:g} (written to {work / 'guidance.json'})")
    return chosen


def stage_eval(work: Path, source: str, quick: bool = False, kinds: list[str] | None = None) -> None:
    """The adherence table at 256 and 512 px, fp32 and int8, at the pack's default guidance, and int8's PSNR.
    With `kinds`, only those prompt kinds are drawn again: their rows replace theirs in the work folder's
    eval_report.json (of the same weights), whose other rows, PSNR and examples stay as they were measured."""
    from .export import default_guidance, layout_side

    setup_threads()
    tok = load_tokenizer(work)
    text, unet, step = load_model(work, source)
    path = work / "eval_report.json"
    kept = json.loads(path.read_text()) if kinds is not None else None
    if kept is not None and (kept["source"], kept["training_steps"]) != (source, step):
        raise SystemExit(f"{path} is of {kept['source']} at step {kept['training_steps']:,}, not {source} at "
                         f"{step:,}: run the whole eval")
    vae = load_vae(work)
    scaling = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    guidance = default_guidance(work, source)
    side = layout_side(source)
    models = {"fp32": (text, unet, vae.decoder),
              "int8": (int8_copy(text), int8_copy(unet), int8_copy(vae.decoder))}
    sizes = [256] if quick else [256, 512]
    # a pack that composes below the first size (the layout lineage: 128 px) draws every size from a sketch there
    sketch = side if side and side < sizes[0] else None
    counts = QUICK_COUNTS if quick else EVAL_COUNTS
    steps = QUICK_STEPS if quick else 20
    table: dict = dict(kept["adherence"]) if kept else {}
    images: dict = {}
    # Each size as the app draws it — above the pack's layout side in two passes from a sketch there — and, where
    # the weights compose at the first size (stage 7: 256 px), the larger ones in one pass too: how they do alone.
    if sketch:
        passes = [(size, sketch) for size in sizes]
    else:
        passes = [(size, None) for size in sizes] + [(size, sizes[0]) for size in sizes[1:]]
    # Several objects twice: as the app draws them (each object's caption in its own region) and whole, as one
    # caption (`two-whole`): what the UNet binds by itself.
    runs = [r for kind, n in counts.items() if kinds is None or kind in kinds
            for r in [(kind, kind, n, True)] + ([(f"{kind}-whole", kind, n, False)] if kind in MANY else [])]
    for kind, source_kind, n, regional in runs:
        prompts = prompt_set(source_kind, n, seed=99 + len(source_kind))
        for size, lay in passes:
            for prec, (te, un, de) in models.items():
                imgs = render_set(te, un, de, tok, prompts, (size, size), guidance, scaling, layout=lay and (lay, lay),
                                  regional=regional, steps=steps)
                key = f"{size}px" if lay is None else f"{size}px/{lay}"
                if regional and (lay is None or lay < sizes[0]):  # the pictures int8's PSNR is measured on: one per size
                    images[(kind, size, prec)] = imgs
                row = mean_scores([score(s, judge(im)) for (s, _), im in zip(prompts, imgs)])
                table[f"{kind} {key} {prec}"] = {**row, "n": n}
                print(f"{kind:8s} {key} {prec}: " + "  ".join(f"{k} {v:.0%}" for k, v in row.items()), flush=True)
    if kept is not None:
        # the kinds in the order the whole eval writes them; PSNR and examples as they were measured
        order = [k for k in EVAL_COUNTS for k in ([k, f"{k}-whole"] if k in MANY else [k])]
        report = {**kept, "adherence": dict(sorted(table.items(), key=lambda kv: order.index(kv[0].split()[0])))}
    else:
        report = _whole_report(source, step, tok, models, sizes, sketch, counts, guidance, scaling, table, images, quick,
                               steps)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(eval_table(report))


def _whole_report(source: str, step: int, tok, models: dict, sizes: list[int], sketch: int | None, counts: dict,
                  guidance: float, scaling: float, table: dict, images: dict, quick: bool, steps: int = 20) -> dict:
    """The whole eval's report: its table, int8's PSNR over every kind's pictures, the "Try: …" examples."""
    psnr = {}
    for size in sizes:
        a = np.concatenate([images[(k, size, "fp32")] for k in counts]).astype(np.float64)
        b = np.concatenate([images[(k, size, "int8")] for k in counts]).astype(np.float64)
        mse = ((a - b) ** 2).reshape(len(a), -1).mean(1)
        psnr[f"{size}px"] = float(np.median(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))
    print("int8 vs fp32 PSNR (median over prompts):", psnr)
    # the prompts the app offers ("Try: …"), int8, at the pack's trained size
    examples = judge_examples(*models["int8"], tok, sizes[0], guidance, scaling, seeds=2 if quick else 8,
                              layout=sketch, steps=steps)
    for r in examples:
        print(f"example {r['prompt']!r}: {r['right']:.0%} of its pictures right in every measure", flush=True)
    lay = sketch or sizes[0]
    two_pass = {"two_pass": f"'{sizes[-1]}px/{lay}': drawn at {lay} px, finished at {sizes[-1]} px from "
                            f"strength {LAYOUT_STRENGTH:g}"} if len(sizes) > 1 or lay < sizes[0] else {}
    return {"source": source, "training_steps": step, "sampler": f"DDIM, {steps} steps, guidance {guidance:g}", **two_pass,
            "examples": examples, "adherence": table, "psnr_int8_vs_fp32_db": psnr}


def eval_table(report: dict) -> str:
    """`eval_report.json` as the markdown table training/README.md shows."""
    lines = ["| prompts | size | weights | background | colour | shape | one object | position | count | both shapes | each its own |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, row in report["adherence"].items():
        kind, size, prec = key.split()
        px, _, lay = size.partition("/")
        shown = px[:-2] + (f", two passes from {lay}" if lay else "")
        cells = [f"{row[k]:.0%}" if k in row else "—" for k in ("background", "colour", "shape", "one", "position", "count", "shapes", "pairs")]
        lines.append(f"| {kind} ({row['n']}) | {shown} | {prec} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SAMPLE_PROMPTS = [
    ("a red circle on a blue background", 512, 512),
    ("a yellow star in the top left on a black background", 512, 512),
    ("two purple triangles on a white background", 512, 512),
    ("a pink heart on the right on a gray background", 384, 256),
    ("a large orange ring in the centre on a black background", 256, 256),
    ("a green star on a yellow background", 512, 512),  # held-out pair
    ("a blue square and a red heart on a white background", 512, 512),
    ("Orange triangle.", 512, 512),  # as a person types it
]


# The prompts the app offers under its Generate button ("Try: …", the pack's examplePrompts): each in the world's
# own grammar, none a held-out pair, and each measured at the pack's default size and guidance over noise seeds
# 1-8 with the int8 weights (`judge_examples`, in `recipe.py eval`), so that what the app suggests is what the
# model draws.
EXAMPLE_PROMPTS: list[tuple[str, world.Scene]] = [
    ("a yellow star on a blue background", world.Scene("blue", [world.Obj("yellow", "star", None, None)])),
    ("a large purple triangle on a yellow background", world.Scene("yellow", [world.Obj("purple", "triangle", "large", None)])),
    ("a green circle in the top right on a white background",
     world.Scene("white", [world.Obj("green", "circle", None, "top right")])),
    ("a large pink heart in the centre on a blue background",
     world.Scene("blue", [world.Obj("pink", "heart", "large", "centre")])),
    # two objects, drawn apart (regional prompts, the pack's image.regions)
    ("a red circle and a yellow triangle on a blue background",
     world.Scene("blue", [world.Obj("red", "circle", None, None), world.Obj("yellow", "triangle", None, None)])),
]


def judge_examples(te, un, de, tok, size: int, guidance: float, scaling: float, seeds: int = 8,
                   layout: int | None = None, steps: int = 20) -> list[dict]:
    """Each example prompt drawn with noise seeds 1..`seeds` (in two passes from a `layout`-side sketch, where given,
    as the app draws a pack that composes there): the share of its pictures the judge finds right in every measure
    (background, colour, shape, position, one object)."""
    rows = []
    for prompt, scene in EXAMPLE_PROMPTS:
        imgs = render_set(te, un, de, tok, [(scene, prompt)] * seeds, (size, size), guidance, scaling, seed0=1,
                          layout=(layout, layout) if layout else None, steps=steps)
        scores = [score(scene, judge(im)) for im in imgs]
        rows.append({"prompt": prompt, "size": size, "guidance": guidance, "right": float(np.mean([all(s.values()) for s in scores])),
                     **mean_scores(scores)})
    return rows


def stage_samples(work: Path, out: Path, source: str, quick: bool = False) -> None:
    """Draw the sample images shown in training/README.md, with the int8 weights the pack ships, at its
    default guidance; the judge's verdict on each goes to samples.json beside them."""
    from .export import default_guidance, layout_side

    setup_threads()
    tok = load_tokenizer(work)
    text, unet, _ = load_model(work, source)
    vae = load_vae(work)
    te, un, de = int8_copy(text), int8_copy(unet), int8_copy(vae.decoder)
    scaling = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    guidance = default_guidance(work, source)
    side = layout_side(source)
    empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    verdicts = []
    for i, (prompt, w, h) in enumerate(SAMPLE_PROMPTS):
        ids = torch.tensor([tok.encode(prompt)[0]], dtype=torch.int32)
        # as the app draws it: above the pack's layout side, in two passes
        layout = side and layout_for(w, h, side)
        img = sample(te, un, de, ids, empty, w, h, [i + 1], steps=QUICK_STEPS if quick else 20, guidance=guidance,
                     scaling=scaling, layout=layout,
                     regional=Regional.of(tok, [prompt], [i + 1]) if REGIONS else None)[0]
        name = f"{i + 1}-" + "-".join(prompt.lower().replace(",", "").replace(".", "").split()[:6]) + ".png"
        Image.fromarray(img).save(out / name, optimize=True)
        verdict = judge(img)
        verdicts.append({"file": name, "prompt": prompt, "size": [w, h], "seed": i + 1, "guidance": guidance,
                         **({"layout": list(layout), "strength": LAYOUT_STRENGTH} if layout else {}),
                         "judge": verdict})
        print(name, verdict)
    (out / "samples.json").write_text(json.dumps(verdicts, indent=1) + "\n")
