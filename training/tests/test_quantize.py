import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from shapes import common
from shapes.export import _export
from shapes.quantize import dequantize, quantize_model, quantize_per_channel
from shapes.models import UNet, UNetConfig, TextEncoder, TextConfig, count_flops


@pytest.mark.parametrize("axis", [0, 1])
def test_per_channel_symmetric_int8(axis):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 24, 3, 3)).astype(np.float32) * rng.uniform(0.01, 2, size=(16, 1, 1, 1)).astype(np.float32)
    q, s = quantize_per_channel(w, axis)
    assert q.dtype == np.int8 and s.shape == (w.shape[axis],)
    assert q.min() >= -127 and q.max() <= 127
    err = np.abs(dequantize(q, s, axis) - w)
    shape = [1] * 4
    shape[axis] = -1
    assert np.all(err <= s.reshape(shape) / 2 + 1e-7)
    # each channel uses the full range
    assert np.all(np.abs(np.moveaxis(q, axis, 0)).reshape(w.shape[axis], -1).max(1) == 127)


TINY = UNetConfig(channels=(16, 32), attention=(False, True), context_dim=32, head_dim=16, groups=8)
CROSSED = UNetConfig(**{**TINY.__dict__, "text_attention": (True, False)})


@pytest.mark.parametrize("cfg", [TINY, CROSSED], ids=["plain", "text-attention"])
def test_tiny_export_is_standard_onnx_and_quantizes(tmp_path, cfg):
    torch.manual_seed(0)
    unet = UNet(cfg).eval()
    args = (torch.randn(2, 4, 8, 8), torch.tensor([10.0]), torch.randn(2, 77, 32))
    path = tmp_path / "unet.onnx"
    _export(unet, args, path, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
            {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "tb"},
             "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
    model = onnx.load(str(path))
    ops = {n.op_type for n in model.graph.node}
    assert "GroupNorm" not in ops and all(n.domain in ("", "ai.onnx") for n in model.graph.node)
    q, stats = quantize_model(onnx.load(str(path)))
    assert stats["quantized"] > 5
    dq = [n for n in q.graph.node if n.op_type == "DequantizeLinear"]
    assert len(dq) == stats["quantized"]
    int8 = [i for i in q.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert len(int8) == stats["quantized"]
    # dequantized weights sit within half a step of the float ones
    floats = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    inits = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    for node in dq:
        w = floats[node.output[0]]
        axis = node.attribute[0].i
        back = dequantize(inits[node.input[0]], inits[node.input[1]], axis)
        assert np.abs(back - w).max() <= np.abs(w).max() / 127


def test_unet_is_resolution_and_batch_agnostic():
    torch.manual_seed(0)
    unet = UNet(TINY).eval()
    with torch.no_grad():
        for b, h, w in [(1, 8, 8), (2, 8, 16), (2, 16, 8)]:
            out = unet(torch.randn(b, 4, h, w), torch.tensor([3.0]), torch.randn(b, 77, 32))
            assert out.shape == (b, 4, h, w)


def test_pooled_text_embedding_starts_as_a_no_op_and_then_carries_the_caption():
    """Added to a trained UNet, the pooled-text embedding changes nothing until it learns; once it has
    weights, the prompt reaches the UNet's full-resolution blocks, where no cross-attention sits."""
    torch.manual_seed(0)
    plain = UNet(TINY.__class__(**{**TINY.__dict__, "pooled_text": False})).eval()
    pooled = UNet(TINY).eval()
    missing, unexpected = pooled.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("text_embedding.") for k in missing)
    x, t, ctx = torch.randn(2, 4, 8, 8), torch.tensor([300.0]), torch.randn(2, 77, 32)
    with torch.no_grad():
        assert torch.equal(plain(x, t, ctx), pooled(x, t, ctx))
    # The first ResBlock (full resolution, before any attention) hears the prompt only through it.
    first = []
    pooled.down[0].register_forward_hook(lambda _m, _i, out: first.append(out))
    with torch.no_grad():
        pooled(x, t, ctx), pooled(x, t, ctx.flip(0))
        assert torch.equal(first[0], first[1])  # zero output: the prompt does not reach it yet
        torch.nn.init.normal_(pooled.text_embedding[2].weight, std=0.5)
        pooled(x, t, ctx), pooled(x, t, ctx.flip(0))
    assert (first[2] - first[3]).abs().max() > 1e-3


def test_text_attention_starts_as_a_no_op_and_then_lets_a_level_without_attention_read_the_caption():
    """Cross-attention added at a level that had none (models.TextAttention) leaves a trained UNet's output
    as it was until it learns; with weights, the prompt reaches that level's pixels token by token."""
    torch.manual_seed(0)
    plain, crossed = UNet(TINY).eval(), UNet(CROSSED).eval()
    assert sorted(crossed.text_attention) == ["down0", "up5", "up6"]  # after each full-resolution ResNet block
    missing, unexpected = crossed.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("text_attention.") for k in missing)
    # registered last: an older checkpoint's parameters keep their indices (and its optimiser state its order)
    names = [n for n, _ in crossed.named_parameters()]
    assert names[:len(list(plain.parameters()))] == [n for n, _ in plain.named_parameters()]
    x, t, ctx = torch.randn(2, 4, 8, 8), torch.tensor([300.0]), torch.randn(2, 77, 32)
    with torch.no_grad():
        assert torch.equal(plain(x, t, ctx), crossed(x, t, ctx))
        # Only the caption's mean reaches the full-resolution level of the plain UNet (the pooled text): two
        # captions with the same mean and different tokens give its first block the same output ...
        pos = torch.randn(1, 77, 32)
        a, b = ctx + pos, ctx[:, torch.randperm(77)] + pos
        first = []
        hook = crossed.text_attention["down0"].register_forward_hook(lambda _m, _i, out: first.append(out))
        crossed(x, t, a), crossed(x, t, b)
        assert torch.allclose(first[0], first[1], atol=1e-5)
        # ... and different ones once the cross-attention has weights
        torch.nn.init.normal_(crossed.text_attention["down0"].proj_out.weight, std=0.5)
        crossed(x, t, a), crossed(x, t, b)
        hook.remove()
    assert (first[2] - first[3]).abs().max() > 1e-3


