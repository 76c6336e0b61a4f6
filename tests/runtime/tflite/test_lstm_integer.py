"""The fully integer UNIDIRECTIONAL_SEQUENCE_LSTM against LiteRT's reference kernels: every
tensor (outputs, state variables, weights) compared exactly, on models quantized as TFLite's
quantizer does (see ``_integer_lstm_models``)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime
from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.tflite.schema import ActivationFunctionType as Act
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests._oracles import LITERT, require
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._integer_lstm_models import (
    float_lstm_model,
    integer_lstm_model,
    tflite_quantized,
)
from tests.runtime.tflite._litert import compare_all_tensors, litert_interpreter, run_both


def _check(model: bytes, seed: int = 0, invokes: int = 2) -> None:
    """Run ours and LiteRT on the same int8 inputs ``invokes`` times (the state carries over)
    and compare every tensor after each invoke."""
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    ref.allocate_tensors()
    detail = ref.get_input_details()[0]
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, detail["shape"]).astype(np.int8)
    run_both(ours, ref, {detail["index"]: x})
    assert compare_all_tensors(ours, ref) > 10
    for _ in range(invokes - 1):
        x = rng.integers(-128, 128, detail["shape"]).astype(np.int8)
        for it in (ours, ref):
            it.set_tensor(detail["index"], x)
            it.invoke()
        compare_all_tensors(ours, ref)


@pytest.mark.parametrize(
    "cifg,peephole,layer_norm,projection", list(itertools.product([False, True], repeat=4))
)
@pytest.mark.parametrize("time_major", [False, True])
def test_every_variant_matches_litert(cifg, peephole, layer_norm, projection, time_major):
    model = integer_lstm_model(
        batch=3,
        steps=4,
        n_input=3,
        n_cell=5,
        n_output=3 if projection else None,
        cifg=cifg,
        peephole=peephole,
        layer_norm=layer_norm,
        time_major=time_major,
        seed=cifg + 2 * peephole + 4 * layer_norm + 8 * projection,
    )
    _check(model)


def _quantized_by_tflite(seed=0, **options) -> bytes:
    """``float_lstm_model(**options)`` calibrated and quantized by TFLite's own quantizer."""
    wrapper = require("ai_edge_litert._pywrap_tensorflow_lite_calibration_wrapper", LITERT)
    model = float_lstm_model(seed=seed, **options)
    shape = [options["steps"], options["batch"], options["n_input"]]
    if not options.get("time_major"):
        shape[:2] = shape[1::-1]
    rng = np.random.default_rng(seed)
    return tflite_quantized(model, [rng.normal(0, 1, shape) for _ in range(6)], wrapper)


_VARIANTS = [
    v for v in itertools.product([False, True], repeat=4) if not (v[0] and v[2])
]  # CIFG with layer norm: see test_tflite_quantizer_cifg_layer_norm_is_refused


@pytest.mark.parametrize("cifg,peephole,layer_norm,projection", _VARIANTS)
def test_files_from_tflites_quantizer_match_litert(cifg, peephole, layer_norm, projection):
    model = _quantized_by_tflite(
        batch=2,
        steps=4,
        n_input=3,
        n_cell=5,
        n_output=3 if projection else None,
        cifg=cifg,
        peephole=peephole,
        layer_norm=layer_norm,
        time_major=peephole != projection,
        seed=7,
    )
    _check(model, seed=7)


def test_tflite_quantizer_cifg_layer_norm_is_refused():
    # TFLite's quantizer leaves the (unused) input-gate intermediate of a CIFG layer-norm LSTM
    # unquantized; LiteRT's Prepare then stops before its scales are set, ignores the error and
    # the op outputs zeros whatever the input. We refuse the file instead.
    model = _quantized_by_tflite(
        batch=2, steps=3, n_input=3, n_cell=4, cifg=True, layer_norm=True, seed=1
    )
    ref = litert_interpreter(model_content=model)
    ref.allocate_tensors()
    detail = ref.get_input_details()[0]
    x = np.random.default_rng(1).integers(-128, 128, detail["shape"]).astype(np.int8)
    ref.set_tensor(detail["index"], x)
    ref.invoke()
    assert not ref.get_tensor(ref.get_output_details()[0]["index"]).any()
    with pytest.raises(InvalidModelError, match="intermediate 0"):
        _load(model)


@pytest.mark.parametrize(
    "options",
    [
        {"cell_clip": 0.4},
        {"n_output": 4, "proj_clip": 0.05},
        {"cell_exp": -15},
        {"cell_exp": -9},
        {"batch": 1, "steps": 1},
        {"n_input": 16, "n_cell": 12, "steps": 7},  # wider than one SIMD block in LiteRT
    ],
)
def test_clips_cell_scales_and_sizes_match_litert(options):
    _check(integer_lstm_model(**options), seed=3)


