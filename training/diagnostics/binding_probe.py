"""Does the frozen CLIP-stage text encoder's state at each noun carry that object's colour? A linear probe over
1,200 two-object captions (training/README.md, "What stage 4 bought").

    cd training && /usr/bin/python3 diagnostics/binding_probe.py
"""
import sys, torch, numpy as np
sys.path.insert(0, '.')
torch.set_num_threads(1)
from pathlib import Path
from shapes import checkpoints, world
work = Path('work'); tok = checkpoints.load_tokenizer(work); te = checkpoints.load_clip_text(work).eval()
rng = np.random.default_rng(0)
C, S = list(world.COLOURS), list(world.SHAPES)
rows = []
for _ in range(1200):
    c1, c2 = rng.choice(len(C), 2, replace=False); s1, s2 = rng.integers(len(S), size=2)
    p = f"a {C[c1]} {S[s1]} and a {C[c2]} {S[s2]} on a {C[rng.integers(len(C))]} background"
    ids = tok.encode(p)[0]
    rows.append((p, ids, c1, c2, s1, s2))
ids = torch.tensor([r[1] for r in rows], dtype=torch.int32)
with torch.no_grad(): h = te(ids).numpy()
# token positions: BOS a c1 s1 and a c2 s2 ... (the world's words are one token each, checked below)
assert all(len(tok.encode(f"a {c} {s}")[0]) >= 5 for c in C for s in S)
def pos(r, word_index):  # position of the k-th word (after BOS), assuming one token per word
    return 1 + word_index
ok = all(tok.encode(r[0])[0][pos(r, 2)] == tok.encode(S[r[4]])[0][1] for r in rows[:50])
print("one token per word:", ok)
def probe(X, y, k):
    n = len(y); tr, te_ = slice(0, n * 3 // 4), slice(n * 3 // 4, n)
    Y = np.eye(k)[y]; Xb = np.c_[X, np.ones(len(X))]
    W = np.linalg.solve(Xb[tr].T @ Xb[tr] + 1e-1 * np.eye(Xb.shape[1]), Xb[tr].T @ Y[tr])
    return (np.argmax(Xb[te_] @ W, 1) == y[te_]).mean()
c1 = np.array([r[2] for r in rows]); c2 = np.array([r[3] for r in rows])
n1 = h[np.arange(len(rows)), 2]; n2 = h[np.arange(len(rows)), 6]   # the two nouns' states
print(f"first noun's state -> its colour {probe(n1, c1, len(C)):.0%}, the other's {probe(n1, c2, len(C)):.0%}")
print(f"second noun's state -> its colour {probe(n2, c2, len(C)):.0%}, the first's {probe(n2, c1, len(C)):.0%}")
print(f"mean state -> first colour {probe(h.mean(1), c1, len(C)):.0%}, second {probe(h.mean(1), c2, len(C)):.0%}")
