"""Optimizers: Keras 3's update rules against hand-written numpy references, variables, config."""

import numpy as np
import pytest

from compiler.keras import optimizers
from compiler.keras.variables import Variable

RNG = np.random.default_rng(0)
F = np.float32


def _variables():
    kernel = Variable(RNG.normal(size=(3, 2)).astype(F), name="kernel")
    kernel.path = "dense/kernel"
    bias = Variable(RNG.normal(size=(2,)).astype(F), name="bias")
    bias.path = "dense/bias"
    return [kernel, bias]


def _grads(steps):
    return [
        [RNG.normal(size=(3, 2)).astype(F), RNG.normal(size=(2,)).astype(F)] for _ in range(steps)
    ]


def _run(optimizer, steps=3):
    variables = _variables()
    start = [v.data.copy() for v in variables]
    grads = _grads(steps)
    for g in grads:
        optimizer.apply(g, variables)
    return start, grads, [v.data for v in variables]


def _check(got, expected):
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_reference(momentum, nesterov):
    start, grads, got = _run(
        optimizers.SGD(learning_rate=0.1, momentum=momentum, nesterov=nesterov)
    )
    expected = []
    for i, w in enumerate(start):
        w, m = w.astype(np.float64), 0.0
        for g in grads:
            g = g[i]
            if momentum == 0:
                w = w - 0.1 * g
                continue
            m = momentum * m - 0.1 * g
            w = w + (momentum * m - 0.1 * g if nesterov else m)
        expected.append(w)
    _check(got, expected)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_reference(amsgrad):
    start, grads, got = _run(optimizers.Adam(learning_rate=0.01, amsgrad=amsgrad))
    expected = []
    for i, w in enumerate(start):
        w, m, v, v_hat = w.astype(np.float64), 0.0, 0.0, 0.0
        for t, g in enumerate(grads, start=1):
            g = g[i]
            lr_t = 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            m = m + (g - m) * (1 - 0.9)
            v = v + (g * g - v) * (1 - 0.999)
            v_hat = np.maximum(v_hat, v)
            w = w - lr_t * m / (np.sqrt(v_hat if amsgrad else v) + 1e-7)
        expected.append(w)
    _check(got, expected)


def test_adamw_decays_weights_before_the_adam_step():
    start, grads, got = _run(optimizers.AdamW(learning_rate=0.01, weight_decay=0.1))
    expected = []
    for i, w in enumerate(start):
        w, m, v = w.astype(np.float64), 0.0, 0.0
        for t, g in enumerate(grads, start=1):
            g = g[i]
            w = w - w * 0.1 * 0.01
            m = m + (g - m) * 0.1
            v = v + (g * g - v) * 0.001
            w = w - 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
        expected.append(w)
    _check(got, expected)


@pytest.mark.parametrize(
    "momentum,centered", [(0.0, False), (0.5, False), (0.0, True), (0.5, True)]
)
def test_rmsprop_matches_reference(momentum, centered):
    start, grads, got = _run(
        optimizers.RMSprop(learning_rate=0.01, momentum=momentum, centered=centered)
    )
    expected = []
    for i, w in enumerate(start):
        w, v, a, mom = w.astype(np.float64), 0.0, 0.0, 0.0
        for g in grads:
            g = g[i]
            v = 0.9 * v + 0.1 * g * g
            a = 0.9 * a + 0.1 * g
            denominator = (v - a * a + 1e-7) if centered else (v + 1e-7)
            increment = 0.01 * g / np.sqrt(denominator)
            mom = momentum * mom + increment
            w = w - (mom if momentum else increment)
        expected.append(w)
    _check(got, expected)


def test_adagrad_matches_reference():
    start, grads, got = _run(optimizers.Adagrad(learning_rate=0.1))
    expected = []
    for i, w in enumerate(start):
        w, acc = w.astype(np.float64), 0.1
        for g in grads:
            acc = acc + g[i] ** 2
            w = w - 0.1 * g[i] / np.sqrt(acc + 1e-7)
        expected.append(w)
    _check(got, expected)


def test_variables_follow_keras_order_and_names():
    optimizer = optimizers.Adam(amsgrad=False)
    variables = _variables()
    optimizer.build(variables)
    names = [v.name for v in optimizer.variables]
    assert names == [
        "iteration",
        "learning_rate",
        "dense_kernel_momentum",
        "dense_kernel_velocity",
        "dense_bias_momentum",
        "dense_bias_velocity",
    ]
    assert optimizer.variables[0].dtype == np.int64
    assert optimizer.variables[1].dtype == np.float32
    assert [v.shape for v in optimizer.variables[2:]] == [(3, 2), (3, 2), (2,), (2,)]
    rms = optimizers.RMSprop(momentum=0.5, centered=True)
    rms.build(variables)
    assert [v.name for v in rms.variables[2:]] == [
        "dense_kernel_velocity",
        "dense_bias_velocity",
        "dense_kernel_momentum",
        "dense_bias_momentum",
        "dense_kernel_average_gradient",
        "dense_bias_average_gradient",
    ]
    sgd = optimizers.SGD()
    sgd.build(variables)
    assert [v.name for v in sgd.variables] == ["iteration", "learning_rate"]


def test_state_restores_through_build_and_set_weights():
    optimizer = optimizers.Adam(learning_rate=0.01)
    start, grads, _ = _run(optimizer, steps=2)
    saved = optimizer.get_weights()
    restored = optimizers.Adam(learning_rate=0.01)
    variables = _variables()
    restored.build(variables)
    restored.set_weights(saved)
    assert int(restored.iterations.data) == 2
    for a, b in zip(saved, restored.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="has shape"):
        restored.set_weights([saved[0], saved[1], np.zeros((5, 5))] + saved[3:])