def test_output_state_starts_at_its_zero_point_and_resets():
    # LiteRT's ResetVariableTensor fills an int8 variable with its zero point (real 0.0).
    model = integer_lstm_model(seed=5)
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    for it in (ours, ref):
        it.allocate_tensors()
    h = next(d for d in ours.get_tensor_details() if d["name"] == "h")
    zero_point = h["quantization"][1]
    assert zero_point != 0
    np.testing.assert_array_equal(ours.get_tensor(h["index"]), np.full(h["shape"], zero_point))
    np.testing.assert_array_equal(ours.get_tensor(h["index"]), ref.get_tensor(h["index"]))
    detail = ours.get_input_details()[0]
    x = np.random.default_rng(0).integers(-128, 128, detail["shape"]).astype(np.int8)
    outputs = []
    for _ in range(2):
        ours.set_tensor(detail["index"], x)
        ours.invoke()
        outputs.append(ours.get_tensor(ours.get_output_details()[0]["index"]))
        ours.reset_all_variables()
    np.testing.assert_array_equal(outputs[0], outputs[1])


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    batch=st.integers(1, 3),
    steps=st.integers(1, 4),
    n_input=st.integers(1, 6),
    n_cell=st.integers(1, 8),
    flags=st.tuples(*[st.booleans()] * 5),
    cell_exp=st.integers(-15, -9),
    seed=st.integers(0, 2**16),
)
def test_random_integer_lstms_match_litert(batch, steps, n_input, n_cell, flags, cell_exp, seed):
    cifg, peephole, layer_norm, projection, time_major = flags
    n_output = max(1, n_cell - 1) if projection else None
    model = integer_lstm_model(
        batch=batch,
        steps=steps,
        n_input=n_input,
        n_cell=n_cell,
        n_output=n_output,
        cifg=cifg,
        peephole=peephole,
        layer_norm=layer_norm,
        time_major=time_major,
        cell_exp=cell_exp,
        seed=seed,
    )
    _check(model, seed=seed)


def _load(model: bytes):
    it = runtime.Interpreter(model_content=model)
    it.allocate_tensors()
    return it


@pytest.mark.parametrize(
    "options,message",
    [
        ({"n_intermediates": 4}, "intermediate tensors"),
        ({"n_intermediates": 0}, "intermediate tensors"),
        ({"tweak": {"c": {"scale": 0.0003}}}, "power of two"),
        ({"tweak": {"c": {"scale": 2.0**-4}}}, "is outside"),
        ({"tweak": {"c": {"ttype": T.INT8}}}, "cell state"),
        ({"tweak": {"x": {"scale": 1e30}}}, "out of range"),
        ({"tweak": {"x": {"scale": 0.0}}}, "scale"),
        ({"tweak": {"x": {"scale": float("nan")}}}, "scale"),
        ({"tweak": {"hidden": {"scale": None}}}, "no quantization"),
        ({"tweak": {"w_f": {"shape": [4, 2]}}}, "shape"),
        ({"tweak": {"r_o": {"shape": [4, 4, 1]}}}, "rank 3"),
        ({"tweak": {"b_c": {"shape": [5]}}}, "shape"),
        ({"tweak": {"w_c": {"zero_point": 3}}}, "zero point"),
        ({"tweak": {"y": {"ttype": T.INT16}}}, "output"),
        ({"tweak": {"x": {"shape": [2, 15]}}}, "rank"),
        ({"cell_clip": -1.0}, "cell_clip"),
        ({"cell_clip": float("nan")}, "cell_clip"),
    ],
)
def test_hostile_parameters_are_refused(options, message):
    with pytest.raises(InvalidModelError, match=message):
        _load(integer_lstm_model(**options))


def test_per_channel_weights_and_overhanging_peephole_are_unsupported():
    per_channel = {"w_i": {"scale": [0.01] * 4, "zero_point": [0] * 4}}
    with pytest.raises(UnsupportedOpError, match="per-tensor"):
        _load(integer_lstm_model(tweak=per_channel))
    # Peephole with n_output > n_cell: LiteRT reads past the vectors' ends.
    with pytest.raises(UnsupportedOpError, match="peephole"):
        _load(integer_lstm_model(peephole=True, n_cell=3, n_output=5))


def test_state_variable_required():
    # The output state given as a constant instead of a variable tensor.
    model = integer_lstm_model(tweak={"h": {"is_variable": False, "data": np.zeros((2, 4))}})
    with pytest.raises(InvalidModelError, match="variable"):
        _load(model)


