"""Is a stage's cross-attention grounded? The grounding loss (shapes/grounding.py) of its EMA weights on 128
two-object pictures of the 128-px pairs world, noised to t, at every cross-attention layer, against the figure a
map that attends every pixel alike would get (1 - the words' mean coverage).

    cd training && /usr/bin/python3 diagnostics/grounding_probe.py STAGE

Below the uniform figure a layer attends each object's words from its own pixels; at it, from everywhere alike.
"""
import sys

import torch

sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path

from shapes import checkpoints, curriculum, grounding
from shapes.common import alphas_cumprod

work = Path('work')
stage = sys.argv[1]
torch.manual_seed(0)
text, unet, steps = checkpoints.load_stage(work, stage)
w = curriculum.World(multi=True, pairs=True)
data, ground = curriculum.world_data(work, w), curriculum.world_ground(work, w, 2 ** unet.cfg.attention.index(True))
two = torch.tensor([i for i, c in enumerate(data['captions']) if ' and ' in c][:128])
index, mask = ground['index'][two], ground['mask'][two]
uniform = (1 - mask.float().mean((-1, -2)))[index >= 0].mean().item()
layers = grounding.keep_cross_attention(unet)
abar, factor = alphas_cumprod(), curriculum.scaling_factor(work)
print(f"{stage} ({steps:,} steps): grounding loss per cross-attention layer (down, mid, up), uniform {uniform:.3f}")
with torch.no_grad():
    ctx = text(data['ids'][two].long())
    x0 = data['latents'][two].float() * factor
    for t in (50, 300, 500, 700, 900):
        tt = torch.full((len(two),), t)
        a = abar[tt].view(-1, 1, 1, 1)
        unet(a.sqrt() * x0 + (1 - a).sqrt() * torch.randn_like(x0), tt, ctx)
        per = [grounding.grounding_loss([layer], index, mask).item() for layer in layers]
        top = max(layer.probs.mean(1).max(-1).values.mean().item() for layer in layers)
        print(f"t = {t}: " + " ".join(f"{x:.3f}" for x in per) + f"  (largest token weight {top:.3f}; 1/77 = 0.013)")
