#!/usr/bin/env python3
"""Draw the PWA's PNG icons (192, 512, maskable 512, Apple touch 180) from the same picture as
public/icon.svg: a red circle and a yellow star on blue. Run once; the PNGs are committed."""
import math
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "public" / "icons"
BLUE, RED, YELLOW = (40, 88, 220), (220, 40, 40), (245, 215, 40)


def star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    pts = []
    for i in range(10):
        a = -math.pi / 2 + i * math.pi / 5
        rr = r if i % 2 == 0 else r * 0.45
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def icon(size: int, maskable: bool) -> Image.Image:
    s = 4  # supersample for smooth edges
    n = size * s
    img = Image.new("RGB", (n, n), BLUE) if maskable else Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if not maskable:
        d.rounded_rectangle((0, 0, n - 1, n - 1), radius=int(n * 14 / 64), fill=BLUE)
    # Maskable icons keep their content inside the central 80 % "safe zone".
    k = 0.72 if maskable else 1.0
    off = n * (1 - k) / 2
    u = n * k / 64
    d.ellipse((off + 12 * u, off + 14 * u, off + 40 * u, off + 42 * u), fill=RED)
    d.polygon([(off + x * u, off + y * u) for x, y in star(44, 43, 15)], fill=YELLOW)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192, False).save(OUT / "icon-192.png", optimize=True)
    icon(512, False).save(OUT / "icon-512.png", optimize=True)
    icon(512, True).save(OUT / "icon-maskable-512.png", optimize=True)
    icon(180, True).save(OUT / "apple-touch-icon-180.png", optimize=True)


if __name__ == "__main__":
    main()
