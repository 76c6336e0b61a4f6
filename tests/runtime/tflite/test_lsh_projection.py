"""LSH_PROJECTION against LiteRT's reference kernel: SPARSE and DENSE, with and without
weights, on float32, int32, int8 and STRING inputs whose hashed keys cover every length class
of FarmHash's Fingerprint64 (0-16, 17-32, 33-64 bytes and the 64-byte block loop), and 32-bit
signatures; each bit is the sign of a sum of fingerprints, so a wrong hash fails about half of
the bits. Every result exact."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.kernels._farmhash import fingerprint64
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

NUMPY = {T.FLOAT32: np.float32, T.INT32: np.int32, T.INT8: np.int8}


def lsh_model(kind, x_shape, x_type, num_hash, num_bits, weighted):
    g = GraphBuilder()
    ins = [g.add([num_hash, num_bits], T.FLOAT32, "hash"), g.add(list(x_shape), x_type, "x")]
    if weighted:
        ins.append(g.add([x_shape[0]], T.FLOAT32, "weight"))
    y = g.add([num_hash if kind == 1 else num_hash * num_bits], T.INT32, "y")
    g.op(Op.LSH_PROJECTION, ins, [y], {"type": kind})
    return g.finish(ins, [y]), ins


def random_input(rng, x_type, rows):
    if x_type == T.STRING:
        lengths = rng.integers(0, 160, rows)
        return np.array([rng.bytes(int(n)) for n in lengths], dtype=object)
    cols = int(rng.integers(0, 40))
    return rng.integers(-100, 100, (rows, cols)).astype(NUMPY[x_type])


@pytest.mark.parametrize("x_type", [T.FLOAT32, T.INT32, T.INT8, T.STRING])
@pytest.mark.parametrize("kind", [1, 2])
def test_lsh_projection_matches_litert(x_type, kind):
    rng = np.random.default_rng(int(x_type) * 10 + kind)
    for trial in range(12):
        rows = int(rng.integers(1, 4))
        num_hash = int(rng.integers(1, 5))
        num_bits = 32 if trial == 0 else int(rng.integers(1, 33))
        weighted = bool(trial % 2)
        x = random_input(rng, x_type, rows)
        model, ins = lsh_model(kind, x.shape, x_type, num_hash, num_bits, weighted)
        feeds = [rng.normal(size=(num_hash, num_bits)).astype(np.float32), x]
        if weighted:
            feeds.append(rng.normal(size=rows).astype(np.float32))
        outs = []
        for it in (Interpreter(model_content=model), litert_interpreter(model_content=model)):
            it.allocate_tensors()
            for index, value in zip(ins, feeds):
                it.set_tensor(index, value)
            it.invoke()
            outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
        assert outs[0].dtype == outs[1].dtype == np.int32
        np.testing.assert_array_equal(outs[0], outs[1], err_msg=f"trial {trial}")


def test_fingerprint64_known_values_and_lengths():
    # The empty key is k2 (farmhash.cc); every length class gives distinct 64-bit values.
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    values = {fingerprint64(bytes(range(n))) for n in range(200)}
    assert len(values) == 200 and all(0 <= v < 1 << 64 for v in values)


def test_lsh_projection_invalid_shapes_are_refused():
    model, _ = lsh_model(1, (2, 3), T.FLOAT32, 2, 33, False)  # more than 32 bits
    with pytest.raises(InvalidModelError, match="num_bits <= 32"):
        Interpreter(model_content=model)
    with pytest.raises(RuntimeError):
        litert_interpreter(model_content=model).allocate_tensors()
