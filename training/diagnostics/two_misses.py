"""How two named objects' colours go wrong, and whether the pooled text (the caption's mean state added to the
timestep embedding: every pixel hears it alike) pushes them to blend. The eval's 32 two-object prompts and seeds
(evaluate.prompt_set("two", 32, 102)), DDIM 20, two passes from a 128-px sketch at 256 px, fp32 EMA weights:

- as trained;
- the pooled vector taken from the empty caption (the picture hears the caption through cross-attention only);
- the pooled vector taken from the caption with the two objects' colours swapped.

    cd training && /usr/bin/python3 diagnostics/two_misses.py STAGE [GUIDANCE=4] [SIZE=256/128]
"""
import sys
from collections import Counter

import numpy as np
import torch

sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path

from shapes import checkpoints, evaluate
from shapes.curriculum import scaling_factor

work = Path('work')
stage = sys.argv[1]
g = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
px, _, lay = (sys.argv[3] if len(sys.argv) > 3 else "256/128").partition("/")
tok = checkpoints.load_tokenizer(work)
dec = checkpoints.load_vae(work).decoder
te, un, steps = checkpoints.load_stage(work, stage)
prompts = evaluate.prompt_set("two", 32, seed=99 + len("two"))
ids = torch.tensor([tok.encode(p)[0] for _, p in prompts], dtype=torch.int32)
empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)


def swapped(scene, text: str) -> str:
    a, b = scene.objects
    return text.replace(a.colour, "\0").replace(b.colour, a.colour).replace("\0", b.colour)


with torch.no_grad():
    pooled = {"as trained": None,
              "pooled from the empty caption": te(empty).mean(1).expand(len(prompts), -1),
              "pooled from the colours swapped": te(torch.tensor([tok.encode(swapped(s, p))[0] for s, p in prompts],
                                                                  dtype=torch.int32)).mean(1)}
orig = un.text_embedding


class Pooled(torch.nn.Module):
    """The pooled path fed another caption's mean for the conditional half of each guided batch."""

    def __init__(self, rows: torch.Tensor):
        super().__init__()
        self.rows = rows

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        out = m.clone()
        n = m.shape[0] // 2  # [uncond..., cond...] in evaluate.ddim's batch
        out[n:] = self.rows
        return orig(out)


print(f"{stage} ({steps:,} steps), DDIM 20, guidance {g:g}, {px} px" + (f" from a {lay}-px sketch" if lay else ""))
print("| pooled vector | two objects | both colours | both (colour, shape) pairs | one named colour twice | a colour not named |")
print("| --- | --- | --- | --- | --- | --- |")
for mode, rows in pooled.items():
    imgs = []
    for i in range(0, len(prompts), 8):
        if rows is not None:
            un.text_embedding = Pooled(rows[i:i + 8])
        imgs.append(evaluate.sample(te, un, dec, ids[i:i + 8], empty, int(px), int(px), list(range(i, i + 8)),
                                    guidance=g, scaling=scaling_factor(work),
                                    layout=(int(lay), int(lay)) if lay else None))
    un.text_embedding = orig
    c = Counter()
    for (scene, _), im in zip(prompts, np.concatenate(imgs)):
        got = evaluate.judge(im)["objects"]
        named = [o.colour for o in scene.objects]
        if len(got) != 2:
            continue
        c["two"] += 1
        cols = [o["colour"] for o in got]
        c["both"] += sorted(cols) == sorted(named)
        c["pairs"] += sorted((o["colour"], o["shape"]) for o in got) == sorted((o.colour, o.shape) for o in scene.objects)
        c["twice"] += cols[0] == cols[1] and cols[0] in named
        c["other"] += any(x not in named for x in cols)
    n = len(prompts)
    print(f"| {mode} | {c['two']}/{n} | {c['both']}/{n} | {c['pairs']}/{n} | {c['twice']}/{n} | {c['other']}/{n} |", flush=True)
