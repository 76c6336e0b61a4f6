"""Fuzzing the reader and interpreter with mutated fixture files.

Truncations, bit flips, overwritten spans, inserted bytes and pure random bytes, applied to
the real ONNX fixtures. Every mutated file must either load and run (on the fixture's first
recorded input) or be refused with the runtime's ValueError subclasses; never any other
exception, never a hang (a watchdog alarm turns a hang into a failure). Bounded: 500
examples, about 10 s on 2 cores.
"""

import signal
import warnings

import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import InvalidInputError, InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx.ops import REGISTRY, control
from tests.runtime.onnx.helpers import FIXTURES, ONNX_FIXTURES, fixture_inputs

FILES = {name: (FIXTURES / name).read_bytes() for name in ONNX_FIXTURES}
INPUTS = {name: [x[:1] for x in fixture_inputs(name)[0]] for name in ONNX_FIXTURES}
TRIED = {"files": 0, "loaded": 0, "ran": 0, "refused": 0}
WATCHDOG_S = 20


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(ONNX_FIXTURES))
    data = bytearray(FILES[name])
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "random", "edit"]))
    if kind == "edit":
        return name, _structural_edit(draw, FILES[name])
    if kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "overwrite":
        i = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=16))
        data[i : i + len(patch)] = patch
    elif kind == "insert":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=16))
    else:
        data = bytearray(draw(st.binary(max_size=512)))
    return name, bytes(data)


OPS = sorted({op for _, op in REGISTRY})


def _structural_edit(draw, data: bytes) -> bytes:
    """A well-formed protobuf with one semantic edit: the kind of file a buggy exporter writes."""
    model = onnx.load_model_from_string(data)
    graph = model.graph
    what = draw(st.sampled_from(["attr", "dims", "rewire", "drop", "op", "dtype", "shape"]))
    node = graph.node[draw(st.integers(0, len(graph.node) - 1))]
    if what == "attr" and node.attribute:
        attr = node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
        value = draw(st.integers(-(1 << 40), 1 << 40) | st.integers(-3, 8))
        if attr.ints:
            attr.ints[draw(st.integers(0, len(attr.ints) - 1))] = value
        else:
            attr.i = value
    elif what == "dims" and graph.initializer:
        tensor = graph.initializer[draw(st.integers(0, len(graph.initializer) - 1))]
        if tensor.dims:
            tensor.dims[draw(st.integers(0, len(tensor.dims) - 1))] = draw(st.integers(-2, 1 << 40))
    elif what == "rewire" and node.input:
        names = [i.name for i in graph.input] + [t.name for t in graph.initializer]
        names += [o for n in graph.node for o in n.output]
        node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
    elif what == "drop":
        graph.node.remove(node)
    elif what == "op":
        node.op_type = draw(st.sampled_from(OPS))
    elif what == "dtype":
        graph.input[0].type.tensor_type.elem_type = draw(st.integers(0, 25))
    elif what == "shape":
        dims = graph.input[0].type.tensor_type.shape.dim
        dims[draw(st.integers(0, len(dims) - 1))].dim_value = draw(st.integers(0, 64))
    return model.SerializeToString()


def _alarm(signum, frame):
    raise TimeoutError(f"a mutated model ran for more than {WATCHDOG_S} s")


@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=mutated())
def _run_or_refuse(case):
    name, data = case
    TRIED["files"] += 1
    signal.alarm(WATCHDOG_S)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow in a mutated weight is not an error
            session = InferenceSession(data)
            TRIED["loaded"] += 1
            feeds = {i.name: x for i, x in zip(session.get_inputs(), INPUTS[name], strict=False)}
            session.run(None, feeds)
            TRIED["ran"] += 1
    except (InvalidModelError, InvalidInputError):
        TRIED["refused"] += 1
    finally:
        signal.alarm(0)


def test_mutated_fixtures_are_run_or_refused_with_a_typed_error(monkeypatch):
    # A mutated trip count must not turn the LSTM fixture's Loop into minutes of work.
    monkeypatch.setattr(control, "MAX_ITERATIONS", 1000)
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        _run_or_refuse()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    print(f"fuzz: {TRIED}")  # recorded when written: 500 files, 79 loaded, 58 ran, 442 refused
    assert TRIED["files"] >= 400
    assert TRIED["refused"] > 0 and TRIED["ran"] > 0
