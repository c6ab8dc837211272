"""Does the pooled text (the caption's mean state, added to the timestep embedding) or the cross-attention decide
the object's colour? 16 single objects, drawn as trained and with the pooled vector taken from the same caption
in another colour (training/README.md, "What stage 4 bought").

    cd training && /usr/bin/python3 diagnostics/pooled_probe.py [STAGE=s4-multi]
"""
# decide the object's colour? Single objects; the pooled vector taken from the same caption with another colour.
import sys, torch, numpy as np
sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path
from shapes import evaluate, checkpoints, world
from shapes.curriculum import scaling_factor
work = Path('work'); stage = sys.argv[1] if len(sys.argv) > 1 else 's4-multi'
tok = checkpoints.load_tokenizer(work); dec = checkpoints.load_vae(work).decoder
te, un, steps = checkpoints.load_stage(work, stage)
C = [c for c in world.COLOURS]; S = list(world.SHAPES)
rng = np.random.default_rng(5)
rows = []
while len(rows) < 16:
    bg, c1, c2 = rng.choice(len(C), 3, replace=False); s = S[rng.integers(len(S))]
    if (C[c1], s) in world.HELD_OUT or (C[c2], s) in world.HELD_OUT: continue
    rows.append((f"a {C[c1]} {s} on a {C[bg]} background", f"a {C[c2]} {s} on a {C[bg]} background", C[c1], C[c2], s))
enc = lambda p: te(torch.tensor([tok.encode(p)[0]], dtype=torch.int32))
with torch.no_grad():
    swap = {i: (enc(a).mean(1), enc(b).mean(1)) for i, (a, b, *_) in enumerate(rows)}
HITS = []  # rows whose pooled vector was swapped (16 prompts x 20 steps when it works)
orig = un.text_embedding
class Swap(torch.nn.Module):
    def forward(self, m):
        out = m.clone()
        for a, b in swap.values():
            hit = (m - a).abs().amax(1) < 1e-5
            out[hit] = b; HITS.append(int(hit.sum()))
        return orig(out)
empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
ids = torch.tensor([tok.encode(r[0])[0] for r in rows], dtype=torch.int32)
for mode in ("as trained", "pooled from the other colour"):
    un.text_embedding = orig if mode == "as trained" else Swap()
    imgs = np.concatenate([evaluate.sample(te, un, dec, ids[i:i+8], empty, 256, 256, list(range(i, i+8)), guidance=4.0, scaling=scaling_factor(work)) for i in range(0, 16, 8)])
    got = [evaluate.judge(im)["objects"] for im in imgs]
    said = sum(bool(o) and o[0]["colour"] == r[2] for o, r in zip(got, rows))
    pooled = sum(bool(o) and o[0]["colour"] == r[3] for o, r in zip(got, rows))
    shape = sum(bool(o) and o[0]["shape"] == r[4] for o, r in zip(got, rows))
    print(sum(HITS), "rows swapped"); print(f"{stage} {mode}: colour of the cross-attended caption {said}/16, of the pooled caption {pooled}/16, shape {shape}/16")
