"""The stand-in model: Stable Diffusion 1.x's three networks, scaled down.

- AutoencoderKL: f = 8, 4 latent channels, diagonal Gaussian posterior (Rombach et al. 2022, sec. 3).
- TextEncoder: CLIP's text transformer (Radford et al. 2021): token + position embeddings, pre-LN
  causal self-attention blocks with quick-GELU, final LayerNorm -> last_hidden_state [B, 77, D].
- UNet: SD's UNet2DConditionModel topology: sinusoidal timestep embedding -> MLP; ResNet blocks
  (GroupNorm, SiLU, conv, timestep added); spatial transformers (self-attention, cross-attention to the
  text, GEGLU feed-forward); down path with skips, mid block, up path consuming the skips.

Everything exports to plain ONNX ops (GroupNorm becomes GroupNormalization's decomposition).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VaeConfig:
    channels: tuple[int, ...] = (16, 32, 48, 64)  # full resolution -> 1/8
    latent_channels: int = 4
    groups: int = 8


@dataclass(frozen=True)
class TextConfig:
    vocab_size: int = 652
    max_length: int = 77
    width: int = 128
    layers: int = 3
    heads: int = 4


@dataclass(frozen=True)
class UNetConfig:
    channels: tuple[int, ...] = (32, 64, 96, 128)
    attention: tuple[bool, ...] = (False, False, True, True)
    layers_per_block: int = 1
    context_dim: int = 128
    head_dim: int = 32
    groups: int = 16
    # The caption's mean hidden state, through an MLP, added to the timestep embedding, so that every
    # ResNet block at every resolution hears the prompt (SD 1.x's UNet hears it only through
    # cross-attention; SDXL adds CLIP's pooled text to the timestep embedding the same way). The
    # inputs and outputs are SD 1.x's; only the inside differs. See training/README.md.
    pooled_text: bool = True
    # Levels (where `attention` is off) that get a cross-attention-only block after each ResNet block: the
    # pixels of that level read the caption's tokens, without self-attention or a feed-forward. At 256 px
    # attention's 8x8 and 4x4 levels put two objects 1.5-3 cells apart, and the colour reaches the picture
    # only through cross-attention (training/diagnostics/pooled_probe.py); level 1 (16x16 at 256 px) gives
    # each object cells of its own. Off by default, so that older checkpoints' configs read the same.
    text_attention: tuple[bool, ...] = (False, False, False, False)


def norm(c: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, c), c, eps=1e-5)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int, temb: int | None = None):
        super().__init__()
        self.norm1, self.conv1 = norm(cin, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout) if temb else None
        self.norm2, self.conv2 = norm(cout, groups), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.temb is not None and t is not None:
            h = h + self.temb(F.silu(t))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Down(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Up(nn.Module):
    """Nearest 2x upsampling then a 3x3 conv. Unlike SD, the conv already narrows to the next
    (higher-resolution) level's width: the same topology at a fraction of the cost at high resolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


