"""Two-object prompts drawn by other samplers at the same seeds: does noise injected along the way (Euler
ancestral, DDIM with eta = 1: each step re-draws part of the noise, so a blend at high noise need not be
committed), more steps, or another guidance scale bind the colours better than DDIM 20 at guidance 4? Forward
passes only: each is a setting the app already has (its schedulers are diffusers-exact). 48 prompts, judged as
the eval judges.

    cd training && /usr/bin/python3 diagnostics/samplers_two.py [STAGE=n4-longer] [PX=128]
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


def grid(k: int) -> np.ndarray:
    return (np.arange(k) * (1000 // k)).round()[::-1].astype(np.int64) + 1  # "leading", steps_offset 1


@torch.no_grad()
def draw(sampler: str, k: int, g: float) -> dict:
    u, p = enc([""] * n), enc([q for _, q in scenes])
    ctx = torch.cat([u, p])
    x = torch.stack([torch.randn(4, px // 8, px // 8, generator=torch.Generator().manual_seed(i)) for i in range(n)])
    gen = torch.Generator().manual_seed(1234)
    ts = grid(k)

    def eps(xin, t):
        e_u, e_c = un(torch.cat([xin, xin]), torch.tensor([float(t)]), ctx).chunk(2)
        return (e_u + g * (e_c - e_u)).double()

    if sampler == "euler-a":
        sig = [((1 - abar[t]) / abar[t]).sqrt() for t in ts] + [torch.tensor(0.0, dtype=torch.float64)]
        x = x.double() * (sig[0] ** 2 + 1).sqrt()
        for i, t in enumerate(ts):
            s, s2 = sig[i], sig[i + 1]
            e = eps((x / (s ** 2 + 1).sqrt()).float(), t)
            x0 = x - s * e
            up = (s2 ** 2 * (s ** 2 - s2 ** 2) / s ** 2).sqrt()
            down = (s2 ** 2 - up ** 2).sqrt()
            x = x + (x - x0) / s * (down - s) + torch.randn(x.shape, generator=gen, dtype=torch.float64) * up
        x = x.float()
    else:
        eta = 1.0 if sampler == "ddim-eta1" else 0.0
        x = x.double()
        for i, t in enumerate(ts):
            e = eps(x.float(), t)
            a_t, a_prev = abar[t], (abar[ts[i + 1]] if i + 1 < len(ts) else abar[0])
            x0 = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()
            sd = eta * ((1 - a_prev) / (1 - a_t)).sqrt() * (1 - a_t / a_prev).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev - sd ** 2).sqrt() * e
            if eta:
                x = x + sd * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        x = x.float()
    imgs = evaluate.decode(dec, x, scaling_factor(work))
    return evaluate.mean_scores([evaluate.score(s, evaluate.judge(im)) for (s, _), im in zip(scenes, imgs)])


print(f"{stage} (chain step {steps:,}), {n} two-object prompts at {px} px")
print("| sampler | steps | guidance | count | both colours | both shapes |\n| --- | --- | --- | --- | --- | --- |")
for sampler, k, g in (("ddim", 20, 4), ("ddim-eta1", 20, 4), ("euler-a", 20, 4), ("ddim", 50, 4),
                      ("euler-a", 50, 4), ("ddim", 20, 2.5), ("ddim", 20, 6), ("euler-a", 20, 6)):
    r = draw(sampler, k, g)
    print(f"| {sampler} | {k} | {g:g} | {r['count']:.0%} | {r['colour']:.0%} | {r['shapes']:.0%} |", flush=True)
