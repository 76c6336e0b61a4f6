"""UNIDIRECTIONAL_SEQUENCE_LSTM / _RNN (float and hybrid int8 weights) against LiteRT,
including the recurrent state carried over from one invoke to the next."""

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.schema import ActivationFunctionType as Act
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite._recurrent_models import lstm_model, rnn_model

LSTM_CASES = {
    "float": {},
    "float_time_major": {"time_major": True},
    "float_cifg": {"cifg": True},
    "float_cell_clip": {"cell_clip": 0.5},
    "hybrid_symmetric": {"hybrid": True},
    "hybrid_asymmetric": {"hybrid": True, "asymmetric": True},
    "hybrid_cifg_long": {"hybrid": True, "cifg": True, "steps": 20, "n_input": 8, "n_cell": 16},
}
RNN_CASES = {
    "float_tanh": {},
    "float_relu": {"activation": Act.RELU},
    "float_time_major": {"time_major": True},
    "hybrid_symmetric": {"hybrid": True},
    "hybrid_asymmetric_long": {"hybrid": True, "asymmetric": True, "steps": 20, "units": 16},
}


def _compare(data: bytes, seed: int, invokes: int = 3):
    rng = np.random.default_rng(seed)
    ref = litert_interpreter(model_content=data)
    ours = Interpreter(model_content=data)
    for it in (ref, ours):
        it.allocate_tensors()
    inp = ref.get_input_details()[0]
    out = ref.get_output_details()[0]["index"]
    for _ in range(invokes):
        x = rng.normal(0, 1.5, inp["shape"]).astype(np.float32)
        for it in (ref, ours):
            it.set_tensor(inp["index"], x)
            it.invoke()
        np.testing.assert_allclose(ours.get_tensor(out), ref.get_tensor(out), rtol=0, atol=1e-5)
    return ours, ref


@pytest.mark.parametrize("case", LSTM_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_lstm_matches_litert(case, seed):
    _compare(lstm_model(seed=seed, **LSTM_CASES[case]), seed)


@pytest.mark.parametrize("case", RNN_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_rnn_matches_litert(case, seed):
    _compare(rnn_model(seed=seed, **RNN_CASES[case]), seed)


def test_reset_all_variables_restarts_the_sequence():
    ours, ref = _compare(lstm_model(), seed=3, invokes=2)
    x = np.ones(ours.get_input_details()[0]["shape"], np.float32)
    out = ours.get_output_details()[0]["index"]
    results = []
    for it in (ours, ref):
        it.reset_all_variables()
        it.set_tensor(0, x)
        it.invoke()
        results.append(it.get_tensor(out))
    np.testing.assert_allclose(results[0], results[1], atol=1e-5)
    fresh = Interpreter(model_content=lstm_model())
    fresh.allocate_tensors()
    fresh.set_tensor(0, x)
    fresh.invoke()
    np.testing.assert_array_equal(fresh.get_tensor(out), results[0])


def test_state_with_wrong_batch_is_a_typed_error():
    it = Interpreter(model_content=lstm_model(batch=2))
    it.resize_tensor_input(0, [3, 5, 3])
    with pytest.raises(ValueError, match="output state holds 8 values, expected batch 3"):
        it.allocate_tensors()


def test_state_tensors_are_readable_after_invoke():
    ours, ref = _compare(lstm_model(), seed=5, invokes=1)
    for d in ref.get_tensor_details():
        if d["name"] in ("h", "c"):
            np.testing.assert_allclose(
                ours.get_tensor(d["index"]), ref.get_tensor(d["index"]), atol=1e-5
            )


# LiteRT's merged, batch-major kernel reads unset memory for batch > 1 (its rows for batch 1 are
# partly zero and change between runs), so merged cases are time-major or batch 1.
BI_CASES = {
    "float_merged_time_major": {"time_major": True},
    "float_merged_batch_major_batch1": {"batch": 1},
    "float_separate": {"merge": False},
    "float_separate_time_major": {"merge": False, "time_major": True},
    "hybrid_merged_time_major": {"hybrid": True, "time_major": True},
    "hybrid_asymmetric_separate": {"hybrid": True, "asymmetric": True, "merge": False},
}


@pytest.mark.parametrize("case", BI_CASES)
def test_bidirectional_lstm_matches_litert(case):
    from tests.runtime.tflite._recurrent_models import bidirectional_lstm_model

    data = bidirectional_lstm_model(seed=4, **BI_CASES[case])
    rng = np.random.default_rng(4)
    ref = litert_interpreter(model_content=data)
    ours = Interpreter(model_content=data)
    for it in (ref, ours):
        it.allocate_tensors()
    inp = ref.get_input_details()[0]
    for _ in range(2):
        x = rng.normal(0, 1.5, inp["shape"]).astype(np.float32)
        for it in (ref, ours):
            it.set_tensor(inp["index"], x)
            it.invoke()
        for d in ref.get_output_details():
            np.testing.assert_allclose(
                ours.get_tensor(d["index"]), ref.get_tensor(d["index"]), rtol=0, atol=1e-5
            )


def test_bidirectional_merged_batch_major_equals_separate_outputs():
    # No LiteRT oracle for this layout (see BI_CASES): merging must only concatenate what the
    # separate outputs (which match LiteRT) hold.
    from tests.runtime.tflite._recurrent_models import bidirectional_lstm_model

    x = np.random.default_rng(6).normal(0, 1.5, (2, 5, 3)).astype(np.float32)
    results = []
    for merge in (True, False):
        it = Interpreter(model_content=bidirectional_lstm_model(seed=6, merge=merge))
        it.allocate_tensors()
        it.set_tensor(0, x)
        it.invoke()
        results.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    np.testing.assert_array_equal(results[0][0], np.concatenate(results[1], axis=-1))
