"""Which ways of typing a prompt fail, and how: 72 prompts in `evaluate.TYPED`'s six forms (12 each), int8,
256 px, DDIM 20, guidance 4.5, noise seeds 500..571; each miss printed with what the judge saw, then each
form's scores (training/README.md, "The shipped pack").

    cd training && /usr/bin/python3 diagnostics/typed_probe.py [STAGE=s7-one512]
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, '.')
from shapes import evaluate as E  # noqa: E402
from shapes.checkpoints import load_model, load_tokenizer, load_vae  # noqa: E402
from shapes.quantize import int8_copy  # noqa: E402

E.setup_threads()
work = Path('work')
stage = sys.argv[1] if len(sys.argv) > 1 else 's7-one512'
tok = load_tokenizer(work)
text, unet, _ = load_model(work, stage)
te, un, de = int8_copy(text), int8_copy(unet), int8_copy(load_vae(work).decoder)
scaling = json.loads((work / 'vae_scaling.json').read_text())['scaling_factor']
prompts = E.prompt_set('typed', 72, seed=777)
imgs = E.render_set(te, un, de, tok, prompts, (256, 256), 4.5, scaling, seed0=500)
by_form: dict = {}
for i, ((scene, prompt), img) in enumerate(zip(prompts, imgs)):
    verdict = E.judge(img)
    s = E.score(scene, verdict)
    by_form.setdefault(E.TYPED[i % len(E.TYPED)], []).append(s)
    if not all(s.values()):
        seen = [f"{o['colour']} {o['shape']}" for o in verdict['objects']]
        print(f"{prompt!r:45} -> background {verdict['background']}, {seen or 'no object'}")
for form, scores in by_form.items():
    print(f'{form:30} ' + '  '.join(f'{k} {v:.0%}' for k, v in E.mean_scores(scores).items()))
