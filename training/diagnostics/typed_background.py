"""Single objects typed with no background ("a pink star") against the same objects and seeds with one said ("a
pink star on a blue background"): 32 held-in prompts, 256 px from a 128-px sketch, DDIM 20, fp32, at guidance 3, 4.5
and 6 — whether the eval's typed misses are the unsaid background (training/README.md, "The shipped pack").

    cd training && /usr/bin/python3 diagnostics/typed_background.py [STAGE=w2-more-pairs]
"""
import sys, torch, json, numpy as np
sys.path.insert(0, '.')
from pathlib import Path
from shapes import evaluate as E, checkpoints, world
torch.set_num_threads(2)
work = Path('work')
tok = checkpoints.load_tokenizer(work); dec = checkpoints.load_vae(work).decoder
te, un, steps = checkpoints.load_stage(work, sys.argv[1] if len(sys.argv) > 1 else 'w2-more-pairs')
sf = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
# held-in single objects with the background unsaid vs said, same objects, same seeds
rng = np.random.default_rng(5)
pr_un, pr_said = [], []
while len(pr_un) < 32:
    c, s = E.NAMES[rng.integers(11)], world.SHAPES[rng.integers(6)]
    bg = E.NAMES[rng.integers(11)]
    if (c, s) in world.HELD_OUT or c == bg: continue
    pr_un.append((world.Scene("", [world.Obj(c, s, None, None)]), f"a {c} {s}"))
    pr_said.append((world.Scene(bg, [world.Obj(c, s, None, None)]), f"a {c} {s} on a {bg} background"))
for g in (3.0, 4.5, 6.0):
    for name, pr in (("unsaid", pr_un), ("said", pr_said)):
        imgs = E.render_set(te, un, dec, tok, pr, (256, 256), g, sf, layout=(128, 128))
        print(g, name, {k: round(v, 2) for k, v in E.mean_scores([E.score(s, E.judge(im)) for (s, _), im in zip(pr, imgs)]).items()}, flush=True)
