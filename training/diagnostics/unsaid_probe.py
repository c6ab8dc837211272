"""Why does a prompt typed with no background ("an orange circle") miss its colour more often than one that names
its background? Two sampler-side probes on 72 such prompts (diagnostics/typed_many.py's: `evaluate.TYPED`'s three forms that
name a colour and no background), 256 px from a 128-px sketch, DDIM 20, guidance 3, fp32 (round ten,
training/README.md):

- `interval T`: guidance 1 at the sketch's timesteps t >= T, the pack's guidance below (guidance applied in a limited
  interval, Kynkäänniemi et al. 2024): does guidance amplify the caption's colour into the whole picture early on?
  Held-in single objects (48) and two objects drawn apart (24) are drawn too, to see what it costs them.
- `colours`: each named colour drawn alone, 12 prompts each ("a brown ring"), and the same prompts and seeds with a
  background said ("… on a blue background"): which colours need a background to come out, and what they become.
- `contrast`: which backgrounds the model chooses for those 72 when none is said, and how far they lie from the
  object's named colour (RGB distance, the world's palette) in the pictures that get the colour and in those that miss.
- `pooled`: the caption's pooled state (its mean hidden state, added to the timestep embedding) taken from the empty
  caption: does the global pathway paint the only colour it hears on the background?

    cd training && /usr/bin/python3 diagnostics/unsaid_probe.py [STAGE=w2-more-pairs] [interval 900 800 | pooled | colours | contrast]
"""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, '.')
from shapes import evaluate as E  # noqa: E402
from shapes.checkpoints import load_model, load_tokenizer, load_vae  # noqa: E402

E.setup_threads()
work = Path('work')
stage = sys.argv[1] if len(sys.argv) > 1 else 'w2-more-pairs'
probe, args = (sys.argv[2], sys.argv[3:]) if len(sys.argv) > 2 else ('interval', ['900', '800'])
tok = load_tokenizer(work)
text, unet, _ = load_model(work, stage)
de = load_vae(work).decoder
scaling = json.loads((work / 'vae_scaling.json').read_text())['scaling_factor']
G = 3.0
# typed_many.py's 72 prompts that name a colour and no background
unsaid = [p for i, p in enumerate(E.prompt_set('typed', 144, seed=4242))
          if '{bg}' not in E.TYPED[i % len(E.TYPED)] and p[0].objects[0].colour]
sets = {'no background': unsaid}
if probe == 'interval':
    sets |= {'held-in': E.prompt_set('held_in', 48, seed=777), 'two apart': E.prompt_set('two', 24, seed=778)}


class Interval(torch.nn.Module):
    """The UNet, its conditional outputs pulled to e_u + (e_c - e_u) / G at t >= T: DDIM's e_u + G (e_c - e_u) is then
    the unguided e_c there (linear, so it holds for regional prompts' masked sum too)."""

    def __init__(self, inner, threshold):
        super().__init__()
        self.inner, self.threshold = inner, threshold

    def forward(self, x, t, ctx):
        out = self.inner(x, t, ctx)
        if self.threshold is None or float(t.reshape(-1)[0]) < self.threshold:
            return out
        # ctx is [uncond x n, cond_1 x n, ...]: n is how many rows lead with the empty caption's states (equal to
        # within float noise: a batch's rows may differ in their last bits)
        n = int(((ctx - ctx[:1]).abs().flatten(1).amax(1) < 1e-4).int().cumprod(0).sum())
        parts = out.split(n)
        return torch.cat([parts[0]] + [parts[0] + (p - parts[0]) / G for p in parts[1:]])


