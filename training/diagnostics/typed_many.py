"""The eval's typed prompts at four times its count (144: `evaluate.TYPED`'s six forms, 24 each; their own prompts
and seeds, not the eval's), 256 px from a 128-px sketch, DDIM 20, the pack's guidance, fp32 and int8 on the same
seeds: each form's colour, and how many pictures int8's verdict differs from fp32's on (paired, not two rates).

    cd training && /usr/bin/python3 diagnostics/typed_many.py [STAGE=w2-more-pairs] [N=144] [GUIDANCE=the pack's]
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, '.')
from shapes import evaluate as E  # noqa: E402
from shapes.checkpoints import load_model, load_tokenizer, load_vae  # noqa: E402
from shapes.export import default_guidance  # noqa: E402
from shapes.quantize import int8_copy  # noqa: E402

E.setup_threads()
work = Path('work')
stage = sys.argv[1] if len(sys.argv) > 1 else 'w2-more-pairs'
n = int(sys.argv[2]) if len(sys.argv) > 2 else 144
tok = load_tokenizer(work)
text, unet, _ = load_model(work, stage)
de = load_vae(work).decoder
scaling = json.loads((work / 'vae_scaling.json').read_text())['scaling_factor']
g = float(sys.argv[3]) if len(sys.argv) > 3 else default_guidance(work, stage)
prompts = E.prompt_set('typed', n, seed=4242)
verdicts, on_named = {}, {}
for prec, (te, un, dd) in {"fp32": (text, unet, de), "int8": (int8_copy(text), int8_copy(unet), int8_copy(de))}.items():
    imgs = E.render_set(te, un, dd, tok, prompts, (256, 256), g, scaling, seed0=3000, layout=(128, 128))
    judged = [E.judge(im) for im in imgs]
    verdicts[prec] = [E.score(s, j) for (s, _), j in zip(prompts, judged)]
    on_named[prec] = sum(bool(s.objects[0].colour) and not s.background and j["background"] == s.objects[0].colour
                         for (s, _), j in zip(prompts, judged))
    rows = {}
    for i, v in enumerate(verdicts[prec]):
        rows.setdefault(E.TYPED[i % len(E.TYPED)], []).append(v)
    print(f"{prec}, {n} typed prompts, guidance {g:g}: " + "  ".join(f"{k} {v:.1%}" for k, v in E.mean_scores(verdicts[prec]).items()))
    for form, vs in rows.items():
        print(f"  {form!r:32s} " + "  ".join(f"{k} {v:.0%}" for k, v in E.mean_scores(vs).items()), flush=True)
    # which colours the forms with no background miss, and how many of those pictures put it on the background
    misses: dict = {}
    for i, ((scene, _), v) in enumerate(zip(prompts, verdicts[prec])):
        if "{bg}" not in E.TYPED[i % len(E.TYPED)] and not v.get("colour", True):
            misses[scene.objects[0].colour] = misses.get(scene.objects[0].colour, 0) + 1
    said = {}
    for i, (scene, _) in enumerate(prompts):
        if "{bg}" not in E.TYPED[i % len(E.TYPED)] and scene.objects[0].colour:
            said[scene.objects[0].colour] = said.get(scene.objects[0].colour, 0) + 1
    print("  colour misses with no background said, by the named colour: " +
          ", ".join(f"{c} {k} of {said[c]}" for c, k in sorted(misses.items(), key=lambda kv: -kv[1])) +
          f"; drawn on a background of the named colour: {on_named[prec]}", flush=True)
    unsaid = [v for form, vs in rows.items() if "{bg}" not in form for v in vs]
    print("  forms that say no background: " + "  ".join(f"{k} {v:.1%}" for k, v in E.mean_scores(unsaid).items()), flush=True)
differ = sum(a != b for a, b in zip(verdicts["fp32"], verdicts["int8"]))
print(f"int8's verdict differs from fp32's on {differ} of {n} pictures")
