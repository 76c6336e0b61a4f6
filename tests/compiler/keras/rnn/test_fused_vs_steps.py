"""Property test: the fused scans equal the step-by-step ``cell.call`` path in every option."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.keras import layers

ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear", "hard_sigmoid", "softsign"]


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(["LSTM", "GRU", "SimpleRNN"]))
    options = {
        "units": draw(st.integers(1, 4)),
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "use_bias": draw(st.booleans()),
        "return_sequences": draw(st.booleans()),
        "go_backwards": draw(st.booleans()),
        "zero_output_for_mask": draw(st.booleans()),
        "return_state": True,
        "dtype": "float64",
    }
    if kind != "SimpleRNN":
        options["recurrent_activation"] = draw(st.sampled_from(ACTIVATIONS))
    if kind == "GRU":
        options["reset_after"] = draw(st.booleans())
    batch, steps, features = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 3)),
    )
    seed = draw(st.integers(0, 2**31 - 1))
    masked = draw(st.booleans())
    return kind, options, (batch, steps, features), seed, masked


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(configs())
def test_fused_equals_step_by_step(config):
    kind, options, shape, seed, masked = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    mask = rng.random(shape[:2]) > 0.4 if masked else None
    fused, steps = getattr(layers, kind)(**options), getattr(layers, kind)(**options)
    steps._use_fused = False
    fused.build((None, *shape[1:]))
    steps.build((None, *shape[1:]))
    weights = [rng.standard_normal(w.shape) * 0.7 for w in fused.weights]
    fused.set_weights(weights)
    steps.set_weights(weights)
    n_states = 2 if kind == "LSTM" else 1
    h0 = [rng.standard_normal((shape[0], options["units"])) for _ in range(n_states)]
    got = fused(x, mask=mask, initial_state=h0)
    want = steps(x, mask=mask, initial_state=h0)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.data, w.data, rtol=1e-9, atol=1e-12)