def run(name: str, un, prompts) -> str:
    imgs = E.render_set(text, un, de, tok, prompts, (256, 256), G, scaling, seed0=3000, layout=(128, 128))
    judged = [E.judge(im) for im in imgs]
    row = E.mean_scores([E.score(s, j) for (s, _), j in zip(prompts, judged)])
    named_bg = sum(bool(s.objects[0].colour) and j['background'] == s.objects[0].colour
                   for (s, _), j in zip(prompts, judged)) if name == 'no background' else None
    return f"{name}: " + " ".join(f"{k} {v:.0%}" for k, v in row.items()) + \
        (f" (background in the named colour {named_bg} of {len(prompts)})" if named_bg is not None else "")


if probe == 'interval':
    for threshold in [None] + [int(a) for a in args]:
        print(f"guidance 1 at t >= {threshold}: " if threshold else "as the app draws: ", end="", flush=True)
        print(" | ".join(run(name, Interval(unet, threshold), ps) for name, ps in sets.items()), flush=True)
elif probe == 'colours':
    from shapes import world
    for colour in world.COLOURS:
        told, bare = [], []
        for i in range(12):
            shapes = [s for s in world.SHAPES if (colour, s) not in world.HELD_OUT]
            shape = shapes[i % len(shapes)]
            bg = [c for c in world.COLOURS if c != colour][(5 * i + 3) % (len(world.COLOURS) - 1)]
            obj = lambda: [world.Obj(colour, shape, None, None)]  # noqa: E731
            bare.append((world.Scene('', obj()), f"a {colour} {shape}"))
            told.append((world.Scene(bg, obj()), f"a {colour} {shape} on a {bg} background"))
        row = []
        for name, ps in (('no background', bare), ('background said', told)):
            imgs = E.render_set(text, unet, de, tok, ps, (256, 256), G, scaling, seed0=5000, layout=(128, 128))
            got = [(j['objects'][0]['colour'] if j['objects'] else 'nothing') for j in map(E.judge, imgs)]
            wrong = sorted({g for g in got if g != colour})
            row.append(f"{name} {got.count(colour)}/12" + (f" (else {', '.join(wrong)})" if wrong else ""))
        print(f"{colour:7s} " + " | ".join(row), flush=True)
elif probe == 'contrast':
    from shapes import world
    imgs = E.render_set(text, unet, de, tok, unsaid, (256, 256), G, scaling, seed0=3000, layout=(128, 128))
    dist = lambda a, b: float(sum((x - y) ** 2 for x, y in zip(world.COLOURS[a], world.COLOURS[b])) ** 0.5)  # noqa: E731
    rows = {True: [], False: []}
    for (s, _), im in zip(unsaid, imgs):
        j = E.judge(im)
        c = s.objects[0].colour
        got = j['objects'][0]['colour'] if j['objects'] else 'nothing'
        rows[got == c].append((c, j['background'], got, dist(c, j['background'])))
    for hit, rs in rows.items():
        ds = sorted(r[3] for r in rs) or [float('nan')]
        print(f"{'colour right' if hit else 'colour missed'}: {len(rs)} pictures, background's distance from the named "
              f"colour median {ds[len(ds) // 2]:.0f}, under 120 in {sum(d < 120 for d in ds)}, under 140 (`World.far`'s "
              f"(w4f)) in {sum(d < 140 for d in ds)}", flush=True)
        if not hit:
            for c, bg, got, d in sorted(rs):
                print(f"  {c:7s} on {bg:7s} ({d:3.0f}) drawn {got}")
    print("backgrounds chosen by named colour: " + "; ".join(
        f"{c}: " + ", ".join(sorted(r[1] for r in rows[True] + rows[False] if r[0] == c)) for c in world.COLOURS))
else:
    orig = unet.text_embedding

    class Empty(torch.nn.Module):
        def forward(self, m):  # every row's pooled state the first's: the empty caption's (ctx is [uncond, cond…])
            return orig(m[:1].expand_as(m))

    print("as the app draws: " + run('no background', unet, unsaid), flush=True)
    unet.text_embedding = Empty()
    print("pooled state from the empty caption: " + run('no background', unet, unsaid), flush=True)