def _int8_rnn_model() -> bytes:
    g = GraphBuilder()
    q = {"scale": 0.05, "zero_point": 2}
    w = {"scale": 0.01, "zero_point": 0}
    x = g.add([2, 3, 4], T.INT8, "x", **q)
    wi = g.add([5, 4], T.INT8, "w", data=np.ones((5, 4)), **w)
    wr = g.add([5, 5], T.INT8, "r", data=np.ones((5, 5)), **w)
    b = g.add([5], T.INT32, "b", data=np.zeros(5), scale=0.0005)
    h = g.add([2, 5], T.INT8, "h", is_variable=True, **q)
    y = g.add([2, 3, 5], T.INT8, "y", **q)
    g.op(
        Op.UNIDIRECTIONAL_SEQUENCE_RNN,
        [x, wi, wr, b, h],
        [y],
        {"fused_activation_function": int(Act.TANH), "time_major": False},
    )
    return g.finish([x], [y])


def test_int8_rnn_has_no_integer_kernel():
    # LiteRT's UNIDIRECTIONAL_SEQUENCE_RNN with int8 weights is the hybrid kernel only (float
    # input); an int8 input is refused by both, not run as if it were float.
    ref = litert_interpreter(model_content=_int8_rnn_model())
    with pytest.raises(RuntimeError, match="FLOAT32"):
        ref.allocate_tensors()
    with pytest.raises(UnsupportedOpError, match="float32"):
        _load(_int8_rnn_model())


def test_gate_buffers_are_charged_to_the_run_limits():
    model = integer_lstm_model(batch=8, n_cell=8, n_input=2, steps=2)
    it = runtime.Interpreter(model_content=model, limits=runtime.Limits(max_tensor_bytes=1500))
    it.allocate_tensors()
    detail = it.get_input_details()[0]
    it.set_tensor(detail["index"], np.zeros(detail["shape"], np.int8))
    with pytest.raises(runtime.BudgetExceededError, match="gate accumulators"):
        it.invoke()


def test_in_place_rescaling_equals_the_reference_arithmetic():
    # The kernel's in-place MBQM and rounding shift are second implementations of
    # multiply_by_quantized_multiplier and rdbpot: equal on edge and random values.
    from runtime.tflite.kernels import lstm_integer
    from runtime.tflite.kernels._fixed_point import multiply_by_quantized_multiplier, rdbpot

    rng = np.random.default_rng(0)
    edges = np.array([-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 1, -(2**14), 2**14, 3, -3])
    x = np.concatenate([edges, rng.integers(-(2**31), 2**31, 4000)]).astype(np.int64)
    x = x.reshape(-1, 2)
    for shift in ([0, -1], [-31, -5], [-12, 0], [3, -2]):
        mult = rng.integers(2**30, 2**31, 2).astype(np.int64)
        expected = multiply_by_quantized_multiplier(x, mult, np.array(shift))
        got = lstm_integer._scale(x.copy(), mult, np.array(shift))
        np.testing.assert_array_equal(got, expected)
    for exponent in (1, 15, 21, 30):
        np.testing.assert_array_equal(lstm_integer._round_shift(x, exponent), rdbpot(x, exponent))


@pytest.mark.parametrize("single_step", [False, True])
@pytest.mark.parametrize("shape", [[2, 5, 7], [2, 3], [2, 1, 5, 3]])
def test_input_resized_to_another_rank_or_depth_is_refused(single_step, shape):
    it = runtime.Interpreter(model_content=integer_lstm_model(single_step=single_step))
    index = it.get_input_details()[0]["index"]
    if shape == [2, 3] and single_step:
        shape = [2, 7]
    it.resize_tensor_input(index, shape)
    with pytest.raises(InvalidModelError, match="rank|depth"):
        it.allocate_tensors()  # runs the graph once to size the outputs
        it.set_tensor(index, np.zeros(shape, np.int8))
        it.invoke()


def _gate_sweep_model(cell_exp: int = -11) -> bytes:
    """An integer LSTM whose gate pre-activations take every int16 value once: 256 batch rows
    (x = row - 128, scale 2^-6) times 256 cells (bias 256 c - 32640), weights 1 at scale 2^-6,
    so the input-to-gate scale is exactly 1; recurrent weights 0."""
    g = GraphBuilder()
    n = 256
    s = 2.0**-6
    x = g.add([1, n, 1], T.INT8, "x", scale=s, zero_point=0)  # time-major: rows at once
    ones = g.add([n, 1], T.INT8, "ones", data=np.ones((n, 1)), scale=s, zero_point=0)
    zeros = g.add([n, n], T.INT8, "zeros", data=np.zeros((n, n)), scale=s, zero_point=0)
    bias = g.add([n], T.INT32, "bias", data=256 * np.arange(n) - 32640, scale=s * s)
    h = g.add([n, n], T.INT8, "h", is_variable=True, scale=1 / 128, zero_point=0)
    c = g.add([n, n], T.INT16, "c", is_variable=True, scale=2.0**cell_exp, zero_point=0)
    inter = [g.add([], T.INT16, f"i{k}", scale=2.0**-12, zero_point=0) for k in range(4)]
    inter.append(g.add([], T.INT8, "hidden", scale=1 / 128, zero_point=0))
    y = g.add([1, n, n], T.INT8, "y", scale=1 / 128, zero_point=0)
    inputs = [x] + [ones] * 4 + [zeros] * 4 + [-1] * 3 + [bias] * 4 + [-1, -1, h, c]
    options = {"fused_activation_function": int(Act.TANH), "time_major": True}
    g.op(Op.UNIDIRECTIONAL_SEQUENCE_LSTM, inputs, [y], options)
    g.operators[-1]["intermediates"] = inter
    return g.finish([x], [y])


