"""Where a stage's object colour goes wrong: 96 held-in prompts of another draw than the eval's
(`evaluate.prompt_set("held_in", 96, seed=4242)`, noise seeds 300-395), fp32, DDIM 20, at each guidance given;
every miss printed with what the judge saw, then the scores (training/README.md, "The shipped pack").

    cd training && /usr/bin/python3 diagnostics/colour_misses.py [STAGE=s7-one512] [PX=256] [GUIDANCE=4.5 ...]
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, '.')
from shapes import evaluate as E  # noqa: E402
from shapes.checkpoints import load_model, load_tokenizer, load_vae  # noqa: E402

E.setup_threads()
work = Path('work')
stage = sys.argv[1] if len(sys.argv) > 1 else 's7-one512'
px = int(sys.argv[2]) if len(sys.argv) > 2 else 256
scales = [float(g) for g in sys.argv[3:]] or [4.5]
tok = load_tokenizer(work)
text, unet, _ = load_model(work, stage)
decoder = load_vae(work).decoder
scaling = json.loads((work / 'vae_scaling.json').read_text())['scaling_factor']
prompts = E.prompt_set('held_in', 96, seed=4242)
for g in scales:
    imgs = E.render_set(text, unet, decoder, tok, prompts, (px, px), g, scaling, seed0=300)
    scores = []
    for (scene, prompt), img in zip(prompts, imgs):
        verdict = E.judge(img)
        s = E.score(scene, verdict)
        scores.append(s)
        if not s.get('colour', True):
            seen = [f"{o['colour']} {o['shape']}" for o in verdict['objects']]
            print(f"g {g}: {prompt!r:50} -> background {verdict['background']}, {seen or 'no object'}")
    print(f'{stage} {px} px guidance {g}: ' + '  '.join(f'{k} {v:.0%}' for k, v in E.mean_scores(scores).items()), flush=True)