# ------------------------------------------------------------------ VAE
class Encoder(nn.Module):
    def __init__(self, cfg: VaeConfig):
        super().__init__()
        c = cfg.channels
        self.conv_in = nn.Conv2d(3, c[0], 3, padding=1)
        # No ResNet block at full resolution: the encoder only serves training (and a later
        # image-to-image), and flat shapes need no full-resolution features beyond conv_in.
        blocks: list[nn.Module] = [Down(c[0])]
        for i in range(1, len(c)):
            blocks.append(ResBlock(c[i - 1], c[i], cfg.groups))
            if i < len(c) - 1:
                blocks.append(Down(c[i]))
        self.blocks = nn.Sequential(*blocks)
        self.mid = ResBlock(c[-1], c[-1], cfg.groups)
        self.norm_out = norm(c[-1], cfg.groups)
        self.conv_out = nn.Conv2d(c[-1], 2 * cfg.latent_channels, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * cfg.latent_channels, 2 * cfg.latent_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.mid(self.blocks(self.conv_in(x)))
        moments = self.quant_conv(self.conv_out(F.silu(self.norm_out(h))))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    def __init__(self, cfg: VaeConfig):
        super().__init__()
        c = cfg.channels[::-1]  # 1/8 -> full resolution
        self.post_quant_conv = nn.Conv2d(cfg.latent_channels, cfg.latent_channels, 1)
        self.conv_in = nn.Conv2d(cfg.latent_channels, c[0], 3, padding=1)
        self.mid = ResBlock(c[0], c[0], cfg.groups)
        # One ResNet block per level below full resolution; at full resolution only the upsampling
        # conv and conv_out run (the decoder's cost there grows with the image: keep it two convs).
        blocks: list[nn.Module] = []
        for i in range(len(c) - 1):
            blocks.append(ResBlock(c[i], c[i], cfg.groups))
            blocks.append(Up(c[i], c[i + 1]))
        self.blocks = nn.Sequential(*blocks)
        self.norm_out = norm(c[-1], cfg.groups)
        self.conv_out = nn.Conv2d(c[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(self.post_quant_conv(z)))
        return self.conv_out(F.silu(self.norm_out(self.blocks(h))))


class AutoencoderKL(nn.Module):
    def __init__(self, cfg: VaeConfig = VaeConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)


class VaeDecoderExport(nn.Module):
    """`vae_decoder` as SD ONNX exports have it: latent_sample (already divided by the scaling factor)
    -> sample in [-1, 1]."""

    def __init__(self, decoder: Decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent_sample)


# ------------------------------------------------------------------ attention
class Attention(nn.Module):
    keep = False  # keep the attention weights of the last call in `probs` (training's grounding loss, shapes/grounding.py)

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        kv = context_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(kv, dim, bias=False)
        self.to_v = nn.Linear(kv, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        ctx = x if context is None else context
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, t.shape[1], h, d // h).transpose(1, 2)

        q, k, v = split(self.to_q(x)), split(self.to_k(ctx)), split(self.to_v(ctx))
        # Scaled dot-product attention (Vaswani et al. 2017, eq. 1), written out so it exports as
        # MatMul/Softmax on every opset.
        w = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d // h))
        if mask is not None:
            w = w + mask
        p = w.softmax(dim=-1)
        if self.keep:
            self.probs = p
        out = torch.matmul(p, v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, d))


class GEGLU(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.proj = nn.Linear(dim, dim * mult * 2)
        self.out = nn.Linear(dim * mult, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.proj(x).chunk(2, dim=-1)
        return self.out(a * F.gelu(gate))


class SpatialTransformer(nn.Module):
    """SD's Transformer2DModel with one BasicTransformerBlock: self-attn, cross-attn, GEGLU."""

    def __init__(self, c: int, context_dim: int, head_dim: int, groups: int):
        super().__init__()
        heads = max(1, c // head_dim)
        self.norm = norm(c, groups)
        self.proj_in = nn.Linear(c, c)
        self.norm1, self.attn1 = nn.LayerNorm(c), Attention(c, heads)
        self.norm2, self.attn2 = nn.LayerNorm(c), Attention(c, heads, context_dim)
        self.norm3, self.ff = nn.LayerNorm(c), GEGLU(c)
        self.proj_out = nn.Linear(c, c)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        h = self.norm(x).reshape(b, c, hh * ww).transpose(1, 2)
        h = self.proj_in(h)
        h = h + self.attn1(self.norm1(h))
        h = h + self.attn2(self.norm2(h), context)
        h = h + self.ff(self.norm3(h))
        h = self.proj_out(h).transpose(1, 2).reshape(b, c, hh, ww)
        return x + h


class TextAttention(nn.Module):
    """Cross-attention alone (SD's BasicTransformerBlock's attn2 with its norms and projections), its output
    projection zero-initialised: added to a trained UNet it changes nothing until it learns."""

    def __init__(self, c: int, context_dim: int, head_dim: int, groups: int):
        super().__init__()
        self.norm = norm(c, groups)
        self.proj_in = nn.Linear(c, c)
        self.norm2, self.attn2 = nn.LayerNorm(c), Attention(c, max(1, c // head_dim), context_dim)
        self.proj_out = nn.Linear(c, c)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x).reshape(b, c, hh * ww).transpose(1, 2))
        h = h + self.attn2(self.norm2(h), context)
        return x + self.proj_out(h).transpose(1, 2).reshape(b, c, hh, ww)


# ------------------------------------------------------------------ text encoder
class TextEncoder(nn.Module):
    def __init__(self, cfg: TextConfig = TextConfig()):
        super().__init__()
        self.cfg = cfg
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.width)
        self.position_embedding = nn.Parameter(torch.randn(cfg.max_length, cfg.width) * 0.01)
        self.layers = nn.ModuleList()
        for _ in range(cfg.layers):
            self.layers.append(nn.ModuleDict({
                "ln1": nn.LayerNorm(cfg.width), "attn": Attention(cfg.width, cfg.heads),
                "ln2": nn.LayerNorm(cfg.width), "fc1": nn.Linear(cfg.width, 4 * cfg.width),
                "fc2": nn.Linear(4 * cfg.width, cfg.width),
            }))
        self.final_layer_norm = nn.LayerNorm(cfg.width)
        causal = torch.full((cfg.max_length, cfg.max_length), float("-inf")).triu(1)
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        n = input_ids.shape[1]
        x = self.token_embedding(input_ids.long()) + self.position_embedding[:n]
        mask = self.causal_mask[:n, :n]
        for layer in self.layers:
            x = x + layer["attn"](layer["ln1"](x), mask=mask)
            h = layer["fc1"](layer["ln2"](x))
            x = x + layer["fc2"](h * torch.sigmoid(1.702 * h))  # CLIP's quick-GELU
        return self.final_layer_norm(x)


# ------------------------------------------------------------------ UNet
def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """SD's sinusoidal embedding (flip_sin_to_cos=True, freq_shift=0): [cos(t w_i), sin(t w_i)],
    w_i = 10000^(-i / (dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig = UNetConfig()):
        super().__init__()
        self.cfg = cfg
        c, g = cfg.channels, cfg.groups
        temb = 4 * c[0]
        self.time_embedding = nn.Sequential(nn.Linear(c[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(4, c[0], 3, padding=1)
        self.down = nn.ModuleList()
        cross = [on and not cfg.attention[i] for i, on in enumerate(cfg.text_attention)]
        crossed: list[str] = []  # "down<j>" / "up<j>": the ResNet blocks a TextAttention follows
        skips = [c[0]]
        ch = c[0]
        for i, cout in enumerate(c):
            for _ in range(cfg.layers_per_block):
                self.down.append(ResBlock(ch, cout, g, temb))
                ch = cout
                if cross[i]:
                    crossed.append(f"down{len(self.down) - 1}")
                if cfg.attention[i]:
                    self.down.append(SpatialTransformer(ch, cfg.context_dim, cfg.head_dim, g))
                skips.append(ch)
            if i < len(c) - 1:
                self.down.append(Down(ch))
                skips.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, g, temb),
                                  SpatialTransformer(ch, cfg.context_dim, cfg.head_dim, g),
                                  ResBlock(ch, ch, g, temb)])
        self.up = nn.ModuleList()
        for i in reversed(range(len(c))):
            for _ in range(cfg.layers_per_block + 1):
                self.up.append(ResBlock(ch + skips.pop(), c[i], g, temb))
                ch = c[i]
                if cross[i]:
                    crossed.append(f"up{len(self.up) - 1}")
                if cfg.attention[i]:
                    self.up.append(SpatialTransformer(ch, cfg.context_dim, cfg.head_dim, g))
            if i > 0:
                self.up.append(Up(ch, c[i - 1]))
                ch = c[i - 1]
        self.norm_out = norm(ch, g)
        self.conv_out = nn.Conv2d(ch, 4, 3, padding=1)
        # Registered last, so that its parameters come after the others (checkpoints made without it
        # keep their parameter indices); its output layer starts at zero, so adding it to a trained
        # UNet changes nothing until it learns.
        self.text_embedding = None
        if cfg.pooled_text:
            self.text_embedding = nn.Sequential(nn.Linear(cfg.context_dim, temb), nn.SiLU(), nn.Linear(temb, temb))
            nn.init.zeros_(self.text_embedding[2].weight)
            nn.init.zeros_(self.text_embedding[2].bias)
        # Registered after everything else for the same reason; zero output too (TextAttention).
        widths = {f"down{j}": m.conv2.out_channels for j, m in enumerate(self.down) if isinstance(m, ResBlock)}
        widths |= {f"up{j}": m.conv2.out_channels for j, m in enumerate(self.up) if isinstance(m, ResBlock)}
        self.text_attention = nn.ModuleDict({k: TextAttention(widths[k], cfg.context_dim, cfg.head_dim, g) for k in crossed})

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        t = timestep.reshape(-1).float().expand(sample.shape[0])
        temb = self.time_embedding(timestep_embedding(t, self.cfg.channels[0]))
        if self.text_embedding is not None:
            temb = temb + self.text_embedding(encoder_hidden_states.mean(dim=1))
        h = self.conv_in(sample)
        hs = [h]
        cross = self.text_attention
        for j, m in enumerate(self.down):
            if isinstance(m, ResBlock):
                h = m(h, temb)
                if f"down{j}" in cross:
                    h = cross[f"down{j}"](h, encoder_hidden_states)
                hs.append(h)
            elif isinstance(m, SpatialTransformer):
                h = m(h, encoder_hidden_states)
                hs[-1] = h
            else:
                h = m(h)
                hs.append(h)
        h = self.mid[0](h, temb)
        h = self.mid[1](h, encoder_hidden_states)
        h = self.mid[2](h, temb)
        for j, m in enumerate(self.up):
            if isinstance(m, ResBlock):
                h = m(torch.cat([h, hs.pop()], dim=1), temb)
                if f"up{j}" in cross:
                    h = cross[f"up{j}"](h, encoder_hidden_states)
            elif isinstance(m, SpatialTransformer):
                h = m(h, encoder_hidden_states)
            else:
                h = m(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-adds x 2 of every Conv2d, Linear and attention matmul in one forward pass."""
    total = 0

    def conv_hook(m: nn.Conv2d, _inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        total += 2 * k * out.numel()

    def lin_hook(m: nn.Linear, _inp, out):
        nonlocal total
        total += 2 * m.in_features * out.numel()

    def attn_hook(m: Attention, inp, out):
        nonlocal total
        x = inp[0]
        n_kv = inp[1].shape[1] if len(inp) > 1 and inp[1] is not None else x.shape[1]
        total += 2 * 2 * x.shape[0] * x.shape[1] * n_kv * x.shape[2]  # QK^T and AV

    hooks = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(lin_hook))
        elif isinstance(mod, Attention):
            hooks.append(mod.register_forward_hook(attn_hook))
    with torch.no_grad():
        model(*inputs)
    for h in hooks:
        h.remove()
    return total


def config_dict(cfg) -> dict:
    return asdict(cfg)
