"""W8A16 quantization, as the pack ships it: int8 weights per output channel (symmetric), DequantizeLinear on
the initializers, activations float. `quantize_model` rewrites an ONNX graph; `int8_copy` gives a torch
module the same rounding, so that the recipe's eval measures the int8 model the app runs.
"""
from __future__ import annotations

import copy

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

MIN_QUANT_ELEMENTS = 1024  # small tensors (norms, biases, the timestep MLP's bias) stay float


def quantize_per_channel(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel along `axis`; returns (q int8, scale float32 [w.shape[axis]])."""
    moved = np.moveaxis(w.astype(np.float32), axis, 0).reshape(w.shape[axis], -1)
    scale = np.abs(moved).max(axis=1) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def dequantize(q: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    shape = [1] * q.ndim
    shape[axis] = -1
    return q.astype(np.float32) * scale.reshape(shape)


def _weight_axis(model: onnx.ModelProto) -> dict[str, int]:
    """Initializers that are weights, and their output-channel axis."""
    inits = {i.name for i in model.graph.initializer}
    axes: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Conv" and node.input[1] in inits:
            axes[node.input[1]] = 0  # [out, in, kh, kw]
        elif node.op_type == "MatMul" and node.input[1] in inits:
            axes[node.input[1]] = 1  # x @ W with W [in, out]
        elif node.op_type == "Gemm" and node.input[1] in inits:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axes[node.input[1]] = 0 if trans_b else 1
        elif node.op_type == "Gather" and node.input[0] in inits:
            axes[node.input[0]] = 0  # embedding table: one scale per token row
    return axes


def quantize_model(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    axes = _weight_axis(model)
    g = model.graph
    new_inits, new_nodes = [], []
    stats = {"quantized": 0, "kept_float": 0, "int8_bytes": 0, "float_bytes": 0}
    for init in g.initializer:
        w = numpy_helper.to_array(init)
        axis = axes.get(init.name)
        if axis is None or w.size < MIN_QUANT_ELEMENTS or w.dtype != np.float32:
            new_inits.append(init)
            stats["kept_float"] += 1
            stats["float_bytes"] += w.nbytes
            continue
        q, scale = quantize_per_channel(w, axis)
        qn, sn = init.name + "_quantized", init.name + "_scale"
        new_inits += [numpy_helper.from_array(q, qn), numpy_helper.from_array(scale, sn)]
        # The dequantized tensor keeps the original name, so every consumer is untouched.
        new_nodes.append(helper.make_node("DequantizeLinear", [qn, sn], [init.name], name=init.name + "_dq", axis=axis))
        stats["quantized"] += 1
        stats["int8_bytes"] += q.nbytes + scale.nbytes
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(new_nodes + nodes)
    onnx.checker.check_model(model)
    return model, stats


def int8_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A copy whose weight matrices went through the pack's quantizer (per output channel)."""
    m = copy.deepcopy(module)
    with torch.no_grad():
        for mod in m.modules():
            w = getattr(mod, "weight", None)
            if not isinstance(w, torch.nn.Parameter) or w.numel() < MIN_QUANT_ELEMENTS:
                continue
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding)):
                q, s = quantize_per_channel(w.numpy(), 0)  # torch keeps the output channel first
                w.copy_(torch.from_numpy(dequantize(q, s, 0)))
    return m
