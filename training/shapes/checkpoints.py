"""Loading what the training stages saved: the tokenizer, the VAE, the text encoder + UNet (with their EMA).

Every stage checkpoints into the work folder as sharded state dicts (common.save_sharded). EMA weights
are kept by parameter name ("text.<name>", "unet.<name>"), so restoring them does not depend on the
order in which a module lists its parameters; checkpoints from before that kept them by position in
`list(text.parameters()) + list(unet.parameters())`, and `ema_by_name` reads those too.
"""
from __future__ import annotations

from pathlib import Path

import torch

from . import bpe
from .common import load_sharded, unprefixed
from .models import AutoencoderKL, TextConfig, TextEncoder, UNet, UNetConfig, VaeConfig


def load_tokenizer(work: Path) -> bpe.ClipTokenizer:
    return bpe.ClipTokenizer.from_files(work / "tokenizer")


def load_vae(work: Path, device: str = "cpu", tuned: bool = False) -> AutoencoderKL:
    """The VAE; with `tuned`, its decoder the one `recipe.py decoder` tuned on latent fades (train_vae.stage_decoder;
    an experiment the pack does not ship, training/README.md round twelve). The encoder, so the latents, are the VAE
    stage's either way."""
    state, _ = load_sharded(work / "vae")  # type: ignore[misc]
    vae = AutoencoderKL(VaeConfig())
    vae.load_state_dict(unprefixed("model", state))
    if tuned:
        from .handoff import digest

        tuned_ck = load_sharded(work / "decoder")
        if not tuned_ck or tuned_ck[1]["step"] < tuned_ck[1]["steps"]:
            raise SystemExit(f"{work / 'decoder'} is not finished: run `recipe.py decoder`")
        if tuned_ck[1]["vae"] != digest(unprefixed("model", state)):
            raise SystemExit(f"{work / 'decoder'} was tuned from another VAE than {work / 'vae'}'s: remove it and run "
                             f"`recipe.py decoder` again (or restore both into a fresh --work)")
        vae.decoder.load_state_dict(unprefixed("decoder", tuned_ck[0]))
    return vae.to(device).eval()



def load_unet_weights(unet: UNet, state: dict[str, torch.Tensor]) -> None:
    """A checkpoint from before POOLED_FROM has no pooled-text embedding: it keeps its fresh zero output."""
    missing, unexpected = unet.load_state_dict(unprefixed("unet", state), strict=False)
    assert not unexpected and all(k.startswith("text_embedding.") for k in missing), (missing, unexpected)



def text_unet_names(text: TextEncoder, unet: UNet) -> list[str]:
    """The names EMA weights are kept under, in the order of `list(text.parameters()) + list(unet.parameters())`."""
    return [f"text.{n}" for n, _ in text.named_parameters()] + [f"unet.{n}" for n, _ in unet.named_parameters()]


def ema_by_name(state: dict[str, torch.Tensor], names: list[str]) -> dict[str, torch.Tensor]:
    """A checkpoint's EMA weights by parameter name; an older checkpoint's positional keys ("0", "1", …) are
    mapped through `names`, the parameter order they were saved in."""
    ema = unprefixed("ema", state)
    if ema and all(k.isdigit() for k in ema):
        return {names[int(k)]: v for k, v in ema.items()}
    return ema


def load_text_unet(work: Path, use_ema: bool = True, device: str = "cpu") -> tuple[TextEncoder, UNet, int]:
    state, meta = load_sharded(work / "unet")  # type: ignore[misc]
    text = TextEncoder(TextConfig(vocab_size=meta["text"]["vocab_size"]))
    unet = UNet(UNetConfig())
    text.load_state_dict(unprefixed("text", state))
    load_unet_weights(unet, state)
    if use_ema:
        ema = ema_by_name(state, text_unet_names(text, unet))
        params = {f"text.{n}": p for n, p in text.named_parameters()} | {f"unet.{n}": p for n, p in unet.named_parameters()}
        unknown = set(ema) - set(params)
        assert not unknown, f"EMA weights for parameters these networks do not have: {sorted(unknown)[:5]}"
        with torch.no_grad():
            for name, p in params.items():
                if name in ema:  # (a checkpoint from before POOLED_FROM: the pooled-text output stays zero)
                    p.copy_(ema[name])
    return text.to(device).eval(), unet.to(device).eval(), meta["step"]


def load_clip_text(work: Path) -> TextEncoder:
    """The CLIP-stage text encoder (`recipe.py clip`), which the curriculum keeps frozen."""
    pre = load_sharded(work / "clip")
    assert pre, f"run `recipe.py clip` (or `recipe.py restore`) first ({work / 'clip'} is missing)"
    text = TextEncoder(TextConfig(vocab_size=len(load_tokenizer(work).vocab)))
    text.load_state_dict(unprefixed("text", pre[0]))
    return text


def inherited_text(work: Path, stage: str) -> TextEncoder:
    """The text encoder a run starting from `stage` meets: the EMA text encoder of the nearest stage up its chain
    that fine-tuned one (`stage` itself first), else the CLIP-stage one. A stage that keeps the encoder frozen
    after one that tuned it keeps the tuned one (its UNet learned to read that one's states)."""
    text = load_clip_text(work)
    while stage:
        ck = load_sharded(work / "curriculum" / stage)
        assert ck, f"`{stage}` is not in {work / 'curriculum'}"
        ema = unprefixed("ema", ck[0])
        if any(k.startswith("text.") for k in ema):
            text.load_state_dict(unprefixed("text", ema))
            return text
        # a handed-off stage without the stages before it: none of its chain tuned the encoder (handoff.save)
        stage = "" if "chain_steps" in ck[1] else ck[1]["run"].get("init", "")
    return text


def load_stage(work: Path, stage: str, device: str = "cpu") -> tuple[TextEncoder, UNet, int]:
    """A curriculum stage's EMA weights (shapes/curriculum.py) with the text encoder it trained with: its own EMA
    where the run fine-tuned it, else the one it inherited (`inherited_text`). The step is the whole chain's: the stage's
    own steps plus those of the stages it started from."""
    ck = load_sharded(work / "curriculum" / stage)
    assert ck, f"train (or `recipe.py restore`) the curriculum stage `{stage}` first"
    state, meta = ck
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in meta.get("unet", {}).items()}
    text, unet = inherited_text(work, stage), UNet(UNetConfig(**cfg))
    unet.load_state_dict(unprefixed("unet", unprefixed("ema", state)))
    return text.to(device).eval(), unet.to(device).eval(), chain_steps(work, stage)


def chain_steps(work: Path, stage: str) -> int:
    """A stage's steps and those of every stage it started from. A stage restored from a handoff that did not
    carry the stages before it (curriculum.HANDED_THROUGH) says its chain's steps itself (`chain_steps`)."""
    steps, name, first = 0, stage, True
    while name:
        ck = load_sharded(work / "curriculum" / name)
        assert ck and (first or ck[1]["step"] >= ck[1]["run"]["steps"]), \
            f"`{stage}` started from `{name}`, which is not (finished) in {work / 'curriculum'}"
        if "chain_steps" in ck[1]:
            return steps + ck[1]["chain_steps"]
        steps, name, first = steps + ck[1]["step"], ck[1]["run"].get("init", ""), False
    return steps


def load_model(work: Path, source: str, device: str = "cpu") -> tuple[TextEncoder, UNet, int]:
    """The text encoder and UNet a pack is made from: `unet` — the single long run (`recipe.py unet`) — or a
    curriculum stage by name."""
    return load_text_unet(work, device=device) if source == "unet" else load_stage(work, source, device)
