"""Round twelve (training/README.md): is a colour lost in the UNet or in the VAE's decoder? Two probes, each with the
VAE's own decoder and with the one `recipe.py decoder` tuned on latent fades (train_vae.stage_decoder):

- `line`: flat colours' latents, and the straight line between gray's and white's, decoded: what a gray object
  washed a little toward a white background decodes to.
- `samples STAGE`: the stage's pictures of six prompt sets (typed_many.py's 72 typed prompts that name a colour and
  no background; "a gray {shape} on a white background" x 12; 48 held-in prompts; each colour alone x 12; the eval's
  24 held-out pairs and 32 two-object prompts, its own seeds, drawn apart as the app draws them), 256 px
  from a 128-px sketch, DDIM 20, guidance 3, fp32, sampled once and decoded by both decoders: the judge's figures,
  and the 72's misses.

    cd training && /usr/bin/python3 diagnostics/fade_probe.py [line | samples STAGE=w2-more-pairs]
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, '.')
from shapes import evaluate as E, world  # noqa: E402
from shapes.checkpoints import load_model, load_tokenizer, load_vae  # noqa: E402
from shapes.common import to_tensor  # noqa: E402

E.setup_threads()
work = Path('work')
scaling = json.loads((work / 'vae_scaling.json').read_text())['scaling_factor']
own, tuned = load_vae(work), load_vae(work, tuned=True)
decoders = {"the VAE's own decoder": own.decoder, 'the tuned decoder': tuned.decoder}
probe = sys.argv[1] if len(sys.argv) > 1 else 'samples'

if probe == 'line':
    names = list(world.COLOURS)
    with torch.no_grad():
        z = own.encoder(torch.stack([to_tensor(np.full((64, 64, 3), world.COLOURS[c], np.uint8)) for c in names]))[0]
    cent = z.mean((2, 3))
    d = torch.cdist(cent, cent)
    print("nearest colours in the latent space:", "; ".join(
        f"{c} {names[int(d[i].argsort()[1])]} {float(d[i].sort().values[1]):.2f}" for i, c in enumerate(names)))
    g, w = z[names.index('gray')], z[names.index('white')]
    print("| gray's latent, this far toward white's | " + " | ".join(decoders) + " |\n| --- | --- | --- |")
    for a in (0.0, 0.25, 0.5, 0.75):
        row = []
        for dec in decoders.values():
            with torch.no_grad():
                img = E.decode(dec, ((1 - a) * g + a * w)[None] * scaling, scaling)[0]
            m = img[16:48, 16:48].reshape(-1, 3).mean(0)
            row.append(f"{tuple(int(v) for v in m)} {E.nearest_colour(m)}")
        print(f"| {a:.2f} | " + " | ".join(row) + " |")
    sys.exit()

stage = sys.argv[2] if len(sys.argv) > 2 else 'w2-more-pairs'
tok = load_tokenizer(work)
text, unet, _ = load_model(work, stage)
unsaid = [p for i, p in enumerate(E.prompt_set('typed', 144, seed=4242))
          if '{bg}' not in E.TYPED[i % len(E.TYPED)] and p[0].objects[0].colour]
gray = [(world.Scene('white', [world.Obj('gray', s, None, None)]), f"a gray {s} on a white background")
        for s in world.SHAPES * 2]
alone = []
for colour in world.COLOURS:
    shapes = [s for s in world.SHAPES if (colour, s) not in world.HELD_OUT]
    alone += [(world.Scene('', [world.Obj(colour, shapes[i % len(shapes)], None, None)]),
               f"a {colour} {shapes[i % len(shapes)]}") for i in range(12)]
sets = {'typed, no background (72)': (unsaid, 3000), 'gray on white, said (12)': (gray, 5000),
        'held-in (48)': (E.prompt_set('held_in', 48, seed=777), 777000), 'each colour alone (132)': (alone, 5000),
        "the eval's held-out pairs (24)": (E.prompt_set('held_out', 24, seed=99 + 8), 0),
        "the eval's two objects (32)": (E.prompt_set('two', 32, seed=99 + 3), 0)}
empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
print(f"{stage}: 256 px from a 128-px sketch, DDIM 20, guidance 3, fp32")
print("| prompts | decoder | " + " | ".join(("background", "colour", "shape")) + " | misses (named -> drawn) |")
print("| --- | --- | --- | --- | --- | --- |")
for name, (ps, seed0) in sets.items():
    ids = torch.tensor([tok.encode(p)[0] for _, p in ps], dtype=torch.int32)
    lat = []
    for i in range(0, len(ps), 8):
        seeds = list(range(seed0 + i, seed0 + min(len(ps), i + 8)))
        lat.append(E.sample_latents(text, unet, ids[i:i + 8], empty, 256, 256, seeds, 20, 3.0, (128, 128),
                                    regional=E.Regional.of(tok, [p for _, p in ps[i:i + 8]], seeds)))
    lat = torch.cat(lat)
    for dname, dec in decoders.items():
        imgs = np.concatenate([E.decode(dec, lat[i:i + 8], scaling) for i in range(0, len(lat), 8)])
        verdicts = [E.judge(im) for im in imgs]
        sc = E.mean_scores([E.score(s, v) for (s, _), v in zip(ps, verdicts)])
        got = [v['objects'][0]['colour'] if v['objects'] else 'nothing' for v in verdicts]
        misses = [f"{s.objects[0].colour}->{g}" for (s, _), g in zip(ps, got) if s.objects[0].colour != g]
        cells = [f"{sc[k]:.0%}" if k in sc else "—" for k in ("background", "colour", "shape")]
        print(f"| {name} | {dname} | " + " | ".join(cells) + f" | {', '.join(misses) if 'no background' in name else len(misses)} |",
              flush=True)
