"""Regional prompts: a prompt that names two or three objects ("a red star and a blue circle on a green
background") is drawn with each object's own caption ("a red star in the top left on a green background")
guiding only its own part of the latent — soft masks around a point per object that sum to one, as Regional
Prompter / MultiDiffusion's region mode split a canvas. Forward passes only: what the app's ONNX UNet runs.

Why: this UNet draws one named object in its colour and its named place for 96-100 % of prompts, but binds two
objects' colours for 59 % (one caption's attention mixes them; training/README.md, rounds one to eight). Each
object's caption alone is the task it does well.

The app's src/core/pipeline/regions.ts is the same code; test_regions.py and test/core/pipeline/regions.test.ts
check the same cases, so the recipe's figures are the app's pictures.
"""
from __future__ import annotations

import re

import torch

# Where an object's own words put it (the world's 3x3 grid, world.POSITIONS), as a point in the picture
# (x right, y down, fractions of the width and height): the world's cell centres.
ANCHORS: dict[str, tuple[float, float]] = {
    "top left": (0.2, 0.2), "top": (0.5, 0.2), "top right": (0.8, 0.2),
    "left": (0.2, 0.5), "centre": (0.5, 0.5), "right": (0.8, 0.5),
    "bottom left": (0.2, 0.8), "bottom": (0.5, 0.8), "bottom right": (0.8, 0.8),
}
# The phrase an object without a place of its own is given (the grammar's first for each cell).
PHRASES: dict[str, str] = {
    "top left": "in the top left", "top": "at the top", "top right": "in the top right",
    "left": "on the left", "centre": "in the centre", "right": "on the right",
    "bottom left": "in the bottom left", "bottom": "at the bottom", "bottom right": "in the bottom right",
}
# Places for objects that name none, by how many objects the prompt names; the seed picks one of the two
# (mirror images). Diagonal corners measured best for two (training/README.md, round nine: 77 % both colours
# against 60 % for left / right and top / bottom halves).
LAYOUTS: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {
    2: (("top left", "bottom right"), ("top right", "bottom left")),
    3: (("top left", "top right", "bottom"), ("top", "bottom left", "bottom right")),
}
# The masks' softness: weight_r ∝ exp(-|p - anchor_r|² / T), distances in fractions of the width and height.
# 0.075 is a sigmoid one latent pixel wide across the diagonal of a 16×16 (128-px) sketch.
TEMPERATURE = 0.075

# ASCII only (re.ASCII: \s and \b as JavaScript's ASCII ones; strip() with the same characters): the two parsers
# must agree on every prompt.
_FLAGS = re.IGNORECASE | re.ASCII
_SPACE = " \t\n\r\f\v"
_PLACE = re.compile(r"(?<![A-Za-z0-9_])(?:in|at|on) the (top left|top right|bottom left|bottom right|top|bottom|left|"
                    r"right|centre|center|middle)(?: corner)?(?![A-Za-z0-9_])", _FLAGS)
_TAIL = re.compile(r",|\s+(?:on|with|against|in)\s+(?:a|an)\s", _FLAGS)
_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+", _FLAGS)  # an Oxford comma (", and") is one separator
_AND = re.compile(r"\s+and\s+", _FLAGS)
# Each object is named with an article or a number ("a red star and a blue circle", "two stars and a ring"):
# "a red and blue star" or "a black and white cat" is one thing in two colours, drawn whole.
_NAMED = re.compile(r"(?:a|an|the|one|two|three|four|five|six|seven|eight|nine|ten|another|some|[0-9]+)\s", _FLAGS)


def split(prompt: str) -> tuple[list[str], str] | None:
    """The objects a prompt names and what it says of them all (its tail), or None where it names fewer than two
    or more than three (the app's MAX_REGIONS; each with an article or a number). The tail starts after the last "and", at the first comma or " on a / with a / against a /
    in a"; trailing punctuation goes with it."""
    text = prompt.strip(_SPACE)
    ands = list(_AND.finditer(text))
    if not ands:
        return None
    last = ands[-1].end()
    m = _TAIL.search(text, last)
    body, tail = (text[:m.start()], text[m.start():]) if m else (text, "")
    stripped = body.rstrip(".!?;:" + _SPACE)
    tail = body[len(stripped):] + tail
    objects = [o.strip(_SPACE) for o in _SPLIT.split(stripped)]
    if not 2 <= len(objects) <= 3 or not all(_NAMED.match(o) for o in objects):
        return None
    return objects, tail


def _place(phrase: str) -> str | None:
    m = _PLACE.search(phrase)
    if not m:
        return None
    p = m.group(1).lower()
    return "centre" if p in ("center", "middle") else p


def plan(prompt: str, seed: int) -> list[tuple[str, tuple[float, float]]] | None:
    """Each object's caption and point, or None where the prompt is drawn whole: it names fewer than two or more
    than three objects, or two of them the same place."""
    parts = split(prompt)
    if parts is None:
        return None
    objects, tail = parts
    named = [_place(o) for o in objects]
    if len({p for p in named if p}) < sum(1 for p in named if p):
        return None
    free = [p for p in LAYOUTS[len(objects)][seed % 2] if p not in named]
    spare = [p for p in ANCHORS if p not in named and p not in free]
    out = []
    for o, p in zip(objects, named):
        if p is None:
            p = (free or spare).pop(0)
            o = f"{o} {PHRASES[p]}"
        out.append((f"{o}{tail}", ANCHORS[p]))
    return out


def masks(points: list[tuple[float, float]], height: int, width: int) -> torch.Tensor:
    """[len(points), 1, height, width] weights summing to one at each latent pixel: a soft Voronoi split."""
    ys = (torch.arange(height, dtype=torch.float64) + 0.5) / height
    xs = (torch.arange(width, dtype=torch.float64) + 0.5) / width
    d = torch.stack([(xs[None, :] - ax) ** 2 + (ys[:, None] - ay) ** 2 for ax, ay in points])
    return torch.softmax(-d / TEMPERATURE, dim=0).float()[:, None]
