"""Named places drawn by weights, one pass or two: the eval's 36 position prompts (prompt_set("position", 36)),
DDIM 20, guidance 4, EMA — for arms whose runs did not judge them at the size asked.

    cd training && /usr/bin/python3 diagnostics/positions.py STAGE[,STAGE…] SIZE[,SIZE…]    # SIZE: 128 or 256/128
"""
import sys, torch
sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path
from shapes import checkpoints
from shapes.curriculum import judge_prompts, scaling_factor

work = Path('work')
tok = checkpoints.load_tokenizer(work); dec = checkpoints.load_vae(work).decoder
for stage in sys.argv[1].split(','):
    te, un, steps = checkpoints.load_stage(work, stage)
    for size in sys.argv[2].split(','):
        r = judge_prompts(tok, dec, scaling_factor(work), te, un, "position", size if '/' in size else int(size), 4.0, 36)
        print(f"{stage} ({steps:,} steps) {size} px: " + "  ".join(f"{k} {v:.0%}" for k, v in r.items()), flush=True)
