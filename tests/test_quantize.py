"""The learned model's weights are 7-bit (training/quantize.py), so that onnxruntime computes the same integers
on every x86 CPU: with 8-bit weights its u8s8 kernel saturates on CPUs without VNNI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.analysis.learned import MODEL_FILE, WEIGHTS_DIR


def _onnx() -> tuple[Any, Any]:
    """onnx and its numpy_helper, imported when a test runs (~1.2 s: every test worker collects this file)."""
    return pytest.importorskip("onnx"), pytest.importorskip("onnx.numpy_helper")


def _matmul_weights(path: Path) -> list[np.ndarray]:
    onnx, numpy_helper = _onnx()
    graph = onnx.load(str(path)).graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    return [initializers[node.input[1]] for node in graph.node if node.op_type == "MatMulInteger"]


def test_the_shipped_graph_has_7_bit_weights() -> None:
    weights = _matmul_weights(WEIGHTS_DIR / MODEL_FILE)
    assert len(weights) == 38 and all(w.dtype == np.int8 and w.min() >= -64 and w.max() <= 63 for w in weights)
    assert max(int(w.max()) for w in weights) == 63  # each column's largest weight is 63 (or -63)


def _tiny_graph(path: Path, weights: np.ndarray) -> None:
    onnx, numpy_helper = _onnx()
    from onnx import TensorProto, helper

    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8])],
                              [numpy_helper.from_array(weights, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _exact(path: Path, x: np.ndarray) -> np.ndarray:
    """What the quantised graph means, in numpy integers: DynamicQuantizeLinear of x (ONNX's definition), then
    (x_q - x_zp) @ (w_q - w_zp) in int64, then times the product of the scales."""
    onnx, numpy_helper = _onnx()
    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    matmul = next(node for node in graph.node if node.op_type == "MatMulInteger")
    w_scale = next(init[i] for node in graph.node if node.op_type == "Mul" for i in node.input
                   if i in init and init[i].shape == (8,))
    low, high = min(0.0, float(x.min())), max(0.0, float(x.max()))
    x_scale = np.float32((high - low) / 255)
    x_zp = np.clip(np.rint(-low / x_scale), 0, 255)
    x_q = np.clip(np.rint(x / x_scale) + x_zp, 0, 255).astype(np.int64)
    products = (x_q - int(x_zp)) @ (init[matmul.input[1]].astype(np.int64) - init[matmul.input[3]].astype(np.int64))
    return products.astype(np.float32) * (x_scale * w_scale.astype(np.float32))


def test_quantized_graph_computes_the_exact_integers_on_this_cpu(tmp_path: Path) -> None:
    import onnxruntime as ort

    from monitor.training.quantize import quantize, reduce_weight_range

    rng = np.random.default_rng(3)
    weights = rng.normal(size=(64, 8)).astype(np.float32)
    weights[:, :4] = np.abs(weights[:, :4]) + 2.0  # large weights of one sign: 8-bit pairs of them saturate
    _tiny_graph(tmp_path / "fp32.onnx", weights)
    quantize(tmp_path / "fp32.onnx", tmp_path / "q.onnx")
    (quantized,) = _matmul_weights(tmp_path / "q.onnx")
    assert quantized.min() >= -64 and quantized.max() == 63
    session = ort.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"])
    for x in (np.ones((2, 64), np.float32), rng.normal(size=(5, 64)).astype(np.float32)):
        y = session.run(None, {"x": x})[0]
        np.testing.assert_allclose(y, _exact(tmp_path / "q.onnx", x), rtol=1e-6)
        assert np.abs(y - x @ weights).max() < 0.05 * np.abs(x @ weights).max()
    assert reduce_weight_range(tmp_path / "q.onnx") == 0  # 7-bit already
