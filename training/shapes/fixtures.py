"""Tiny random-weight packs with the exact signatures of real Stable Diffusion ONNX exports.

Real SD 1.5 / 2.1-base / Turbo weights cannot be downloaded here, and the app must still be tested on
what they look like from the outside: tensor names, element types, static or dynamic shapes, where the
weights live (external data) and the diffusers folder layout they are published in. Each variant
below reproduces one export found in the wild; the networks behind the signatures are a few
convolutions and a projection with random weights (so the app runs them in milliseconds), built with
onnx.helper so every dtype and shape is exactly what the variant says.

The tokenizer files are SD's real CLIP vocabulary (`../shared/clip-tokenizer`, the same for SD 1.x
and 2.x: 49,408 tokens); the folder is written at test time and never committed.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB = 49408
SEQ = 77
EMBED_ROWS = 1000  # token id mod 1000 picks the embedding row: a small table with the real id range
OPSET = 17


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    width: int  # text embedding width: 768 for SD 1.x (CLIP ViT-L/14), 1024 for SD 2.x (OpenCLIP ViT-H)
    float_type: str  # "float32" | "float16": weights and every float input/output
    ids_type: str  # "int32" | "int64"
    timestep_type: str  # "int64" | "float32" | "float16"
    timestep_shape: str  # "[]" | "[1]" | "[batch]"
    unet_batch: int | None  # None: dynamic; 1 or 2: static
    latent: int | None  # None: dynamic height and width; else static (64 -> 512 px only)
    external: str | None  # the UNet's external-data file name, or None (weights inside the .onnx)
    text_batch: int | None = None
    pad_token: str = "<|endoftext|>"
    prediction_type: str = "epsilon"
    scheduler: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    manifest: bool = True  # write the app's manifest.json; False: only the diffusers layout
    pooler_first: bool = False  # text encoder lists pooler_output before last_hidden_state
    sample_size: int = 64  # unet/config.json's latent size: 64 -> 512 px native, 96 -> 768


SD_SCHEDULER = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                "steps_offset": 1, "set_alpha_to_one": False, "skip_prk_steps": True, "clip_sample": False}

VARIANTS = [
    # diffusers' scripts/convert_stable_diffusion_checkpoint_to_onnx.py (the "onnx" branch of SD 1.5's repo)
    Variant("sd15-diffusers", "SD 1.5 as diffusers' ONNX script exports it: fp32, int32 ids, float32 timestep [batch], "
            "UNet weights in unet/weights.pb", 768, "float32", "int32", "float32", "[batch]", None, None, "weights.pb",
            scheduler={"_class_name": "PNDMScheduler", **SD_SCHEDULER}, pooler_first=True),
    # Hugging Face optimum's fp16 export: int64 ids and timestep, fp16 everywhere, model.onnx_data
    Variant("sd15-optimum-fp16", "SD 1.5 as optimum exports it in fp16: int64 ids, int64 timestep [1], fp16 weights and "
            "tensors, UNet weights in unet/model.onnx_data; diffusers layout only (no manifest.json)", 768, "float16",
            "int64", "int64", "[1]", None, None, "model.onnx_data",
            scheduler={"_class_name": "PNDMScheduler", **SD_SCHEDULER}, manifest=False),
    # SD 2.1-base: OpenCLIP text encoder (1024 wide, pad id 0), ε-prediction at 512
    Variant("sd21-base", "SD 2.1-base: 1024-wide OpenCLIP embeddings, pad token '!' (id 0), int64 timestep [], DDIM",
            1024, "float32", "int32", "int64", "[]", None, None, "weights.pb", pad_token="!",
            scheduler={"_class_name": "DDIMScheduler", **SD_SCHEDULER}),
    # SD 2.1 (768-v): v-prediction at 768 px; a community fp16 export with a float16 timestep
    Variant("sd21-768-v", "SD 2.1 768-v: v-prediction, native 768x768 (96x96 latents), fp16 with a float16 "
            "timestep [batch]", 1024, "float16", "int32", "float16", "[batch]", None, None, "model.onnx_data",
            pad_token="!", prediction_type="v_prediction", sample_size=96,
            scheduler={"_class_name": "EulerDiscreteScheduler", **SD_SCHEDULER, "prediction_type": "v_prediction"},
            defaults={"scheduler": "euler"}),
    # SD-Turbo: one step, no guidance, trailing timesteps
    Variant("sd-turbo", "SD-Turbo: 1024 wide, one step without guidance, trailing timesteps, static UNet batch 1",
            1024, "float32", "int32", "float32", "[1]", 1, None, None, pad_token="!",
            scheduler={"_class_name": "EulerDiscreteScheduler", **SD_SCHEDULER, "timestep_spacing": "trailing"},
            defaults={"steps": 1, "guidanceScale": 1.0, "scheduler": "euler"}),
    # Static-shape exports (WebNN / mobile toolchains): CFG baked into a batch of 2, 64x64 latents
    Variant("sd15-static", "SD 1.5 with static shapes: text encoder batch 1, UNet batch 2 at 64x64 latents (512x512 "
            "only), int64 timestep [2]", 768, "float32", "int32", "int64", "[batch]", 2, 64, None, text_batch=1,
            scheduler={"_class_name": "PNDMScheduler", **SD_SCHEDULER}),
]

SCHEDULER_NAMES = {"PNDMScheduler": "pndm", "DDIMScheduler": "ddim", "EulerDiscreteScheduler": "euler"}
_NP = {"float32": np.float32, "float16": np.float16}
_ONNX = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "int32": TensorProto.INT32, "int64": TensorProto.INT64}


def _weights(rng: np.random.Generator, shape: tuple[int, ...], scale: float, dtype: str, name: str) -> TensorProto:
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(_NP[dtype]), name)


def _const(name: str, value, dtype=np.int64) -> TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pocket-diffusion fixtures")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def text_encoder(v: Variant, rng: np.random.Generator) -> onnx.ModelProto:
    f, w = v.float_type, v.width
    b = v.text_batch if v.text_batch else "batch"
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids64"], to=TensorProto.INT64),
        helper.make_node("Mod", ["ids64", "rows"], ["row"]),
        helper.make_node("Gather", ["token_embedding", "row"], ["tok"]),
        helper.make_node("Add", ["tok", "position_embedding"], ["h"]),
        helper.make_node("Tanh", ["h"], ["last_hidden_state"]),
        helper.make_node("ReduceMean", ["last_hidden_state"], ["pooled"], axes=[1], keepdims=0),
        helper.make_node("Identity", ["pooled"], ["pooler_output"]),
    ]
    init = [_const("rows", EMBED_ROWS), _weights(rng, (EMBED_ROWS, w), 0.5, f, "token_embedding"),
            _weights(rng, (SEQ, w), 0.1, f, "position_embedding")]
    outs = [helper.make_tensor_value_info("last_hidden_state", _ONNX[f], [b, SEQ, w]),
            helper.make_tensor_value_info("pooler_output", _ONNX[f], [b, w])]
    if v.pooler_first:
        outs.reverse()
    g = helper.make_graph(nodes, "text_encoder", [helper.make_tensor_value_info("input_ids", _ONNX[v.ids_type], [b, SEQ])], outs, init)
    return _model(g)


def unet(v: Variant, rng: np.random.Generator) -> onnx.ModelProto:
    """ε (or v) from the latents, the timestep and the text: a 3x3 conv, a text projection, a time term."""
    f, w = v.float_type, v.width
    b = v.unet_batch if v.unet_batch else "batch"
    hw = (v.latent, v.latent) if v.latent else ("height", "width")
    t_dims = {"[]": [], "[1]": [1], "[batch]": [b]}[v.timestep_shape]
    nodes = [
        # Attributes spelled out as torch.onnx.export writes them (onnxruntime-web's WebGPU Conv needs dilations).
        helper.make_node("Conv", ["sample", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1], kernel_shape=[3, 3],
                         strides=[1, 1], dilations=[1, 1], group=1),
        helper.make_node("ReduceMean", ["encoder_hidden_states"], ["ctx_mean"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["ctx_mean", "ctx_w"], ["ctx4"]),
        helper.make_node("Unsqueeze", ["ctx4", "axes23"], ["ctx"]),
        helper.make_node("Cast", ["timestep"], ["t_f"], to=_ONNX[f]),
        helper.make_node("Reshape", ["t_f", "t_shape"], ["t_col"]),
        helper.make_node("Mul", ["t_col", "t_scale"], ["t_term"]),
        helper.make_node("Mul", ["sample", "keep"], ["kept"]),
        helper.make_node("Add", ["kept", "conv"], ["s1"]),
        helper.make_node("Add", ["s1", "ctx"], ["s2"]),
        helper.make_node("Add", ["s2", "t_term"], ["out_sample"]),
    ]
    init = [_weights(rng, (4, 4, 3, 3), 0.05, f, "conv_w"), _weights(rng, (4,), 0.01, f, "conv_b"),
            _weights(rng, (w, 4), 0.02, f, "ctx_w"), _const("axes23", [2, 3]), _const("t_shape", [-1, 1, 1, 1]),
            numpy_helper.from_array(np.array(1e-4, _NP[f]), "t_scale"), numpy_helper.from_array(np.array(0.9, _NP[f]), "keep")]
    g = helper.make_graph(nodes, "unet", [
        helper.make_tensor_value_info("sample", _ONNX[f], [b, 4, *hw]),
        helper.make_tensor_value_info("timestep", _ONNX[v.timestep_type], t_dims),
        helper.make_tensor_value_info("encoder_hidden_states", _ONNX[f], [b, SEQ, w]),
    ], [helper.make_tensor_value_info("out_sample", _ONNX[f], [b, 4, *hw])], init)
    return _model(g)


def vae_decoder(v: Variant, rng: np.random.Generator) -> onnx.ModelProto:
    """latents -> 1x1 conv to 3*8*8 channels -> DepthToSpace(8) -> tanh: an image 8x the latent size."""
    f = v.float_type
    nodes = [
        helper.make_node("Conv", ["latent_sample", "proj_w", "proj_b"], ["p"], kernel_shape=[1, 1], strides=[1, 1],
                         dilations=[1, 1], pads=[0, 0, 0, 0], group=1),
        helper.make_node("DepthToSpace", ["p"], ["px"], blocksize=8, mode="CRD"),
        helper.make_node("Tanh", ["px"], ["sample"]),
    ]
    init = [_weights(rng, (3 * 64, 4, 1, 1), 0.5, f, "proj_w"), _weights(rng, (3 * 64,), 0.2, f, "proj_b")]
    g = helper.make_graph(nodes, "vae_decoder",
                          [helper.make_tensor_value_info("latent_sample", _ONNX[f], ["batch", 4, "latent_height", "latent_width"])],
                          [helper.make_tensor_value_info("sample", _ONNX[f], ["batch", 3, "height", "width"])], init)
    return _model(g)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_variant(v: Variant, out: Path, tokenizer_dir: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    for sub in ("text_encoder", "unet", "vae_decoder", "tokenizer", "scheduler"):
        (out / sub).mkdir(parents=True)
    onnx.save_model(text_encoder(v, rng), out / "text_encoder" / "model.onnx")
    u = unet(v, rng)
    if v.external:
        onnx.save_model(u, str(out / "unet" / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=v.external, size_threshold=1024)  # as exporters do: shape constants stay inline
    else:
        onnx.save_model(u, out / "unet" / "model.onnx")
    onnx.save_model(vae_decoder(v, rng), out / "vae_decoder" / "model.onnx")
    write_side_files(v, out, tokenizer_dir)
    if v.manifest:
        write_manifest(v, out, tokenizer_dir)


def write_side_files(v: Variant, out: Path, tokenizer_dir: Path) -> None:
    """The files diffusers publishes beside the networks: tokenizer, scheduler, configs, model_index.json."""
    for sub in ("tokenizer", "scheduler"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(tokenizer_dir / name, out / "tokenizer" / name)
    (out / "tokenizer" / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": v.pad_token, "unk_token": "<|endoftext|>"}))
    (out / "tokenizer" / "tokenizer_config.json").write_text(json.dumps({"model_max_length": SEQ, "pad_token": v.pad_token}))
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(v.scheduler, indent=1))
    (out / "vae_decoder" / "config.json").write_text(json.dumps({"latent_channels": 4, "scaling_factor": 0.18215}))
    (out / "unet" / "config.json").write_text(json.dumps({"sample_size": v.latent or v.sample_size, "in_channels": 4,
                                                          "cross_attention_dim": v.width}))
    (out / "model_index.json").write_text(json.dumps({"_class_name": "OnnxStableDiffusionPipeline",
                                                      "scheduler": ["diffusers", v.scheduler["_class_name"]]}))


def write_manifest(v: Variant, out: Path, tokenizer_dir: Path) -> None:
    """The app's manifest.json: every file's role, size and SHA-256."""
    vocab = json.loads((tokenizer_dir / "vocab.json").read_text())
    roles = {"text_encoder/model.onnx": "text_encoder", "unet/model.onnx": "unet", "vae_decoder/model.onnx": "vae_decoder",
             "tokenizer/vocab.json": "tokenizer_vocab", "tokenizer/merges.txt": "tokenizer_merges",
             "scheduler/scheduler_config.json": "scheduler_config"}
    files = [{"path": p, "role": r, "size": (out / p).stat().st_size, "sha256": _sha(out / p)} for p, r in roles.items()]
    if v.external:
        p = f"unet/{v.external}"
        files.append({"path": p, "role": "external_data", "for": "unet", "size": (out / p).stat().st_size, "sha256": _sha(out / p)})
    manifest = {
        "format": "pocket-diffusion-pack", "formatVersion": 1, "id": f"fixture-{v.name}", "name": f"Fixture: {v.name}",
        "description": v.description, "architecture": "stable-diffusion-1" if v.width == 768 else "stable-diffusion-2",
        "files": files,
        "tokenizer": {"type": "clip-bpe", "maxLength": SEQ, "bosTokenId": vocab["<|startoftext|>"],
                      "eosTokenId": vocab["<|endoftext|>"], "padTokenId": vocab[v.pad_token]},
        "vae": {"scalingFactor": 0.18215, "latentChannels": 4, "downscaleFactor": 8},
        "scheduler": {k: val for k, val in v.scheduler.items() if not k.startswith("_") and k not in ("skip_prk_steps", "clip_sample")},
        "image": {"defaultWidth": v.sample_size * 8, "defaultHeight": v.sample_size * 8, "minSize": 256, "maxSize": 1024, "multipleOf": 8},
        "defaults": {"steps": 20, "guidanceScale": 7.5, "scheduler": SCHEDULER_NAMES[v.scheduler["_class_name"]],
                     "negativePrompt": "", **v.defaults},
        "totalBytes": sum(x["size"] for x in files),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def reference_timesteps(max_steps: int = 100, T: int = 1000) -> list[dict]:
    """The timesteps diffusers' set_timesteps gives, by its own numpy formulas (numpy rounds half to even,
    and np.linspace / np.arange place their points their way), for n = 1 … max_steps: the figures the
    app's schedulers are checked against beyond ../shared/fixtures/timesteps.json's step counts."""
    cases = []
    for n in range(1, max_steps + 1):
        ddim = {  # DDIMScheduler / PNDMScheduler._timesteps
            "linspace": np.linspace(0, T - 1, n).round()[::-1].astype(np.int64),
            "trailing": np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1,
        }
        euler = {  # EulerDiscreteScheduler
            "linspace": np.linspace(0, T - 1, n, dtype=float)[::-1],
            "trailing": np.arange(T, 0, -T / n).round() - 1,
        }
        dpm = {  # DPMSolverMultistepScheduler
            "linspace": np.linspace(0, T - 1, n + 1).round()[::-1][:-1].astype(np.int64),
            "trailing": np.arange(T, 0, -T / n).round().astype(np.int64) - 1,
        }
        for scheduler, by in (("ddim", ddim), ("euler", euler), ("dpmpp-2m", dpm)):
            for spacing, ts in by.items():
                cases.append({"scheduler": scheduler, "timestep_spacing": spacing, "num_inference_steps": n,
                              "timesteps": [float(t) if scheduler == "euler" else int(t) for t in ts]})
    return cases


def write_quantized_reference(pack: Path, out: Path) -> None:
    """The recipe's own int8 quantizer (shapes/quantize.py) applied to a fixture's networks, weights inline:
    what the app's streaming quantizer (src/core/quantize) must reproduce byte for byte."""
    from .quantize import quantize_model

    out.mkdir(parents=True, exist_ok=True)
    for net in ("text_encoder", "unet", "vae_decoder"):
        model, _ = quantize_model(onnx.load(str(pack / net / "model.onnx")))
        onnx.save_model(model, str(out / f"{net}.onnx"))


def stage_fixtures(out: Path, tokenizer_dir: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "timesteps-numpy.json").write_text(json.dumps({"about": reference_timesteps.__doc__, "cases": reference_timesteps()}) + "\n")
    index = []
    for i, v in enumerate(VARIANTS):
        write_variant(v, out / v.name, tokenizer_dir, seed=i)
        if v.name == "sd15-diffusers":
            write_quantized_reference(out / v.name, out / "quantized-reference" / v.name)
        index.append({"name": v.name, "description": v.description, "manifest": v.manifest, "width": v.width,
                      "floatType": v.float_type, "idsType": v.ids_type, "timestepType": v.timestep_type,
                      "timestepShape": v.timestep_shape, "unetBatch": v.unet_batch, "latent": v.latent,
                      "external": v.external, "textBatch": v.text_batch, "padToken": v.pad_token,
                      "predictionType": v.prediction_type})
        print(f"fixture {v.name}: {v.description}")
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    from .evaluate import write_judge_fixture
    write_judge_fixture(out / "shape-judge")
