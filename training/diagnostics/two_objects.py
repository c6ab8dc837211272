"""Two-object prompts drawn by a curriculum stage, with the judge's verdict on each, and the text encoder's
hidden-state similarity for swapped colours (training/README.md, "What stage 4 bought").

    cd training && /usr/bin/python3 diagnostics/two_objects.py [STAGE=s4-multi] [GUIDANCE=4] [OUT=two.png] [PX=256]

(Session 16: `n-pairs 4 two.png 128` — arm (n)'s two objects at its own 128 px.)
"""
import sys, torch, numpy as np
sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path
from PIL import Image
from shapes import evaluate, checkpoints
from shapes.curriculum import scaling_factor
work = Path('work'); stage = sys.argv[1] if len(sys.argv) > 1 else 's4-multi'
tok = checkpoints.load_tokenizer(work); dec = checkpoints.load_vae(work).decoder
te, un, steps = checkpoints.load_stage(work, stage)
print(stage, 'chain step', steps)
# text encoder: does it tell "a red star and a blue circle" from "a blue star and a red circle"?
def hid(p):
    with torch.no_grad(): return te(torch.tensor([tok.encode(p)[0]], dtype=torch.int32))[0]
a, b, c = hid("a red star and a blue circle"), hid("a blue star and a red circle"), hid("a red circle and a blue star")
d = hid("a green heart and a yellow square")
cos = lambda x, y: torch.nn.functional.cosine_similarity(x.flatten(), y.flatten(), dim=0).item()
print(f"hidden cos: swapped colours {cos(a,b):.4f}  swapped order {cos(a,c):.4f}  other pair {cos(a,d):.4f}")
n = 16; scenes = evaluate.prompt_set('two', n, seed=99 + 3)
empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
ids = torch.tensor([tok.encode(p)[0] for _, p in scenes], dtype=torch.int32)
g = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
px = int(sys.argv[4]) if len(sys.argv) > 4 else 256
imgs = np.concatenate([evaluate.sample(te, un, dec, ids[i:i+8], empty, px, px, list(range(i, i+8)), guidance=g, scaling=scaling_factor(work)) for i in range(0, n, 8)])
for (s, p), im in zip(scenes, imgs):
    v = evaluate.judge(im)
    print(f"{p:45s} -> {v['background']:7s} " + ' + '.join(f"{o['colour']} {o['shape']} ({o['area']:.3f})" for o in v['objects']))
grid = np.concatenate([np.concatenate(list(imgs[r*8:(r+1)*8]), axis=1) for r in range(2)], axis=0)
out = sys.argv[3] if len(sys.argv) > 3 else 'two.png'
Image.fromarray(grid).resize((grid.shape[1] * 128 // px, grid.shape[0] * 128 // px)).save(out)
print('wrote', out)