def test_text_encoder_is_causal():
    torch.manual_seed(0)
    te = TextEncoder(TextConfig(vocab_size=50, width=32, layers=2, heads=2)).eval()
    a = torch.randint(0, 50, (1, 77))
    b = a.clone()
    b[0, 40:] = (b[0, 40:] + 1) % 50
    with torch.no_grad():
        ha, hb = te(a), te(b)
    assert torch.allclose(ha[0, :40], hb[0, :40], atol=1e-5)
    assert not torch.allclose(ha[0, 40:], hb[0, 40:], atol=1e-3)


def test_schedule_is_sd15(shared):
    import json
    abar = common.alphas_cumprod().double()
    assert abs(abar[0].item() - (1 - 0.00085)) < 1e-6
    # The diffusers reference: Euler's first sigma at t = 999 is sqrt((1 - abar) / abar).
    case = next(c for c in json.loads((shared / "fixtures" / "schedulers.json").read_text())["cases"]
                if c["scheduler"] == "euler_linspace" and c["timesteps"][0] == 999)
    sigma = ((1 - abar[999]) / abar[999]).sqrt().item()
    assert abs(sigma - case["sigmas"][0]) < 1e-4 * case["sigmas"][0]


def test_flop_counter_counts_a_conv():
    conv = torch.nn.Conv2d(4, 8, 3, padding=1)
    assert count_flops(conv, torch.randn(1, 4, 10, 10)) == 2 * 4 * 9 * 8 * 100


def test_sharded_checkpoint_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "SHARD_BYTES", 4000)
    state = {f"w{i}": torch.randn(300) for i in range(7)}
    common.save_sharded(state, tmp_path / "ck", {"step": 3})
    shards = sorted((tmp_path / "ck").glob("shard-*.pt"))
    assert len(shards) >= 3
    back, meta = common.load_sharded(tmp_path / "ck")
    assert meta == {"step": 3} and all(torch.equal(back[k], v) for k, v in state.items())


def test_optimizer_state_survives_a_sharded_round_trip(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(3):
        model(torch.randn(5, 8)).pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    flat, meta = common.optimizer_state(opt)
    common.save_sharded(flat, tmp_path / "ck", {"optimizer": meta})
    back, m = common.load_sharded(tmp_path / "ck")
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3)
    common.load_optimizer_state(fresh, back, m["optimizer"])
    a, b = opt.state_dict(), fresh.state_dict()
    for idx in a["state"]:
        for k, v in a["state"][idx].items():
            assert torch.equal(torch.as_tensor(v), torch.as_tensor(b["state"][idx][k])), (idx, k)
