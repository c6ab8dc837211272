"""Two objects laid out where the UNet binds them: at 128 px, two objects' colours are bound far more often than
at 256 px (arms (n)-(n5) against b3). Drawn in two passes as the app draws (evaluate.sample's `layout`: the
picture sketched small, its latents enlarged, noised to strength 0.4 and the last 8 of 20 steps redrawn at full
size), is the binding decided at the sketch's size kept at 256 and 512 px? Forward passes only. 48 prompts of
each kind, DDIM 20, guidance 4, EMA weights; sizes "FULL/LAYOUT".

    cd training && /usr/bin/python3 diagnostics/layout_binding.py STAGE [STAGE…]
"""
import sys, torch
sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path
from shapes import checkpoints
from shapes.curriculum import judge_prompts, scaling_factor

work = Path('work')
tok = checkpoints.load_tokenizer(work); dec = checkpoints.load_vae(work).decoder
print("| weights | prompts | size | count / both colours / both shapes | colour / shape / one |\n| --- | --- | --- | --- | --- |")
for stage in sys.argv[1:]:
    te, un, steps = checkpoints.load_stage(work, stage)
    for kind, size in (("two", "128"), ("two", "256"), ("two", "256/128"), ("two", "512/128"), ("two", "512/256"),
                       ("held_in", "256"), ("held_in", "256/128"), ("held_in", "512/128")):
        r = judge_prompts(tok, dec, scaling_factor(work), te, un, kind, size, 4.0, 48)
        fig = (f"{r['count']:.0%} / {r['colour']:.0%} / {r['shapes']:.0%} | —" if kind == "two"
               else f"— | {r['colour']:.0%} / {r['shape']:.0%} / {r['one']:.0%}")
        print(f"| {stage} ({steps:,}) | {kind} | {size} | {fig} |", flush=True)
