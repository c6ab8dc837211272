"""Export to ONNX with the names SD ONNX exports use, quantize weights to int8, write the pack.

Quantization is weight-only, per output channel, symmetric (W8A16's idea, with float32 activations
here): w ~= scale[c] * q, q = round(w / scale[c]) in [-127, 127], scale[c] = max|w[c]| / 127.
The int8 tensor is stored as the initializer and a DequantizeLinear node (opset 13+, `axis`) turns it
back into float at load time, so every runtime that runs plain ONNX runs the pack.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import torch

from . import world
from .common import BETA_END, BETA_START, NUM_TRAIN_TIMESTEPS, SEED, to_tensor
from .models import VaeDecoderExport
from .checkpoints import load_model, load_tokenizer, load_vae
from . import evaluate
from .evaluate import EXAMPLE_PROMPTS
from .quantize import int8_copy, quantize_model

OPSET = 17
PACK_ID = "shapes-int8"


def _export(module: torch.nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=OPSET, do_constant_folding=True)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    bad = {n.domain for n in model.graph.node if n.domain not in ("", "ai.onnx")}
    assert not bad, f"non-standard op domains in {path}: {bad}"


def export_fp32(work: Path, source: str) -> Path:
    out = work / "onnx-fp32"
    text, unet, _ = load_model(work, source)
    vae = load_vae(work)
    ids = torch.zeros(1, 77, dtype=torch.int32)
    _export(text, (ids,), out / "text_encoder" / "model.onnx", ["input_ids"], ["last_hidden_state"],
            {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}})
    sample = torch.randn(2, 4, 32, 32)
    timestep = torch.tensor([500.0], dtype=torch.float32)
    ctx = torch.randn(2, 77, text.cfg.width)
    _export(unet, (sample, timestep, ctx), out / "unet" / "model.onnx",
            ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
            {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "timestep_batch"},
             "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
    _export(VaeDecoderExport(vae.decoder).eval(), (torch.randn(1, 4, 32, 32),), out / "vae_decoder" / "model.onnx",
            ["latent_sample"], ["sample"],
            {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scheduler_config() -> dict:
    """SD 1.5's scheduler/scheduler_config.json (PNDM, PLMS steps only), with the schedule the pack was
    trained on."""
    return {
        "_class_name": "PNDMScheduler",
        "num_train_timesteps": NUM_TRAIN_TIMESTEPS,
        "beta_start": BETA_START,
        "beta_end": BETA_END,
        "beta_schedule": "scaled_linear",
        "prediction_type": "epsilon",
        "timestep_spacing": "leading",
        "steps_offset": 1,
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "clip_sample": False,
    }


def stage_export(work: Path, pack: Path, parity: Path, source: str) -> None:
    """The pack from `source`: a curriculum stage (the shipped pack: the last one) or the single long run (`unet`)."""
    fp32 = export_fp32(work, source)
    if pack.exists():
        shutil.rmtree(pack)
    report = {}
    for part in ("text_encoder", "unet", "vae_decoder"):
        model, stats = quantize_model(onnx.load(str(fp32 / part / "model.onnx")))
        (pack / part).mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(pack / part / "model.onnx"))
        report[part] = {**stats, "fp32_file_bytes": (fp32 / part / "model.onnx").stat().st_size,
                        "int8_file_bytes": (pack / part / "model.onnx").stat().st_size}
        print(part, report[part])
    shutil.copytree(work / "tokenizer", pack / "tokenizer")
    (pack / "scheduler").mkdir()
    (pack / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler_config(), indent=2) + "\n")
    write_manifest(work, pack, source)
    write_parity(work, parity, source)
    (work / "export_report.json").write_text(json.dumps(report, indent=1))


def latent_rgb_fit(work: Path, scaling: float, n: int = 64) -> dict:
    """A linear map from (scaled) latents to RGB in [0, 1] at 1/8 resolution, for a live preview of
    the denoising without running the VAE: least squares between latents and their decoded images,
    8x8-average-pooled (the same idea as the latent-to-RGB factors people use for SD 1.5's previews).
    The latents are the VAE's own of n scenes of the world at 256 px (drawn here, so a work folder
    restored from training/checkpoints, which has no latent data set, exports too)."""
    rng = np.random.default_rng(SEED * 19)
    vae = load_vae(work)
    imgs = torch.stack([to_tensor(world.render(world.sample_scene(rng, 256, 256, "any"), 256, 256)) for _ in range(n)])
    with torch.no_grad():
        z, _ = vae.encoder(imgs)
        rgb = (vae.decoder(z).clamp(-1, 1) + 1) / 2
    target = torch.nn.functional.avg_pool2d(rgb, 8).permute(0, 2, 3, 1).reshape(-1, 3)
    x = torch.cat([(z * scaling).permute(0, 2, 3, 1).reshape(-1, 4), torch.ones(target.shape[0], 1)], dim=1)
    sol = torch.linalg.lstsq(x, target).solution  # [5, 3]
    err = float((x @ sol - target).abs().mean())
    print(f"latent->RGB preview fit: mean abs error {err:.3f} (0..1 scale)")
    return {"latentRgbFactors": [[round(float(v), 5) for v in row] for row in sol[:4]],
            "latentRgbBias": [round(float(v), 5) for v in sol[4]]}


def default_guidance(work: Path, source: str) -> float:
    """The guidance `recipe.py guidance` chose by measurement for these weights (7.5, SD's, where it has not run
    on them)."""
    path = work / "guidance.json"
    if path.exists():
        measured = json.loads(path.read_text())
        if measured["source"] == source:
            return float(measured["chosen"])
        print(f"guidance.json measured `{measured['source']}`, not `{source}`: guidance 7.5 (run `recipe.py guidance "
              f"--from {source}`)")
    return 7.5


def default_side(trained: list[str], lo: int = 256, hi: int = 768) -> int:
    """The pack's default picture side: the largest square it was trained at that the app allows (weights
    trained at 256 px draw each object several times at 512 px), else SD 1.5's 512."""
    squares = [int(t.split("x")[0]) for t in trained if len(set(t.split("x"))) == 1]
    return max((s for s in squares if lo <= s <= hi), default=512)


