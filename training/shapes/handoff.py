"""What one session's training hands to the next: `training/checkpoints/`, committed with the code.

The recipe works in `training/work/` (gitignored): data sets, sharded checkpoints with optimiser state,
hundreds of MB. That folder lives on one machine and is gone with it — this project's sessions are not
promised the same machine twice, and two sessions' worth of curriculum (the proxy, stage 2 and the
arms) were lost that way. So every finished piece of the chain is also written here, small enough to
commit, and `recipe.py restore` puts it back into a fresh work folder:

| file | what | bytes |
| --- | --- | --- |
| `tokenizer/` | the recipe's CLIP-layout vocabulary and merges | ~10 K |
| `clip-text.pt` | the CLIP-stage text encoder (fp32; its contrastive image tower stays behind) | ~2.8 M |
| `vae.pt` | the VAE, encoder and decoder (fp32) | ~2 M |
| `vae_scaling.json` | the latents' scaling factor the stages trained with | — |
| `decoder.pt` | the VAE's decoder fine-tuned on latent fades (`recipe.py decoder`; an experiment, not the pack's) | ~1 M |
| `<stage>.pt` | a finished curriculum stage's EMA weights (fp16) and its figures | ~11 M |
| `<stage>.partial.pt` | a stage the session's end cut off: weights and EMA (fp16), its step and figures | ~22 M |
| `guidance.json` | the pack's default guidance, chosen by measurement (`recipe.py guidance`) | — |

One lineage only: the stages were trained on latents of *this* VAE and prompts of *this* text encoder,
so `restore` refuses a work folder whose VAE or text encoder differ from the handed-off ones (a
re-trained VAE is not bit-identical across machines: its scaling factor came out 0.59171 in one session
and 0.60622 in another). A stage starts from the last one's EMA weights (the weights it was judged by),
so fp16 is enough: its rounding (~5e-4 relative) is far below the int8 the pack ships.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from . import checkpoints
from .common import load_sharded, prefixed, save_sharded, unprefixed

HANDOFF = Path(__file__).resolve().parents[1] / "checkpoints"


def digest(state: dict[str, torch.Tensor]) -> str:
    """A short hash of a state dict's names and float32 values (the same weights give the same digest)."""
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _save_pt(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


def _lineage(handoff: Path) -> dict:
    path = handoff / "lineage.json"
    return json.loads(path.read_text()) if path.exists() else {}


def finished_stages(work: Path) -> list[str]:
    """Curriculum stages in `work` that reached their step budget (the arms are measurements: their figures
    live in training/README.md, their weights are not handed on)."""
    from .curriculum import HANDED_THROUGH, RETIRED, STAGES

    done = []
    for name in STAGES:
        if name in RETIRED or name in HANDED_THROUGH:
            continue
        ck = load_sharded(work / "curriculum" / name)
        if ck and ck[1]["step"] >= ck[1]["run"]["steps"]:
            done.append(name)
    return done


def save(work: Path, handoff: Path = HANDOFF, stages: list[str] | None = None) -> list[str]:
    """Write the work folder's finished pieces into `handoff`; returns what was written."""
    written = []
    clip = load_sharded(work / "clip")
    vae = load_sharded(work / "vae")
    assert clip and vae and (work / "vae_scaling.json").exists(), "nothing to hand off: run clip, vae and latents first"
    text, vae_state = unprefixed("text", clip[0]), unprefixed("model", vae[0])
    scaling = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    lineage = {"clip_text": digest(text), "vae": digest(vae_state), "scaling_factor": scaling}
    old = _lineage(handoff)
    if old and any(old.get(k, v) != v for k, v in lineage.items()):
        raise SystemExit(f"{handoff} holds another lineage (text encoder {old['clip_text']}, VAE {old['vae']}; this "
                         f"work folder: {lineage['clip_text']}, {lineage['vae']}; scaling factors {old.get('scaling_factor')} "
                         f"and {scaling}). Its stages were trained on that VAE's "
                         f"latents: restore it (`recipe.py restore`) into a fresh --work, or remove {handoff} to start over.")
    if not old:
        if (handoff / "tokenizer").exists():
            shutil.rmtree(handoff / "tokenizer")
        shutil.copytree(work / "tokenizer", handoff / "tokenizer")
        _save_pt({"text": text, "meta": clip[1] | {"optimizer": None}}, handoff / "clip-text.pt")
        _save_pt({"model": vae_state, "meta": vae[1] | {"optimizer": None}}, handoff / "vae.pt")
        shutil.copy(work / "vae_scaling.json", handoff / "vae_scaling.json")
        (handoff / "lineage.json").write_text(json.dumps(lineage, indent=1) + "\n")
        written += ["tokenizer", "clip-text.pt", "vae.pt", "vae_scaling.json"]
    if (work / "guidance.json").exists():
        shutil.copy(work / "guidance.json", handoff / "guidance.json")
        written.append("guidance.json")
    decoder = load_sharded(work / "decoder")
    if decoder and decoder[1]["step"] >= decoder[1]["steps"]:
        if decoder[1]["vae"] != lineage["vae"]:
            print(f"not handed off: {work / 'decoder'} was tuned from another VAE ({decoder[1]['vae']})")
        else:
            _save_pt({"decoder": unprefixed("decoder", decoder[0]), "meta": decoder[1] | {"optimizer": None}},
                     handoff / "decoder.pt")
            written.append("decoder.pt")
    from .curriculum import STAGES, lineage

    for name in finished_stages(work) if stages is None else stages:
        state, meta = load_sharded(work / "curriculum" / name)  # type: ignore[misc]
        assert not any(STAGES[n].text_lr_scale for n in lineage(name)), \
            f"{name} or a stage before it fine-tunes the text encoder: its handoff would need it too"
        ema = {k: v.half() for k, v in unprefixed("ema", state).items()}
        keep = {k: meta[k] for k in ("step", "run", "evals", "unet")}
        # the whole chain's steps, for a stage whose earlier stages are not handed on (HANDED_THROUGH)
        keep["chain_steps"] = checkpoints.chain_steps(work, name)
        _save_pt({"ema": ema, "meta": keep}, handoff / f"{name}.pt")
        (handoff / f"{name}.partial.pt").unlink(missing_ok=True)
        written.append(f"{name}.pt")
    if stages is None:
        written += _save_unfinished(work, handoff)
    return written


def _save_unfinished(work: Path, handoff: Path) -> list[str]:
    """A stage cut off by the end of a session: its weights and EMA (fp16) and where it was. The next session
    resumes it with a fresh optimiser and a short learning-rate warm-up (AdamW's moments are not kept: they
    would double the file), instead of training it again from its start."""
    from .curriculum import HANDED_THROUGH, RETIRED, STAGES

    written = []
    for name in STAGES:
        if name in RETIRED or name in HANDED_THROUGH:
            continue
        ck = load_sharded(work / "curriculum" / name)
        if not ck or ck[1]["step"] >= ck[1]["run"]["steps"] or ck[1]["step"] == 0 or (handoff / f"{name}.pt").exists():
            continue
        state, meta = ck
        assert not meta["run"]["text_lr_scale"], f"{name} fine-tunes the text encoder: its handoff would need it too"
        keep = {k: meta[k] for k in ("step", "run", "evals", "unet")}
        _save_pt({"unet": {k: v.half() for k, v in unprefixed("unet", state).items()},
                  "ema": {k: v.half() for k, v in unprefixed("ema", state).items()}, "meta": keep},
                 handoff / f"{name}.partial.pt")
        written.append(f"{name}.partial.pt (step {meta['step']:,} of {meta['run']['steps']:,})")
    return written


def restore(work: Path, handoff: Path = HANDOFF) -> list[str]:
    """Put the handed-off pieces into `work` where they are missing; returns what was restored."""
    lineage = _lineage(handoff)
    if not lineage:
        return []
    restored = []
    clip, vae = load_sharded(work / "clip"), load_sharded(work / "vae")
    for have, key, name in ((clip, "text", "clip_text"), (vae, "model", "vae")):
        if have and digest(unprefixed(key, have[0])) != lineage[name]:
            raise SystemExit(f"{work} was trained in another lineage ({name} differs from {handoff}'s): restore into "
                             f"a fresh --work folder, or hand this one off instead.")
    if not (work / "tokenizer").exists():
        shutil.copytree(handoff / "tokenizer", work / "tokenizer")
        restored.append("tokenizer")
    if not clip:
        d = torch.load(handoff / "clip-text.pt")
        save_sharded(prefixed("text", d["text"]), work / "clip", d["meta"] | {"handoff": True})
        restored.append("clip")
    if not vae:
        d = torch.load(handoff / "vae.pt")
        save_sharded(prefixed("model", d["model"]), work / "vae", d["meta"] | {"handoff": True})
        restored.append("vae")
    if (work / "vae_scaling.json").exists():
        have_factor = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
        if have_factor != lineage.get("scaling_factor", have_factor):
            raise SystemExit(f"{work}'s scaling factor {have_factor} is not the handed-off {lineage['scaling_factor']}: "
                             f"restore into a fresh --work folder.")
    else:
        shutil.copy(handoff / "vae_scaling.json", work / "vae_scaling.json")
        restored.append("vae_scaling.json")
    if (handoff / "decoder.pt").exists():
        d = torch.load(handoff / "decoder.pt")
        have = load_sharded(work / "decoder")
        # the handed-off decoder replaces one tuned from another VAE, or one not as far along
        if not have or have[1]["vae"] != d["meta"]["vae"] or have[1]["step"] < d["meta"]["step"]:
            shutil.rmtree(work / "decoder", ignore_errors=True)
            save_sharded(prefixed("decoder", d["decoder"]), work / "decoder", d["meta"] | {"handoff": True})
            restored.append("decoder")
    if (handoff / "guidance.json").exists() and not (work / "guidance.json").exists():
        shutil.copy(handoff / "guidance.json", work / "guidance.json")
        restored.append("guidance.json")
    for path in sorted(handoff.glob("*.pt")):
        name = path.name[:-len(".partial.pt")] if path.name.endswith(".partial.pt") else path.stem
        partial = path.name.endswith(".partial.pt")
        have = load_sharded(work / "curriculum" / name)
        if name in ("clip-text", "vae", "decoder") or (partial and (handoff / f"{name}.pt").exists()):
            continue
        d = torch.load(path)
        if have and have[1]["step"] >= d["meta"]["step"]:
            continue
        ema = {k: v.float() for k, v in d["ema"].items()}
        folder = work / "curriculum" / name
        # No optimiser state travels: whatever trains on from here (the rest of a cut-off stage, or more steps
        # of a finished one) starts a fresh optimiser with the learning rate warmed up again.
        meta = d["meta"] | {"handoff": True, "rewarm_from": d["meta"]["step"]}
        if partial:  # resumes from its step
            weights = {k: v.float() for k, v in d["unet"].items()}
        else:  # done; the next stage starts from its EMA (weights and EMA alike)
            weights = unprefixed("unet", ema)
        save_sharded({**prefixed("unet", weights), **prefixed("ema", ema)}, folder, meta)
        (folder / "evals.json").write_text(json.dumps(d["meta"]["evals"], indent=1) + "\n")
        restored.append(f"{name} (step {d['meta']['step']:,}{', to resume' if partial else ''})")
    return restored