def test_get_config_matches_keras_and_round_trips():
    config = optimizers.Adam().get_config()
    assert config == {
        "name": "adam",
        "learning_rate": 0.0010000000474974513,
        "weight_decay": None,
        "clipnorm": None,
        "global_clipnorm": None,
        "clipvalue": None,
        "use_ema": False,
        "ema_momentum": 0.99,
        "ema_overwrite_frequency": None,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-07,
        "amsgrad": False,
    }
    for cls in (optimizers.SGD, optimizers.RMSprop, optimizers.AdamW, optimizers.Adagrad):
        original = cls(learning_rate=0.05)
        again = optimizers.deserialize(optimizers.serialize(original))
        assert type(again) is cls and again.get_config() == original.get_config()
    assert optimizers.SGD().get_config()["name"] == "SGD"
    assert optimizers.RMSprop().get_config()["rho"] == 0.9


def test_get_by_name_and_unknown_name():
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    instance = optimizers.SGD()
    assert optimizers.get(instance) is instance
    with pytest.raises(ValueError, match="Valid optimizer names: .*'adam'.*'sgd'"):
        optimizers.get("adamm")


def test_clipping():
    variables = _variables()
    grads = [np.full((3, 2), 3.0, F), np.full((2,), 4.0, F)]

    def applied(**kwargs):
        vs = [Variable(v.data.copy(), name=v.name) for v in variables]
        for v, o in zip(vs, variables, strict=True):
            v.path = o.path
        optimizers.SGD(learning_rate=1.0, **kwargs).apply([g.copy() for g in grads], vs)
        return [o.data - v.data for v, o in zip(vs, variables, strict=True)]

    by_value = applied(clipvalue=1.0)
    np.testing.assert_allclose(by_value[0], 1.0, rtol=1e-6)
    by_norm = applied(clipnorm=1.0)
    np.testing.assert_allclose(np.linalg.norm(by_norm[0]), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(by_norm[1]), 1.0, rtol=1e-6)
    by_global = applied(global_clipnorm=1.0)
    total = np.sqrt(sum(np.sum(d.astype(np.float64) ** 2) for d in by_global))
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)
    np.testing.assert_allclose(by_global[0] / by_global[0].max(), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_exponential_decay_schedule_drives_learning_rate():
    schedule = optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=2, decay_rate=0.5, staircase=True
    )
    optimizer = optimizers.SGD(learning_rate=schedule)
    variables = _variables()
    before = variables[1].data.copy()
    rates = []
    for _ in range(4):
        rates.append(float(optimizer.learning_rate))
        optimizer.apply([np.zeros((3, 2), F), np.ones(2, F)], variables)
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.05, 0.05], rtol=1e-6)
    np.testing.assert_allclose(before - variables[1].data, 0.3, rtol=1e-6)
    config = optimizer.get_config()
    assert config["learning_rate"]["class_name"] == "ExponentialDecay"
    assert [v.name for v in optimizer.variables] == ["iteration"]
    again = optimizers.SGD.from_config(config)
    assert float(again.learning_rate) == pytest.approx(0.1)


def test_learning_rate_is_settable_and_validated():
    optimizer = optimizers.Adam()
    optimizer.learning_rate = 0.5
    assert float(optimizer.learning_rate) == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate="fast")
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)


def test_unknown_variable_and_missing_gradients():
    optimizer = optimizers.SGD()
    variables = _variables()
    optimizer.build(variables[:1])
    with pytest.raises(ValueError, match="dense/bias"):
        optimizer.apply(_grads(1)[0], variables)
    with pytest.raises(ValueError, match="No gradients"):
        optimizer.apply([None], variables[:1])


def test_gradient_accumulation_and_ema():
    accumulate = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    variables = _variables()
    start = variables[1].data.copy()
    accumulate.apply([np.zeros((3, 2), F), np.full(2, 1.0, F)], variables)
    np.testing.assert_array_equal(variables[1].data, start)
    accumulate.apply([np.zeros((3, 2), F), np.full(2, 3.0, F)], variables)
    np.testing.assert_allclose(variables[1].data, start - 2.0)

    ema = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    variables = _variables()
    start = variables[1].data.copy()
    for _ in range(2):
        ema.apply([np.zeros((3, 2), F), np.ones(2, F)], variables)
    # Averages: step 1 copies (start - 1); step 2: 0.5 * (start - 1) + 0.5 * (start - 2).
    ema.finalize_variable_values(variables)
    np.testing.assert_allclose(variables[1].data, start - 1.5, rtol=1e-6)


def test_other_schedules_follow_keras_formulas():
    schedules = optimizers.schedules
    inverse = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5)
    np.testing.assert_allclose([inverse(s) for s in (0, 10, 20)], [0.1, 0.1 / 1.5, 0.05])
    piecewise = schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])
    assert [piecewise(s) for s in (0, 5, 6, 10, 11)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([5], [1.0])
    cosine = schedules.CosineDecay(1.0, decay_steps=10, alpha=0.1)
    np.testing.assert_allclose([cosine(s) for s in (0, 5, 10, 20)], [1.0, 0.55, 0.1, 0.1])
    warm = schedules.CosineDecay(0.0, decay_steps=4, warmup_target=1.0, warmup_steps=2)
    np.testing.assert_allclose(
        [warm(s) for s in (0, 1, 2, 4, 6)], [0.0, 0.5, 1.0, 0.5, 0.0], atol=1e-12
    )
    for schedule in (inverse, piecewise, cosine, warm):
        again = schedules.deserialize(schedules.serialize(schedule))
        assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
