"""The fixture packs carry exactly the signatures their variants claim (what the app's tests rely on)."""
from pathlib import Path

import onnx
import pytest

from shapes import fixtures

SHARED_TOKENIZER = Path(__file__).resolve().parents[3] / "shared" / "clip-tokenizer"
ELEM = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16", onnx.TensorProto.INT32: "int32",
        onnx.TensorProto.INT64: "int64"}


def _io(model: onnx.ModelProto, name: str, outputs: bool = False):
    vi = next(v for v in (model.graph.output if outputs else model.graph.input) if v.name == name)
    t = vi.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]
    return ELEM[t.elem_type], dims


@pytest.mark.parametrize("v", fixtures.VARIANTS, ids=lambda v: v.name)
def test_variant_signature(tmp_path: Path, v: fixtures.Variant) -> None:
    fixtures.write_variant(v, tmp_path / v.name, SHARED_TOKENIZER)
    d = tmp_path / v.name
    te = onnx.load(str(d / "text_encoder" / "model.onnx"))
    assert _io(te, "input_ids") == (v.ids_type, [v.text_batch or "batch", 77])
    assert _io(te, "last_hidden_state", True) == (v.float_type, [v.text_batch or "batch", 77, v.width])
    unet = onnx.load(str(d / "unet" / "model.onnx"), load_external_data=False)
    batch = v.unet_batch or "batch"
    hw = [v.latent, v.latent] if v.latent else ["height", "width"]
    assert _io(unet, "sample") == (v.float_type, [batch, 4, *hw])
    assert _io(unet, "timestep") == (v.timestep_type, {"[]": [], "[1]": [1], "[batch]": [batch]}[v.timestep_shape])
    assert _io(unet, "encoder_hidden_states") == (v.float_type, [batch, 77, v.width])
    assert _io(unet, "out_sample", True) == (v.float_type, [batch, 4, *hw])
    external = {e.value for init in unet.graph.initializer for e in init.external_data if e.key == "location"}
    assert external == ({v.external} if v.external else set())
    assert all(f.name != "GroupNorm" for f in unet.graph.node)
    onnx.checker.check_model(onnx.load(str(d / "unet" / "model.onnx")))
    vae = onnx.load(str(d / "vae_decoder" / "model.onnx"))
    assert _io(vae, "latent_sample")[0] == v.float_type and _io(vae, "sample", True)[0] == v.float_type
    assert (d / "manifest.json").exists() == v.manifest