def trained_sizes(source: str) -> list[str]:
    """The picture sizes the weights were trained at: the single long run's resolutions, or the worlds of a
    curriculum stage and of the stages it started from."""
    if source == "unet":
        return sorted({f"{w}x{h}" for w, h in world.RESOLUTIONS})
    from .curriculum import STAGES
    sizes, name = set(), source
    while name:
        run = STAGES[name]
        sizes |= {"{}x{}".format(*w.px()) for w, _, _ in run.parts()}
        name = run.init
    return sorted(sizes)


def layout_side(source: str) -> int | None:
    """The side the weights lay a picture out at: where they learned several objects, their sizes and
    positions. Larger pictures are drawn in two passes from a layout at this side (the app's and the eval's
    `512px/256`). The curriculum's stages compose at 256 px (stage 7's 512-px world holds single objects
    only: it teaches finishing an upscaled layout, not laying one out); the single long run saw every
    size from 256 to 512 px, and the early stages only 128 px (none). A stage that composes elsewhere says so
    (`Run.layout`: the layout lineage sketches at 128 px and trains its larger sizes only to redraw), and the
    stages after it inherit it unless they say otherwise."""
    if source == "unet":
        return None
    from .curriculum import STAGES
    name = source
    while name:
        if STAGES[name].layout:
            return STAGES[name].layout
        name = STAGES[name].init
    return 256 if "256x256" in trained_sizes(source) else None


