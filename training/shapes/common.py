"""Shared pieces of the recipe: the SD 1.5 noise schedule, sharded checkpoints, time-boxed stages."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

# Seeds are fixed: data by step number, weights by SEED.
SEED = 1234


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HWC -> float CHW in [-1, 1]."""
    return torch.from_numpy(img).permute(2, 0, 1).float() / 127.5 - 1.0


# SD 1.5's training schedule: "scaled_linear" betas from 0.00085 to 0.012 over 1000 steps
# (diffusers' DDPMScheduler config of runwayml/stable-diffusion-v1-5).
NUM_TRAIN_TIMESTEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012
SHARD_BYTES = 15 * 1024 * 1024  # every file handed back from the GPU machine must stay under 16 MiB


def alphas_cumprod() -> torch.Tensor:
    betas = torch.linspace(BETA_START ** 0.5, BETA_END ** 0.5, NUM_TRAIN_TIMESTEPS, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).float()


def setup_threads() -> None:
    # Debian's torch starts with one thread; use every core we were given.
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", os.cpu_count() or 1)))


def save_sharded(state: dict[str, torch.Tensor], folder: Path, meta: dict) -> None:
    """Save a flat state dict as shards of at most SHARD_BYTES, atomically (index written last)."""
    folder.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k, v in state.items():
        n = v.numel() * v.element_size()
        if size + n > SHARD_BYTES and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][k] = v.detach().cpu().clone()
        size += n
    names = []
    for i, sh in enumerate(shards):
        name = f"shard-{i:03d}.pt"
        torch.save(sh, folder / (name + ".tmp"))
        os.replace(folder / (name + ".tmp"), folder / name)
        names.append(name)
    index = folder / "index.json"
    index.with_suffix(".tmp").write_text(json.dumps({"shards": names, "meta": meta}, indent=1))
    os.replace(index.with_suffix(".tmp"), index)


def load_sharded(folder: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    index = folder / "index.json"
    if not index.exists():
        return None
    info = json.loads(index.read_text())
    state: dict[str, torch.Tensor] = {}
    for name in info["shards"]:
        state.update(torch.load(folder / name, map_location="cpu"))
    return state, info["meta"]


def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer's state as flat tensors (sharded like the weights) plus its JSON-able remainder."""
    sd = opt.state_dict()
    flat, small = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v) and v.numel() > 1:
                flat[f"opt.{idx}.{k}"] = v
            else:
                small[f"{idx}.{k}"] = float(v)
    return flat, {"param_groups": sd["param_groups"], "scalars": small}


def load_optimizer_state(opt: torch.optim.Optimizer, flat: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for key, v in flat.items():
        if key.startswith("opt."):
            _, idx, k = key.split(".", 2)
            state.setdefault(int(idx), {})[k] = v
    for key, v in meta["scalars"].items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = torch.tensor(v)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def load_modules(state: dict[str, torch.Tensor], modules: dict[str, torch.nn.Module]) -> None:
    """Restore several modules from one sharded checkpoint, each under its own key prefix."""
    for prefix, module in modules.items():
        module.load_state_dict(unprefixed(prefix, state))


def prefixed(prefix: str, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in sd.items()}


def unprefixed(prefix: str, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}


class Deadline:
    """A stage runs until its step budget is done or its wall-clock allowance runs out."""

    def __init__(self, minutes: float):
        self.end = time.time() + minutes * 60

    def passed(self) -> bool:
        return time.time() > self.end


def step_with_ema(opt: torch.optim.Optimizer, loss: torch.Tensor, params: list[torch.Tensor],
                  ema: dict[str, torch.Tensor], named: list[tuple[str, torch.Tensor]], step: int) -> None:
    """One optimiser step (gradients clipped to norm 1.0), then the EMA of `named` parameters, with the
    usual warm-up (decay min(0.999, (1 + step) / (10 + step)), `step` counted after this one)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    decay = min(0.999, (1 + step) / (10 + step))
    with torch.no_grad():
        for name, p in named:
            ema[name].mul_(decay).add_(p.detach(), alpha=1 - decay)