def test_int16_sigmoid_and_tanh_tables_equal_litert_on_every_input():
    # LiteRT keeps its scratch buffers as extra tensors after the model's: the cell gate
    # (tanh of Q3.12) and the output gate (sigmoid of Q3.12) after activation. With every
    # int16 pre-activation present once, they must equal our tables everywhere.
    from runtime.tflite.kernels._fixed_point16 import sigmoid_table, tanh_table

    model = _gate_sweep_model()
    ref = litert_interpreter(model_content=model)
    ref.allocate_tensors()
    detail = ref.get_input_details()[0]
    ref.set_tensor(detail["index"], (np.arange(256) - 128).astype(np.int8).reshape(1, 256, 1))
    ref.invoke()
    n_model = len(runtime.Interpreter(model_content=model).get_tensor_details())
    pre = (256 * np.arange(256) - 32640)[None, :] + (np.arange(256) - 128)[:, None]
    assert sorted(pre.ravel().tolist()) == list(range(-32768, 32768))
    cell_gate, output_gate = ref.get_tensor(n_model + 2), ref.get_tensor(n_model + 3)
    np.testing.assert_array_equal(cell_gate, tanh_table(3)[pre + 32768])
    np.testing.assert_array_equal(output_gate, sigmoid_table()[pre + 32768])
    # and our kernel agrees with LiteRT on every tensor of this model
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ours.allocate_tensors()
    ours.set_tensor(detail["index"], (np.arange(256) - 128).astype(np.int8).reshape(1, 256, 1))
    ours.invoke()
    assert compare_all_tensors(ours, ref) == 7


@pytest.mark.parametrize("single_step", [False, True])
def test_state_set_by_the_caller_is_where_the_next_invoke_starts(single_step):
    # Streaming use: the caller restores a saved state with set_tensor, as LiteRT allows.
    model = integer_lstm_model(single_step=single_step, seed=8)
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    rng = np.random.default_rng(8)
    names = {d["name"]: d for d in ours.get_tensor_details()}
    h = rng.integers(-128, 128, names["h"]["shape"]).astype(np.int8)
    c = rng.integers(-30000, 30000, names["c"]["shape"]).astype(np.int16)
    detail = ours.get_input_details()[0]
    x = rng.integers(-128, 128, detail["shape"]).astype(np.int8)
    for it in (ours, ref):
        it.allocate_tensors()
        it.set_tensor(names["h"]["index"], h)
        it.set_tensor(names["c"]["index"], c)
        it.set_tensor(detail["index"], x)
        it.invoke()
    assert compare_all_tensors(ours, ref) > 10
    assert ours.get_tensor(names["c"]["index"]).tolist() != c.tolist()


@pytest.mark.parametrize("cell_exp", range(-15, -8))
def test_int16_tanh_of_the_cell_equals_litert(cell_exp):
    # The cell state set to every int16 value; LiteRT's scratch 0 then holds
    # tanh_Q(15 + cell_exp)(new cell) for about half of all int16 values.
    from runtime.tflite.kernels._fixed_point16 import tanh_table

    model = _gate_sweep_model(cell_exp)
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    c_index = next(d["index"] for d in ours.get_tensor_details() if d["name"] == "c")
    x_index = ours.get_input_details()[0]["index"]
    for it in (ours, ref):
        it.allocate_tensors()
        it.set_tensor(c_index, np.arange(-32768, 32768).astype(np.int16).reshape(256, 256))
        it.set_tensor(x_index, np.full((1, 256, 1), 127, np.int8))
        it.invoke()
    new_cell = ref.get_tensor(c_index).astype(np.int64)
    assert len(np.unique(new_cell)) > 20000
    tanh_of_cell = ref.get_tensor(len(ours.get_tensor_details()))
    np.testing.assert_array_equal(tanh_of_cell, tanh_table(15 + cell_exp)[new_cell + 32768])
    assert compare_all_tensors(ours, ref) == 7
