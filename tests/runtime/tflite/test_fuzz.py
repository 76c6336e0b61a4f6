"""Mutated fixtures (bit flips, overwritten words, truncation, splices) either run or raise
``InvalidModelError``/``UnsupportedOpError``/``InvalidInputError``: never another exception,
a hang or a huge allocation. Deterministic and bounded (about 10 s on 2 idle cores); set
``RUNTIME_TFLITE_FUZZ_EXAMPLES`` for a longer campaign."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import Interpreter
from runtime.errors import InvalidInputError, InvalidModelError
from tests.runtime.tflite._litert import FIXTURES

NAMES = [
    "slide_cnn.int8",
    "slide_cnn.float",
    "slide_cnn.dynamic",
    "mlp_multi.int8",
    "ops_zoo.int8",
    "ops_zoo.float",
    "lstm_text.float",
]
FILES = {n: (FIXTURES / f"{n}.tflite").read_bytes() for n in NAMES}
TRIED = {"files": 0, "loaded": 0, "ran": 0}


def _mutate(data: bytes, edits, cut) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in edits:
        pos %= len(buf)
        if kind == 0:
            buf[pos] ^= 1 << (value % 8)
        elif kind == 1:
            buf[pos : pos + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")[: len(buf) - pos]
        else:
            buf[pos] = value & 0xFF
    if cut:
        del buf[cut % len(buf) :]
    return bytes(buf)


EXAMPLES = int(os.environ.get("RUNTIME_TFLITE_FUZZ_EXAMPLES", "1500"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    name=st.sampled_from(NAMES),
    edits=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 1 << 20),
            st.one_of(st.integers(0, 255), st.integers(0, (1 << 32) - 1)),
        ),
        min_size=1,
        max_size=6,
    ),
    cut=st.one_of(st.just(0), st.just(0), st.just(0), st.integers(1, 1 << 20)),
)
def _one_mutated_file(name, edits, cut):
    data = _mutate(FILES[name], edits, cut)
    TRIED["files"] += 1
    try:
        it = Interpreter(model_content=data, max_loop_iterations=200)
        TRIED["loaded"] += 1
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
        it.invoke()
        for d in it.get_output_details():
            it.get_tensor(d["index"])
        TRIED["ran"] += 1
    except (InvalidModelError, InvalidInputError):
        pass


def test_mutated_fixtures_fail_cleanly():
    TRIED.update(files=0, loaded=0, ran=0)
    _one_mutated_file()
    print(
        f"\nfuzz: {TRIED['files']} mutated files tried, {TRIED['loaded']} loaded, "
        f"{TRIED['ran']} ran to completion"
    )
    # Every example ran (none was filtered away), and the campaign reached both the reader's
    # errors and the kernels (some mutants load and run to the end).
    assert TRIED["files"] >= EXAMPLES
    assert 0 < TRIED["ran"] <= TRIED["loaded"] < TRIED["files"]
