"""Stable Diffusion 1.5's three networks at their real size, with random weights, in the ONNX layouts public
exports come in — the pack the app's real-size paths are tested with (`recipe.py sd15-scale`).

The topology is diffusers' for SD 1.5's configs, layer for layer:
- UNet2DConditionModel: block_out_channels (320, 640, 1280, 1280), layers_per_block 2, CrossAttnDownBlock2D x3
  + DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D + CrossAttnUpBlock2D x3, 8 heads, cross-attention to
  768-wide text, GroupNorm 32, conv 1x1 proj_in/proj_out (use_linear_projection False), GEGLU feed-forward,
  sinusoidal timestep embedding (flip_sin_to_cos, shift 0) -> 1280;
- CLIPTextModel (ViT-L/14): 49,408 tokens, 77 positions, 12 layers of 768 with 12 heads, MLP 3072, quick-GELU;
- the VAE decoder (with post_quant_conv): block_out_channels (128, 256, 512, 512), 3 ResNet blocks per level,
  one single-head attention block in the middle.
Parameter counts and multiply-adds per call are checked against the published figures in
training/tests/test_sd15.py. Weights are PyTorch's default initialisation (uniform, 1/sqrt(fan-in)), under
which activations stay well inside fp16's range (the test checks the UNet's and the decoder's).
Nothing here is trained; the pack makes noise pictures, and that is its purpose.
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, numpy_helper
from torch import nn

from . import fixtures
from .models import count_params

UNET_CHANNELS = (320, 640, 1280, 1280)
HEADS = 8
TEXT_WIDTH = 768
TEMB = 1280


def gn(c: int, eps: float = 1e-5) -> nn.GroupNorm:
    return nn.GroupNorm(32, c, eps=eps)


class Resnet(nn.Module):
    """diffusers' ResnetBlock2D."""

    def __init__(self, cin: int, cout: int, temb: int | None, eps: float = 1e-5):
        super().__init__()
        self.norm1, self.conv1 = gn(cin, eps), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2, self.conv2 = gn(cout, eps), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Attention(nn.Module):
    """diffusers' Attention (and CLIP's): q/k/v projections, scaled dot-product, an output projection."""

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None, qkv_bias: bool = False):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.to_k = nn.Linear(kv_dim or dim, dim, bias=qkv_bias)
        self.to_v = nn.Linear(kv_dim or dim, dim, bias=qkv_bias)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        ctx = x if ctx is None else ctx
        h = self.heads
        q, k, v = (t.reshape(b, t.shape[1], h, d // h).transpose(1, 2)
                   for t in (self.to_q(x), self.to_k(ctx), self.to_v(ctx)))
        w = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d // h))
        if mask is not None:
            w = w + mask
        return self.to_out(torch.matmul(w.softmax(-1), v).transpose(1, 2).reshape(b, n, d))


class Transformer2D(nn.Module):
    """diffusers' Transformer2DModel with one BasicTransformerBlock, conv 1x1 projections (SD 1.x)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = gn(c, 1e-6)
        self.proj_in = nn.Conv2d(c, c, 1)
        self.norm1, self.attn1 = nn.LayerNorm(c), Attention(c, HEADS)
        self.norm2, self.attn2 = nn.LayerNorm(c), Attention(c, HEADS, TEXT_WIDTH)
        self.norm3 = nn.LayerNorm(c)
        self.ff_proj, self.ff_out = nn.Linear(c, 8 * c), nn.Linear(4 * c, c)  # GEGLU, inner 4c
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x)).reshape(b, c, hh * ww).transpose(1, 2)
        h = h + self.attn1(self.norm1(h))
        h = h + self.attn2(self.norm2(h), ctx)
        a, gate = self.ff_proj(self.norm3(h)).chunk(2, -1)
        h = h + self.ff_out(a * F.gelu(gate))
        return x + self.proj_out(h.transpose(1, 2).reshape(b, c, hh, ww))


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet15(nn.Module):
    def __init__(self):
        super().__init__()
        c = UNET_CHANNELS
        self.time_linear_1, self.time_linear_2 = nn.Linear(c[0], TEMB), nn.Linear(TEMB, TEMB)
        self.conv_in = nn.Conv2d(4, c[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips, ch = [c[0]], c[0]
        for i, cout in enumerate(c):
            cross = i < 3
            for _ in range(2):
                self.down.append(Resnet(ch, cout, TEMB))
                ch = cout
                if cross:
                    self.down.append(Transformer2D(ch))
                skips.append(ch)
            if i < 3:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([Resnet(ch, ch, TEMB), Transformer2D(ch), Resnet(ch, ch, TEMB)])
        self.up = nn.ModuleList()
        for i, cout in enumerate(reversed(c)):
            cross = i > 0
            for _ in range(3):
                self.up.append(Resnet(ch + skips.pop(), cout, TEMB))
                ch = cout
                if cross:
                    self.up.append(Transformer2D(ch))
            if i < 3:
                self.up.append(Upsample(ch))
        self.conv_norm_out, self.conv_out = gn(ch), nn.Conv2d(ch, 4, 3, padding=1)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        half = UNET_CHANNELS[0] // 2
        t = timestep.reshape(-1).float().expand(sample.shape[0])
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None] * freqs[None]
        temb = self.time_linear_2(F.silu(self.time_linear_1(torch.cat([torch.cos(args), torch.sin(args)], -1))))
        h = self.conv_in(sample)
        hs = [h]
        for m in self.down:
            if isinstance(m, Resnet):
                h = m(h, temb)
                hs.append(h)
            elif isinstance(m, Transformer2D):
                h = m(h, encoder_hidden_states)
                hs[-1] = h
            else:
                h = m(h)
                hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, temb), encoder_hidden_states), temb)
        for m in self.up:
            if isinstance(m, Resnet):
                h = m(torch.cat([h, hs.pop()], 1), temb)
            elif isinstance(m, Transformer2D):
                h = m(h, encoder_hidden_states)
            else:
                h = m(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class ClipText(nn.Module):
    """CLIPTextModel, ViT-L/14: last_hidden_state and pooler_output (the end token's hidden state)."""

    def __init__(self, vocab: int = fixtures.VOCAB, width: int = TEXT_WIDTH, layers: int = 12, heads: int = 12):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(fixtures.SEQ, width)
        self.layers = nn.ModuleList(nn.ModuleDict({
            "layer_norm1": nn.LayerNorm(width), "self_attn": Attention(width, heads, qkv_bias=True),
            "layer_norm2": nn.LayerNorm(width), "fc1": nn.Linear(width, 4 * width), "fc2": nn.Linear(4 * width, width),
        }) for _ in range(layers))
        self.final_layer_norm = nn.LayerNorm(width)
        self.register_buffer("causal", torch.full((fixtures.SEQ, fixtures.SEQ), float("-inf")).triu(1), persistent=False)

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = input_ids.long()
        x = self.token_embedding(ids) + self.position_embedding.weight[None, : ids.shape[1]]
        for layer in self.layers:
            x = x + layer["self_attn"](layer["layer_norm1"](x), mask=self.causal)
            h = layer["fc1"](layer["layer_norm2"](x))
            x = x + layer["fc2"](h * torch.sigmoid(1.702 * h))
        x = self.final_layer_norm(x)
        pooled = x[torch.arange(x.shape[0]), ids.argmax(-1)]  # the end token has the highest id
        return x, pooled


class VaeAttention(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.group_norm, self.attn = gn(c, 1e-6), Attention(c, 1, qkv_bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        h = self.attn(self.group_norm(x).reshape(b, c, hh * ww).transpose(1, 2))
        return x + h.transpose(1, 2).reshape(b, c, hh, ww)


class VaeDecoder15(nn.Module):
    """AutoencoderKL's decode: post_quant_conv, then the Decoder (latent_sample -> sample)."""

    def __init__(self, channels: tuple[int, ...] = (128, 256, 512, 512)):
        super().__init__()
        rc = channels[::-1]
        self.post_quant_conv = nn.Conv2d(4, 4, 1)
        self.conv_in = nn.Conv2d(4, rc[0], 3, padding=1)
        self.mid = nn.ModuleList([Resnet(rc[0], rc[0], None, 1e-6), VaeAttention(rc[0]), Resnet(rc[0], rc[0], None, 1e-6)])
        self.up = nn.ModuleList()
        ch = rc[0]
        for i, cout in enumerate(rc):
            for _ in range(3):
                self.up.append(Resnet(ch, cout, None, 1e-6))
                ch = cout
            if i < len(rc) - 1:
                self.up.append(Upsample(ch))
        self.conv_norm_out, self.conv_out = gn(ch, 1e-6), nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(self.post_quant_conv(latent_sample))
        for m in [*self.mid, *self.up]:
            h = m(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# ------------------------------------------------------------------ figures
def count_macs(model: nn.Module, *inputs: torch.Tensor, attention: bool = True) -> int:
    """Multiply-accumulates of every Conv2d, Linear and (unless attention=False, as BK-SDM's count leaves
    them out) attention matmul in one call."""
    total = 0

    def conv(m: nn.Conv2d, _i, out):
        nonlocal total
        total += m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups * out.numel()

    def lin(m: nn.Linear, _i, out):
        nonlocal total
        total += m.in_features * out.numel()

    def attn(m: Attention, inp, _out):
        nonlocal total
        x = inp[0]
        n_kv = inp[1].shape[1] if len(inp) > 1 and inp[1] is not None else x.shape[1]
        total += 2 * x.shape[0] * x.shape[1] * n_kv * x.shape[2]

    kinds = {nn.Conv2d: conv, nn.Linear: lin, **({Attention: attn} if attention else {})}
    hooks = [m.register_forward_hook(kinds[type(m)]) for m in model.modules() if type(m) in kinds]
    with torch.no_grad():
        model(*inputs)
    for h in hooks:
        h.remove()
    return total


def figures(latent: int = 64) -> dict:
    """Parameters and multiply-accumulates per call (batch 1, 512 px), as published for SD 1.5."""
    torch.manual_seed(0)
    out = {}
    for name, model, inputs in (
        ("unet", UNet15(), (torch.randn(1, 4, latent, latent), torch.tensor([999.0]), torch.randn(1, 77, TEXT_WIDTH))),
        ("text_encoder", ClipText(), (torch.randint(0, fixtures.VOCAB, (1, 77)),)),
        ("vae_decoder", VaeDecoder15(), (torch.randn(1, 4, latent, latent),)),
    ):
        out[name] = {"parameters": count_params(model), "gmacs": count_macs(model.eval(), *inputs) / 1e9,
                     "gmacs_conv_linear": count_macs(model, *inputs, attention=False) / 1e9}
    return out


# ------------------------------------------------------------------ export
@dataclass(frozen=True)
class Form:
    """How a public SD 1.5 ONNX export stores its networks."""
    name: str
    float_type: str  # "float32" | "float16"
    ids_type: str
    timestep_type: str
    external: str  # the UNet's external-data file


FORMS = {
    # diffusers' convert_stable_diffusion_checkpoint_to_onnx.py (SD 1.5's "onnx" branch)
    "fp32": Form("sd15-scale-fp32", "float32", "int32", "float32", "weights.pb"),
    # Hugging Face optimum's fp16 export
    "fp16": Form("sd15-scale-fp16", "float16", "int64", "int64", "model.onnx_data"),
}


def _to_fp16(model: onnx.ModelProto) -> None:
    """Every float tensor of the graph to fp16, as fp16 exports have them — except what ONNX requires in fp32
    (Resize's scales)."""
    keep = {n.input[2] for n in model.graph.node if n.op_type == "Resize" and len(n.input) > 2}
    g = model.graph
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in g.node:
        for a in node.attribute:
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT and node.output[0] not in keep:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16)))
    for vi in [*g.input, *g.output]:
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict,
            form: Form, external: str | None) -> None:
    """torch.onnx.export, then (as diffusers' script does) one external-data file for a network over 2 GB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / "model.onnx"
        with torch.no_grad():
            torch.onnx.export(module, args, str(raw), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                              opset_version=fixtures.OPSET, do_constant_folding=True)
        model = onnx.load(str(raw))  # with its external data, if torch wrote some
        if form.float_type == "float16":
            _to_fp16(model)
        if external:
            onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=external, size_threshold=1024)
        else:
            onnx.save_model(model, str(path))


def write_pack(out: Path, form: Form, tokenizer_dir: Path, seed: int = 0) -> dict:
    """The diffusers ONNX layout of SD 1.5 at its real size, random weights; returns the files' sizes."""
    torch.manual_seed(seed)
    if out.exists():
        shutil.rmtree(out)
    text = ClipText().eval()
    ids = torch.zeros(1, fixtures.SEQ, dtype=torch.int32 if form.ids_type == "int32" else torch.int64)
    _export(text, (ids,), out / "text_encoder" / "model.onnx", ["input_ids"], ["last_hidden_state", "pooler_output"],
            {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}}, form, None)
    del text
    unet = UNet15().eval()
    ts = torch.tensor([999], dtype=torch.int64) if form.timestep_type == "int64" else torch.tensor([999.0, 999.0])
    _export(unet, (torch.randn(2, 4, 8, 8), ts, torch.randn(2, fixtures.SEQ, TEXT_WIDTH)),
            out / "unet" / "model.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
            {"sample": {0: "batch", 2: "height", 3: "width"}, "encoder_hidden_states": {0: "batch"},
             "out_sample": {0: "batch", 2: "height", 3: "width"},
             **({} if form.timestep_type == "int64" else {"timestep": {0: "batch"}})}, form, form.external)
    del unet
    vae = VaeDecoder15().eval()
    _export(vae, (torch.randn(1, 4, 8, 8),), out / "vae_decoder" / "model.onnx", ["latent_sample"], ["sample"],
            {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}},
            form, None)
    del vae
    v = fixtures.Variant(form.name, "SD 1.5 at its real size with random weights", TEXT_WIDTH, form.float_type,
                         form.ids_type, form.timestep_type, "[1]" if form.timestep_type == "int64" else "[batch]",
                         None, None, form.external, manifest=False,
                         scheduler={"_class_name": "PNDMScheduler", **fixtures.SD_SCHEDULER})
    fixtures.write_side_files(v, out, tokenizer_dir)
    return {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}


def stage_sd15_scale(out: Path, tokenizer_dir: Path, forms: list[str]) -> None:
    figs = figures()
    for name, f in figs.items():
        print(f"{name}: {f['parameters'] / 1e6:.2f} M parameters, {f['gmacs']:.1f} G multiply-accumulates per call "
              f"(batch 1, 512 px; {f['gmacs_conv_linear']:.1f} G in Conv and Linear layers)", flush=True)
    report = {"figures": figs, "packs": {}}
    for key in forms:
        form = FORMS[key]
        sizes = write_pack(out / form.name, form, tokenizer_dir)
        report["packs"][form.name] = sizes
        print(f"{form.name}: {sum(sizes.values()) / 1e9:.2f} GB in {out / form.name}", flush=True)
    (out / "sd15-scale.json").write_text(json.dumps(report, indent=1) + "\n")
