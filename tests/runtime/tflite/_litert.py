"""Shared helpers for comparing our interpreter with LiteRT (reference kernels)."""

from __future__ import annotations

import numpy as np

from tests._oracles import LITERT, require
from tests.fixtures import KERAS3

FIXTURES = KERAS3

litert = require("ai_edge_litert.interpreter", LITERT)


def litert_interpreter(model_path=None, model_content=None, reference=True):
    """LiteRT with its reference kernels (or its default ones), keeping every tensor."""
    kwargs = {"experimental_preserve_all_tensors": True}
    if reference:
        kwargs["experimental_op_resolver_type"] = litert.OpResolverType.BUILTIN_REF
    it = litert.Interpreter(model_path=model_path, model_content=model_content, **kwargs)
    return it


def fixture_inputs(name: str, interpreter, rows=slice(0, 1)) -> dict[int, np.ndarray]:
    """The fixture's io.npz inputs, keyed by tensor index, quantized for int8 and int16
    inputs."""
    io = np.load(FIXTURES / f"{name}.io.npz")
    sig = interpreter._get_full_signature_list()["serving_default"]["inputs"]
    feeds = {}
    details = {d["index"]: d for d in interpreter.get_input_details()}
    for k, (_, index) in enumerate(sig.items()):
        x = io[f"x{k}"][rows]
        d = details[index]
        if d["dtype"] in (np.int8, np.int16):
            scale, zp = d["quantization"]
            info = np.iinfo(d["dtype"])
            x = np.clip(np.floor(x / scale + 0.5) + zp, info.min, info.max)
        feeds[index] = x.astype(d["dtype"])
    return feeds


def run_both(ours, ref, feeds):
    """Resize, allocate, set and invoke both interpreters on the same feeds."""
    for it in (ours, ref):
        for index, x in feeds.items():
            it.resize_tensor_input(index, x.shape)
        it.allocate_tensors()
        for index, x in feeds.items():
            it.set_tensor(index, x)
        it.invoke()


def compare_all_tensors(ours, ref, float_tol=1e-5):
    """Every tensor of the main subgraph: int exactly, float within ``float_tol``.

    Returns the number of tensors compared.
    """
    n = len(ours.get_tensor_details())
    compared = 0
    for i in range(n):
        try:
            a = ref.get_tensor(i)
        except ValueError:
            continue  # LiteRT keeps no data for this tensor (e.g. consumed by a WHILE)
        b = ours.get_tensor(i)
        name = ours.get_tensor_details()[i]["name"]
        assert a.dtype == b.dtype, f"tensor {i} {name}: dtype {b.dtype} vs LiteRT {a.dtype}"
        assert a.shape == b.shape, f"tensor {i} {name}: shape {b.shape} vs LiteRT {a.shape}"
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=0, atol=float_tol, err_msg=f"tensor {i} {name}")
        else:
            np.testing.assert_array_equal(b, a, err_msg=f"tensor {i} {name}")
        compared += 1
    return compared
