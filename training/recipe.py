#!/usr/bin/env python3
"""The stand-in "shapes" pack's recipe. See training/README.md for the commands and what they produced.

    python3 training/recipe.py STAGE [--work training/work] [--device cpu|cuda] [--minutes 10] [--steps N]

Stages, in order: vocab, clip, vae, latents, then the curriculum (`curriculum --stage NAME` for each of
shapes/curriculum.py's STAGES; `proxy` is the first), guidance, export, eval, samples (or `all`); `unet`:
the single long run the pack was made with before the curriculum (training/README.md tells its story);
`handoff` / `restore`: write the finished pieces of the work folder into training/checkpoints/ (committed)
and put them back into a fresh one (shapes/handoff.py); and `fixtures`:
tiny random-weight packs with the signatures of real SD exports, for the app's compatibility tests;
and `probe`: does the UNet read the object's colour and shape from the prompt, and from which noise
level does it keep a picture's own outline (diagnostics); `proxy --arm NAME`: the proxy world a UNet
learns shapes in, or one of its arms (shapes/curriculum.py), and `arms`: their table; `curriculum --stage
NAME`: one stage of the curriculum that widens the proxy world step by step, and `stages`: its table;
`sd15-scale`: SD 1.5's three networks at their real size with random weights, fp32 and fp16, in the diffusers
ONNX layouts (shapes/sd15.py), for the app's real-size paths.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# torch's own threads (TORCH_THREADS, shapes/common.setup_threads) do the parallel work; OpenBLAS starting its
# own as well oversubscribes the cores: one proxy step took 0.50 s on 2 torch threads, 0.195 s with OpenBLAS
# at one thread (0.245 s on 1 torch thread). Set before torch loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shapes import train_clip, train_unet, train_vae  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_STEPS = {"clip": train_clip.CLIP_STEPS, "vae": 6000, "decoder": train_vae.DECODER_STEPS,
                 "unet": train_unet.PHASES[-1][1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["vocab", "clip", "vae", "latents", "decoder", "unet", "guidance", "export", "eval", "samples",
                                      "fixtures", "probe", "proxy", "arms", "curriculum", "stages", "handoff", "restore",
                                      "sd15-scale", "all"])
    ap.add_argument("--arm", default="proxy", help="with `proxy`: which arm (shapes/curriculum.py ARMS)")
    ap.add_argument("--stage", dest="curriculum_stage", default="s2-wide", help="with `curriculum`: which stage (shapes/curriculum.py STAGES)")
    ap.add_argument("--from", dest="source", default=None,
                    help="with guidance, export, eval, samples: the weights — a curriculum stage (default: the shipped "
                         "pack's, shapes/curriculum.py SHIPPED) or `unet`, the single long run; with probe the default is `unet`")
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--handoff", type=Path, default=HERE / "checkpoints",
                    help="with handoff / restore: the committed folder that carries training between sessions")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--minutes", type=float, default=10.0, help="wall-clock allowance of a training stage")
    ap.add_argument("--steps", type=int, default=None, help="total optimiser steps of a training stage "
                    f"(defaults: {DEFAULT_STEPS})")
    ap.add_argument("--pack", type=Path, default=HERE.parent / "public" / "models" / "shapes-int8")
    ap.add_argument("--parity", type=Path, default=HERE.parent / "test" / "fixtures" / "shapes-int8-parity.json",
                    help="where export writes the reference outputs the pack's onnxruntime-web test compares with")
    ap.add_argument("--samples-dir", type=Path, default=HERE / "samples")
    ap.add_argument("--fixtures-out", type=Path, default=HERE.parent / "test" / "fixtures" / "packs",
                    help="where `fixtures` writes the random-weight packs with real SD exports' signatures")
    ap.add_argument("--clip-tokenizer", type=Path, default=HERE.parent.parent / "shared" / "clip-tokenizer",
                    help="SD's real CLIP vocabulary (vocab.json, merges.txt) for the fixture packs")
    ap.add_argument("--sd15-out", type=Path, default=HERE / "work" / "sd15-scale",
                    help="where `sd15-scale` writes SD 1.5-size random-weight packs (several GB; never committed)")
    ap.add_argument("--forms", default="fp32,fp16", help="with `sd15-scale`: which exports (fp32, fp16)")
    ap.add_argument("--factor-only", action="store_true",
                    help="with `latents`: measure the scaling factor only (all the curriculum needs), keep no data set")
    ap.add_argument("--quick", action="store_true", help="tiny budgets, for the recipe's own tests")
    ap.add_argument("--kinds", default=None,
                    help="with `eval`: only these prompt kinds (comma-separated: held_in, held_out, two, position, "
                         "typed), their rows replaced in the work folder's eval_report.json and the rest kept")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    from shapes.curriculum import SHIPPED, STAGES, still_to_train
    source = a.source or SHIPPED
    run_all = a.stage == "all"
    # `all` trains the shipped pack's stage and the stages it starts from (the others are experiments; train
    # them by name)
    # (from the last stage of its chain already finished here: a restored folder may hold only that one)
    upto = still_to_train(a.work, source, a.quick) if source in STAGES else list(STAGES)
    stages = ["vocab", "clip", "vae", "latents", *(f"curriculum:{name}" for name in upto), "guidance", "export", "eval",
              "samples"] if run_all else [a.stage]
    for s in stages:
        if s.startswith("curriculum:"):
            from shapes import curriculum
            run = curriculum.STAGES[s.split(":")[1]]
            # One slice of at most --minutes after another until the stage is done.
            while curriculum.stage_curriculum(a.work, s.split(":")[1], a.device, a.minutes, quick_run=a.quick) < \
                    (6 if a.quick else run.steps):
                pass
            continue
        if s == "vocab":
            train_clip.stage_vocab(a.work)
        elif s in ("clip", "vae", "decoder", "unet"):
            steps = 5 if a.quick else a.steps or DEFAULT_STEPS[s]
            stage = {"clip": train_clip.stage_clip, "vae": train_vae.stage_vae, "decoder": train_vae.stage_decoder,
                     "unet": train_unet.stage_unet}[s]
            extra = {"batch": 16, "scenes": 64} if a.quick and s == "clip" else {}
            # One slice of at most --minutes; `all` keeps slicing until the stage is done.
            while stage(a.work, a.device, steps, a.minutes, **extra) < steps and run_all:
                pass
        elif s == "latents":
            train_vae.stage_latents(a.work, a.device, scale=0.01 if a.quick else 1.0, factor_only=a.factor_only or run_all)
        elif s == "export":
            from shapes import export
            export.stage_export(a.work, a.pack, a.parity, source)
        elif s == "eval":
            from shapes import evaluate
            evaluate.stage_eval(a.work, source, quick=a.quick, kinds=a.kinds.split(",") if a.kinds else None)
        elif s == "guidance":
            from shapes import evaluate
            evaluate.stage_guidance(a.work, source, quick=a.quick)
        elif s == "handoff":
            from shapes import handoff
            print("handed off:", ", ".join(handoff.save(a.work, a.handoff)) or "nothing new")
        elif s == "restore":
            from shapes import handoff
            print("restored:", ", ".join(handoff.restore(a.work, a.handoff)) or "nothing (the work folder has it all)")
        elif s == "probe":
            from shapes import probe
            probe.stage_probe(a.work, a.source or "unet")
        elif s == "proxy":
            from shapes import curriculum
            curriculum.stage_proxy(a.work, a.arm, a.device, a.minutes, quick_run=a.quick)
        elif s == "curriculum":
            from shapes import curriculum
            curriculum.stage_curriculum(a.work, a.curriculum_stage, a.device, a.minutes, quick_run=a.quick)
        elif s == "stages":
            from shapes import curriculum
            print(curriculum.stages_table(a.work))
        elif s == "arms":
            from shapes import curriculum
            print(curriculum.arms_table(a.work))
        elif s == "sd15-scale":
            from shapes import sd15
            sd15.stage_sd15_scale(a.sd15_out, a.clip_tokenizer, a.forms.split(","))
        elif s == "fixtures":
            from shapes import fixtures
            fixtures.stage_fixtures(a.fixtures_out, a.clip_tokenizer)
        elif s == "samples":
            from shapes import evaluate
            evaluate.stage_samples(a.work, a.samples_dir, source, quick=a.quick)


if __name__ == "__main__":
    main()
