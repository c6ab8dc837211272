"""The "shapes" world: procedurally drawn scenes and captions from a small grammar.

A scene is a background colour and 1-3 flat, anti-aliased objects. Every caption is generated from
the scene, so the caption is true of the picture by construction; `Scene` keeps the ground truth the
judge (evaluate.py) checks generated images against.

Geometry is relative to the image (positions on a 3x3 grid, radii as a fraction of the shorter side),
so a caption means the same picture at every resolution the app offers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (245, 215, 40),
    "green": (40, 170, 70),
    "blue": (40, 90, 220),
    "purple": (140, 60, 190),
    "pink": (250, 140, 200),
    "brown": (130, 80, 40),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle", "star", "heart", "ring")
PLURAL = {s: s + "s" for s in SHAPES}
# Positions on a 3x3 grid: (column, row) in 0..2.
POSITIONS: dict[str, tuple[int, int]] = {
    "top left": (0, 0), "top": (1, 0), "top right": (2, 0),
    "left": (0, 1), "centre": (1, 1), "right": (2, 1),
    "bottom left": (0, 2), "bottom": (1, 2), "bottom right": (2, 2),
}
SIZES = ("small", "large")
# Radius as a fraction of the shorter image side.
RADIUS = {"small": (0.085, 0.11), "large": (0.19, 0.23), None: (0.11, 0.18)}
# Colour-shape pairs never shown in training, to measure generalisation.
HELD_OUT: frozenset[tuple[str, str]] = frozenset({("green", "star"), ("purple", "ring")})
# Training resolutions (width, height): multiples of 64 from 256 to 512, square and not.
RESOLUTIONS = ((256, 256), (320, 320), (384, 384), (448, 448), (512, 512),
               (256, 384), (384, 256), (320, 448), (448, 320), (256, 512), (512, 256), (384, 512), (512, 384))


@dataclass
class Obj:
    colour: str
    shape: str
    size: str | None  # "small", "large" or None (unspecified: medium radii)
    position: str | None  # key of POSITIONS, or None (placed at random)
    cx: float = 0.0  # centre, fraction of width
    cy: float = 0.0  # centre, fraction of height
    r: float = 0.0  # radius, fraction of the shorter side


@dataclass
class Scene:
    background: str
    objects: list[Obj] = field(default_factory=list)
    background_said: bool = True
    count_phrase: bool = False  # "two purple triangles": one group of identical objects


def _place(objs: list[Obj], rng: np.random.Generator, aspect: float, radius_scale: float = 1.0) -> bool:
    """Give every object a centre; False if random placement failed to avoid overlaps.

    radius_scale multiplies the world's radii: a picture drawn at half the size with radius_scale 2 holds
    its objects at the same size in latent pixels (the curriculum's 128-px worlds, shapes/curriculum.py)."""
    for o in objs:
        lo, hi = RADIUS[o.size]
        o.r = float(rng.uniform(lo, hi)) * radius_scale
    for o in objs:
        if o.position is not None:
            col, row = POSITIONS[o.position]
            # The radius is relative to the shorter side: pull large objects towards the middle
            # along each axis just enough to keep them inside the frame.
            rx, ry = o.r * min(1.0, 1.0 / aspect), o.r * min(1.0, aspect)
            o.cx = 0.5 + (col - 1) * min(0.3, 0.47 - rx) + float(rng.uniform(-0.02, 0.02))
            o.cy = 0.5 + (row - 1) * min(0.3, 0.47 - ry) + float(rng.uniform(-0.02, 0.02))
    free = [o for o in objs if o.position is None]
    placed = [o for o in objs if o.position is not None]
    for o in free:
        for _ in range(60):
            # Radius is relative to the shorter side; keep the whole object inside the frame.
            # (An object wider than the frame, as in a tiny test world, is centred.)
            mx = min(0.5, o.r * min(1.0, 1.0 / aspect) + 0.03)
            my = min(0.5, o.r * min(1.0, aspect) + 0.03)
            o.cx = float(rng.uniform(mx, 1 - mx))
            o.cy = float(rng.uniform(my, 1 - my))
            if all(_apart(o, p, aspect) for p in placed):
                placed.append(o)
                break
        else:
            return False
    return True


def _apart(a: Obj, b: Obj, aspect: float) -> bool:
    s = min(1.0, aspect)  # convert fractions of width/height into fractions of the shorter side
    dx = (a.cx - b.cx) * (aspect / s if aspect >= 1 else 1.0)
    dy = (a.cy - b.cy) * (1.0 / s if aspect < 1 else 1.0)
    return math.hypot(dx, dy) > (a.r + b.r) * 1.08


def sample_scene(rng: np.random.Generator, width: int, height: int, held_out: str = "exclude") -> Scene:
    """Draw a random scene. held_out: "exclude" (training), "only" (must contain a held-out pair), "any"."""
    aspect = width / height
    while True:
        colours = list(COLOURS)
        background = colours[rng.integers(len(colours))]
        fg = [c for c in colours if c != background]
        kind = rng.random()
        objs: list[Obj] = []
        count_phrase = False
        if kind < 0.12:  # a counted group: "two purple triangles"
            n = int(rng.integers(2, 4))
            colour, shape = fg[rng.integers(len(fg))], SHAPES[rng.integers(len(SHAPES))]
            size = [None, "small"][rng.integers(2)]
            objs = [Obj(colour, shape, size, None) for _ in range(n)]
            count_phrase = True
        else:
            n = 1 if kind < 0.55 else (2 if kind < 0.85 else 3)
            cells = list(POSITIONS)
            rng.shuffle(cells)
            with_pos = rng.random() < 0.6
            for i in range(n):
                size = [None, "small", "large"][rng.integers(3)]
                if n == 3 and size == "large":
                    size = None
                objs.append(Obj(fg[rng.integers(len(fg))], SHAPES[rng.integers(len(SHAPES))],
                                size, cells[i] if with_pos else None))
            if with_pos and n > 1 and not _cells_compatible(objs):
                continue
        pairs = {(o.colour, o.shape) for o in objs}
        has_held = bool(pairs & HELD_OUT)
        if held_out == "exclude" and has_held or held_out == "only" and not has_held:
            continue
        if not _place(objs, rng, aspect):
            continue
        return Scene(background, objs, background_said=rng.random() < 0.85, count_phrase=count_phrase)


def _cells_compatible(objs: list[Obj]) -> bool:
    """Objects on neighbouring cells must be small enough not to touch."""
    for i, a in enumerate(objs):
        for b in objs[i + 1:]:
            ca, cb = POSITIONS[a.position], POSITIONS[b.position]
            near = max(abs(ca[0] - cb[0]), abs(ca[1] - cb[1])) == 1
            if near and "large" in (a.size, b.size):
                return False
    return True


# ---------------------------------------------------------------- captions
_POS_PHRASES = {
    "top left": ["in the top left", "in the top left corner", "at the top left"],
    "top right": ["in the top right", "in the top right corner", "at the top right"],
    "bottom left": ["in the bottom left", "in the bottom left corner", "at the bottom left"],
    "bottom right": ["in the bottom right", "in the bottom right corner", "at the bottom right"],
    "top": ["at the top", "on the top"],
    "bottom": ["at the bottom", "on the bottom"],
    "left": ["on the left", "at the left"],
    "right": ["on the right", "at the right"],
    "centre": ["in the centre", "in the center", "in the middle"],
}
_SIZE_WORDS = {"small": ["small", "little", "tiny"], "large": ["large", "big"], None: [""]}
_COUNT_WORDS = {2: "two", 3: "three"}


def caption(scene: Scene, rng: np.random.Generator) -> str:
    pick = lambda xs: xs[rng.integers(len(xs))]  # noqa: E731
    if scene.count_phrase:
        o = scene.objects[0]
        words = [_COUNT_WORDS[len(scene.objects)], pick(_SIZE_WORDS[o.size]), o.colour, PLURAL[o.shape]]
        parts = [" ".join(w for w in words if w)]
    else:
        parts = []
        for o in scene.objects:
            words = [pick(["a", "a", "one"]), pick(_SIZE_WORDS[o.size]), o.colour, o.shape]
            phrase = " ".join(w for w in words if w)
            if o.position is not None:
                phrase += " " + pick(_POS_PHRASES[o.position])
            parts.append(phrase)
    if len(parts) == 1:
        body = parts[0]
    elif len(parts) == 2:
        body = f"{parts[0]} and {parts[1]}"
    else:
        body = f"{parts[0]}, {parts[1]} and {parts[2]}"
    if not scene.background_said:
        return body
    bg = scene.background
    return pick([f"{body} on a {bg} background", f"{body}, {bg} background",
                 f"{body} on a {bg} background", f"{body} with a {bg} background",
                 f"{body} against a {bg} background"])


def vocabulary_words() -> list[str]:
    """Every word the grammar can say (for the tokenizer's vocabulary)."""
    words = set(COLOURS) | set(SHAPES) | set(PLURAL.values()) | set(_COUNT_WORDS.values())
    for phrases in list(_POS_PHRASES.values()) + list(_SIZE_WORDS.values()):
        for p in phrases:
            words.update(p.split())
    words.update(["a", "one", "and", "on", "with", "against", "background", ","])
    words.discard("")
    return sorted(words)


# ---------------------------------------------------------------- rendering
def _sd_shape(shape: str, px: np.ndarray, py: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (pixels, negative inside) of a shape of radius r centred at the origin.

    px right, py UP. Formulas follow Inigo Quilez's 2D distance functions
    (iquilezles.org/articles/distfunctions2d).
    """
    if shape == "circle":
        return np.hypot(px, py) - r
    if shape == "ring":
        return np.abs(np.hypot(px, py) - 0.72 * r) - 0.28 * r
    if shape == "square":
        s = 0.84 * r
        qx, qy = np.abs(px) - s, np.abs(py) - s
        return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)
    if shape == "triangle":  # equilateral, apex up; circumradius 1.1 r, centred on its centroid
        a = 1.1 * r * math.sqrt(3) / 2  # half the side
        k = math.sqrt(3.0)
        x = np.abs(px) - a
        y = py + a / k
        swap = x + k * y > 0
        x2 = np.where(swap, (x - k * y) / 2, x)
        y2 = np.where(swap, (-k * x - y) / 2, y)
        x2 = x2 - np.clip(x2, -2 * a, 0)
        return -np.hypot(x2, y2) * np.sign(y2)
    if shape == "star":  # five points, outer radius 1.08 r
        rr, rf = 1.08 * r, 0.48
        k1x, k1y = 0.809016994375, -0.587785252292
        x, y = np.abs(px), py.copy()
        d = np.maximum(k1x * x + k1y * y, 0)
        x, y = x - 2 * d * k1x, y - 2 * d * k1y
        d = np.maximum(-k1x * x + k1y * y, 0)
        x, y = x + 2 * d * k1x, y - 2 * d * k1y
        x = np.abs(x)
        y = y - rr
        bax, bay = rf * -k1y * 1.0, rf * k1x - 1.0
        bax, bay = bax * rr, bay * rr
        h = np.clip((x * bax + y * bay) / (bax * bax + bay * bay), 0.0, 1.0)
        return np.hypot(x - bax * h, y - bay * h) * np.sign(y * bax - x * bay)
    if shape == "heart":  # unit heart spans y in [0, ~1.1]; scale and centre it
        s = 1.75 * r
        x, y = np.abs(px) / s, py / s + 0.52
        upper = (x + y) > 1.0
        d_up = np.hypot(x - 0.25, y - 0.75) - math.sqrt(2.0) / 4.0
        m = 0.5 * np.maximum(x + y, 0.0)
        d_lo = np.sqrt(np.minimum(x * x + (y - 1.0) ** 2, (x - m) ** 2 + (y - m) ** 2)) * np.sign(x - y)
        return np.where(upper, d_up, d_lo) * s
    raise ValueError(shape)


def render(scene: Scene, width: int, height: int, window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Draw a scene as uint8 RGB [height, width, 3] with anti-aliased edges (coverage from the SDF).

    window (x0, y0, w, h) draws only that crop of the width x height picture."""
    x0, y0, w, h = window or (0, 0, width, height)
    img = np.empty((h, w, 3), np.float32)
    img[:] = COLOURS[scene.background]
    xs = np.arange(x0, x0 + w, dtype=np.float32) + 0.5
    ys = np.arange(y0, y0 + h, dtype=np.float32) + 0.5
    gx, gy = np.meshgrid(xs, ys)
    short = min(width, height)
    for o in scene.objects:
        d = _sd_shape(o.shape, gx - o.cx * width, -(gy - o.cy * height), o.r * short)
        cover = np.clip(0.5 - d, 0.0, 1.0)[..., None]
        img = img * (1 - cover) + np.asarray(COLOURS[o.colour], np.float32) * cover
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def shape_mask(shape: str, size: int = 64) -> np.ndarray:
    """A centred binary silhouette of a shape, for the judge's template matching."""
    xs = np.arange(size, dtype=np.float32) + 0.5 - size / 2
    gx, gy = np.meshgrid(xs, xs)
    return _sd_shape(shape, gx, -gy, size * 0.42) < 0
