"""The model files the ``onnx`` wheel ships (``onnx/backend/test/data``), run at their original
opsets: PyTorch-exported models (``pytorch-converted``, ``pytorch-operator``, opset 6, which
this runtime upgrades to opset 7 at load) and the ``simple`` models (opsets 9-12, sequences).

Each model's outputs are compared with the outputs shipped next to it, and with onnxruntime's
on the same inputs wherever onnxruntime opens the model. Every model must pass, except the
EXCLUDED ones, which must be refused at load with an ``UnsupportedOpError`` naming the op.
"""

import glob
import os
import re

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import numpy_helper

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx import InferenceSession

DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
FAMILIES = ("simple", "pytorch-converted", "pytorch-operator")

# (regex on "family/case", the op named in the refusal).
EXCLUDED = [
    (r"^simple/test_gradient_of_", "ai.onnx.preview.training"),  # training-only domain
]

# PyTorch's opset-6 PRelu with one slope per channel ([C] against N, C, ...): PRelu-6 did not
# define that broadcast and the upgrade to PRelu-7 keeps the slope as it is, which then does not
# broadcast. onnxruntime refuses these files (no PRelu-6 kernel); this runtime loads them and
# refuses the run with InvalidModelError naming the node.
INCONSISTENT = r"^pytorch-converted/test_PReLU_[123]d_multiparam$"

# The onnx backend runner's tolerances for these model tests (onnx.backend.test.loader):
# the expected outputs were computed by PyTorch, whose float kernels sum in other orders.
SHIPPED_RTOL, SHIPPED_ATOL = 1e-3, 1e-7
# Against onnxruntime on the same file: float32 within 1e-5 relative.
ORT_RTOL, ORT_ATOL = 1e-5, 1e-6


def _cases():
    found = []
    for family in FAMILIES:
        for path in sorted(glob.glob(os.path.join(DATA, family, "*", "model.onnx"))):
            found.append(f"{family}/{os.path.basename(os.path.dirname(path))}")
    return found


CASES = _cases()


def _exclusion(case):
    return next((op for pattern, op in EXCLUDED if re.search(pattern, case)), None)


def _read_value(path, type_proto):
    """A test_data_set file as numpy: a tensor, or a list of tensors for a sequence value."""
    with open(path, "rb") as f:
        data = f.read()
    if type_proto.HasField("sequence_type"):
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return [numpy_helper.to_array(t) for t in seq.tensor_values]
    tensor = onnx.TensorProto()
    tensor.ParseFromString(data)
    return numpy_helper.to_array(tensor)


def _data_sets(model, case_dir):
    inits = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    for ds in sorted(glob.glob(os.path.join(case_dir, "test_data_set_*"))):
        feeds = {
            v.name: _read_value(os.path.join(ds, f"input_{i}.pb"), v.type)
            for i, v in enumerate(inputs)
        }
        expected = [
            _read_value(os.path.join(ds, f"output_{i}.pb"), v.type)
            for i, v in enumerate(model.graph.output)
        ]
        yield feeds, expected


def _onnxruntime(path):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime does not open every shipped model (e.g. training ops)
        return None


def _compare(got, expected, rtol, atol, what):
    assert got.dtype == expected.dtype, (what, got.dtype, expected.dtype)
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    if expected.dtype.kind in "fc":
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def test_corpus_is_present():
    # The wheel ships 140 of these models (onnx 1.23.2); 112 of them import opset 6.
    assert len(CASES) >= 130
    old = [c for c in CASES if _opset(c) < 7]
    assert len(old) >= 100


def _opset(case):
    model = onnx.load(os.path.join(DATA, case, "model.onnx"))
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


@pytest.mark.parametrize("case", CASES)
def test_backend_model(case):
    path = os.path.join(DATA, case, "model.onnx")
    op = _exclusion(case)
    if op:
        with pytest.raises(UnsupportedOpError, match=re.escape(op)):
            InferenceSession(path)
        return
    model = onnx.load(path)
    session = InferenceSession(path)
    reference = _onnxruntime(path)
    names = [o.name for o in model.graph.output]
    sets = list(_data_sets(model, os.path.dirname(path)))
    assert sets, f"{case}: no test_data_set"
    if re.search(INCONSISTENT, case):
        assert reference is None
        with pytest.raises(InvalidModelError, match="PRelu"):
            session.run(names, sets[0][0])
        return
    for feeds, expected in sets:
        got = session.run(names, feeds)
        for name, g, e in zip(names, got, expected, strict=True):
            _compare(g, e, SHIPPED_RTOL, SHIPPED_ATOL, f"{case} output {name!r} vs shipped")
        if reference is not None:
            theirs = reference.run(names, feeds)
            for name, g, t in zip(names, got, theirs, strict=True):
                _compare(g, np.asarray(t), ORT_RTOL, ORT_ATOL, f"{case} {name!r} vs onnxruntime")
