"""The eval's prompt kinds (its own prompts, counts and seeds: evaluate.EVAL_COUNTS, prompt_set(kind, n, 99 +
len(kind))), fp32, for a stage drawn in two passes from a layout at another side than the pack's 256 px — so
that its rows compare with training/eval_report.json's (the shipped pack's) without drawing those again.

    cd training && /usr/bin/python3 diagnostics/layout_eval.py STAGE LAYOUT [GUIDANCE=4.5] [SIDES=256,512]

(SIDES: the picture sides drawn, so that two processes can share the sizes.)
"""
import sys, torch
sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path
from shapes import checkpoints, evaluate
from shapes.curriculum import judge_prompts, scaling_factor

work = Path('work'); stage, lay = sys.argv[1], int(sys.argv[2])
g = float(sys.argv[3]) if len(sys.argv) > 3 else 4.5
sides = [int(x) for x in sys.argv[4].split(",")] if len(sys.argv) > 4 else [256, 512]
tok = checkpoints.load_tokenizer(work); dec = checkpoints.load_vae(work).decoder
te, un, steps = checkpoints.load_stage(work, stage)
print(f"{stage} ({steps:,} steps), fp32, DDIM 20, guidance {g:g}, two passes from {lay} px")
print("| prompts | size | background | colour | shape | one | position | count | both shapes |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for kind, n in evaluate.EVAL_COUNTS.items():
    for size in (f"{side}/{lay}" for side in sides):
        r = judge_prompts(tok, dec, scaling_factor(work), te, un, kind, size, g, n)
        cell = lambda k: f"{r[k]:.0%}" if k in r else "—"
        print(f"| {kind} ({n}) | {size} | " + " | ".join(cell(k) for k in ("background", "colour", "shape", "one", "position", "count", "shapes")) + " |", flush=True)
