"""Two-object prompts drawn with composed guidance ("Composable Diffusion", Liu et al. 2022): each object's own
caption ("a red star on a green background") guides apart, by forward passes only — what the app's ONNX UNet
could run without gradients. Against the plain prompt at the same seeds, 48 prompts, judged as the eval judges.

    cd training && /usr/bin/python3 diagnostics/composed_two.py [STAGE=n4-longer] [PX=128]

Guidance, per step (e: the UNet's noise prediction; u: the empty caption; p: the whole prompt; c1, c2: each
object's caption): plain  u + 4 (p - u); composed  u + w (c1 - u) + w (c2 - u); both  u + 4 (p - u) + w (c1 - u)
+ w (c2 - u) - w (p - u), the prompt's own guidance kept and each object's pull added.
"""
import sys, torch, numpy as np
sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path
from shapes import evaluate, checkpoints
from shapes.common import alphas_cumprod
from shapes.curriculum import scaling_factor

work = Path('work'); stage = sys.argv[1] if len(sys.argv) > 1 else 'n4-longer'
px = int(sys.argv[2]) if len(sys.argv) > 2 else 128
tok = checkpoints.load_tokenizer(work); dec = checkpoints.load_vae(work).decoder
te, un, steps = checkpoints.load_stage(work, stage)
n = 48; scenes = evaluate.prompt_set('two', n, seed=99 + 3)
enc = lambda ps: te(torch.tensor([tok.encode(p)[0] for p in ps], dtype=torch.int32))
abar = alphas_cumprod().double()
grid = (np.arange(20) * 50).round()[::-1].astype(np.int64) + 1


@torch.no_grad()
def draw(mode: str, w: float) -> dict:
    prompts = [p for _, p in scenes]
    parts = [[f"a {o.colour} {o.shape} on a {s.background} background" for o in s.objects] for s, _ in scenes]
    u, p = enc([""] * n), enc(prompts)
    c1, c2 = enc([q[0] for q in parts]), enc([q[1] for q in parts])
    x = torch.stack([torch.randn(4, px // 8, px // 8, generator=torch.Generator().manual_seed(i)) for i in range(n)])
    for i, t in enumerate(grid):
        tt = torch.tensor([float(t)])
        e_u, e_p, e_1, e_2 = un(torch.cat([x] * 4), tt, torch.cat([u, p, c1, c2])).chunk(4)
        if mode == "plain":
            e = e_u + 4 * (e_p - e_u)
        elif mode == "composed":
            e = e_u + w * (e_1 - e_u) + w * (e_2 - e_u)
        else:
            e = e_u + (4 - w) * (e_p - e_u) + w * (e_1 - e_u) + w * (e_2 - e_u)
        a_t, a_prev = abar[t], (abar[grid[i + 1]] if i + 1 < len(grid) else abar[0])
        x0 = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()
        x = (a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e).float()
    imgs = evaluate.decode(dec, x, scaling_factor(work))
    return evaluate.mean_scores([evaluate.score(s, evaluate.judge(im)) for (s, _), im in zip(scenes, imgs)])


print(f"{stage} (chain step {steps:,}), {n} two-object prompts at {px} px, DDIM 20")
print("| guidance | count | both colours | both shapes |\n| --- | --- | --- | --- |")
for mode, w in (("plain", 4), ("composed", 2), ("composed", 4), ("both", 1), ("both", 2)):
    r = draw(mode, w)
    print(f"| {mode} w={w:g} | {r['count']:.0%} | {r['colour']:.0%} | {r['shapes']:.0%} |", flush=True)