def write_manifest(work: Path, pack: Path, source: str) -> None:
    _, unet, step = load_model(work, source)
    vocab = json.loads((pack / "tokenizer" / "vocab.json").read_text(encoding="utf-8"))
    vae_scale = json.loads((work / "vae_scaling.json").read_text())["scaling_factor"]
    preview = latent_rgb_fit(work, vae_scale)
    roles = {"text_encoder/model.onnx": "text_encoder", "unet/model.onnx": "unet",
             "vae_decoder/model.onnx": "vae_decoder", "tokenizer/vocab.json": "tokenizer_vocab",
             "tokenizer/merges.txt": "tokenizer_merges", "scheduler/scheduler_config.json": "scheduler_config"}
    files = [{"path": p, "role": r, "size": (pack / p).stat().st_size, "sha256": sha256(pack / p)}
             for p, r in roles.items()]
    trained = trained_sizes(source)
    layout = layout_side(source)
    # a pack opens at its layout side, or at the app's smallest size (256) above a smaller one
    side = max(layout, 256) if layout else default_side(trained)
    manifest = {
        "format": "pocket-diffusion-pack",
        "formatVersion": 1,
        "id": PACK_ID,
        "name": "Shapes (stand-in SD 1.x, int8)",
        "description": ("A small model in Stable Diffusion 1.x's exact format, trained by training/ on "
                        "procedurally drawn coloured shapes. It draws prompts such as 'a red circle on a "
                        "blue background'."),
        "examplePrompts": [prompt for prompt, _ in EXAMPLE_PROMPTS],
        "architecture": "stable-diffusion-1",
        "trainingSteps": step,
        "files": files,
        "tokenizer": {"type": "clip-bpe", "maxLength": 77, "bosTokenId": vocab["<|startoftext|>"],
                      "eosTokenId": vocab["<|endoftext|>"], "padTokenId": vocab["<|endoftext|>"]},
        "textEncoder": {"hiddenSize": 128, "inputIdsDtype": "int32"},
        "unet": {"inChannels": 4, "weights": "int8-per-channel", "compute": "float32",
                 "blockOutChannels": list(unet.cfg.channels),
                 # The first level with self-attention, for the app's memory estimate (SD 1.5: 1, 8).
                 "attention": {"downscale": 2 ** unet.cfg.attention.index(True),
                               "heads": unet.cfg.channels[unet.cfg.attention.index(True)] // unet.cfg.head_dim}},
        "vae": {"scalingFactor": round(vae_scale, 6), "latentChannels": 4, "downscaleFactor": 8, **preview},
        "scheduler": scheduler_config(),
        "image": {"defaultWidth": side, "defaultHeight": side, "minSize": 256, "maxSize": 768, "multipleOf": 64,
                  "trainedSizes": trained, **({"layoutSize": f"{layout}x{layout}"} if layout else {}),
                  # prompts that name two or three objects drawn with regional prompts (shapes/regions.py), as
                  # the eval measures them (evaluate.REGIONS)
                  **({"regions": True} if evaluate.REGIONS else {})},
        # DDIM by default: PNDM's 4th-order extrapolation turns this small model's errors into noise
        # (the scheduler config itself stays SD 1.5's, so every sampler is configured as SD's).
        "defaults": {"steps": 20, "guidanceScale": default_guidance(work, source), "scheduler": "ddim", "negativePrompt": ""},
        "totalBytes": sum(f["size"] for f in files),
    }
    (pack / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"manifest: {len(files)} files, {manifest['totalBytes']} bytes")


def write_parity(work: Path, out: Path, source: str) -> None:
    """Reference outputs of the int8 networks (torch, weights dequantized as DequantizeLinear does) on
    fixed inputs, for the test that runs the shipped ONNX files in onnxruntime-web."""

    tok = load_tokenizer(work)
    text, unet, _ = load_model(work, source)
    vae = load_vae(work)
    te, un, de = int8_copy(text), int8_copy(unet), int8_copy(vae.decoder)
    prompt = "a red circle on a blue background"
    ids = torch.tensor([tok.encode("")[0], tok.encode(prompt)[0]], dtype=torch.int32)
    n = torch.arange(2 * 4 * 16 * 24, dtype=torch.float32)
    sample = torch.sin(0.37 * n).reshape(2, 4, 16, 24)
    latent = torch.cos(0.21 * torch.arange(4 * 8 * 12, dtype=torch.float32)).reshape(1, 4, 8, 12)
    with torch.no_grad():
        hidden = te(ids)
        eps = un(sample, torch.tensor([500.0]), hidden)
        image = de(latent)
    r = lambda t: [round(float(v), 6) for v in t.flatten()]  # noqa: E731
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "about": "Written by training/recipe.py export: torch outputs of the int8 pack's networks. "
                 "sample[i] = sin(0.37 i), latent_sample[i] = cos(0.21 i), timestep 500.",
        "prompt": prompt,
        "input_ids": ids.tolist(),
        "text_encoder": {"shape": list(hidden.shape), "first_rows": r(hidden[:, :4]), "sum": float(hidden.sum()),
                         "abs_sum": float(hidden.abs().sum())},
        "unet": {"sample_shape": list(sample.shape), "timestep": 500.0, "out_sample": r(eps)},
        "vae_decoder": {"latent_shape": list(latent.shape), "shape": list(image.shape), "every_7th": r(image.flatten()[::7]),
                        "sum": float(image.sum())},
    }) + "\n")
