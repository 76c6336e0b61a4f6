"""MultiHeadAttention, Attention and EinsumDense against real Keras 3 (same weights, same
outputs), finite-difference gradients, configs and ``.keras`` files both ways."""

import json

import numpy as np
import pytest

from compiler import keras as ours
from compiler.keras import ops
from tests._oracles import KERAS, require
from tests.compiler.keras.helpers import check_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip

real = require("keras", KERAS)

RTOL = 1e-5


def _rng(seed=0):
    return np.random.default_rng(seed)


def _close(got, want, tol=RTOL):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    assert float(np.abs(got - want).max()) <= tol * scale, float(np.abs(got - want).max())


def _twin(real_layer, *args, **kwargs):
    """Our layer made from the real layer's config, built by the same call, same weights."""
    ours_layer = getattr(ours.layers, type(real_layer).__name__).from_config(
        real_layer.get_config()
    )
    ours_layer(*args, **kwargs)
    ours_layer.set_weights([np.asarray(w) for w in real_layer.get_weights()])
    return ours_layer


# --------------------------------------------------------------------------- ops.einsum
@pytest.mark.parametrize(
    "equation, shapes",
    [
        ("ij,jk->ik", [(2, 3), (3, 4)]),
        ("abc,cde->abde", [(2, 3, 4), (4, 2, 3)]),
        ("aecd,abcd->acbe", [(2, 5, 3, 4), (2, 6, 3, 4)]),
        ("...b,bc->...c", [(2, 3, 4), (4, 5)]),
        ("abc,cd->ad", [(2, 3, 4), (4, 5)]),  # "b" summed from the first operand alone
        ("ij->ji", [(3, 4)]),
        ("ijk->j", [(2, 3, 4)]),
    ],
)
def test_einsum_op_values_and_gradients(equation, shapes):
    rng = _rng(20)
    arrays = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(
        ops.einsum(equation, *arrays).data, np.einsum(equation, *arrays), rtol=1e-12
    )
    tensors = [ops.Tensor(a.copy(), requires_grad=True) for a in arrays]
    r = rng.standard_normal(np.einsum(equation, *arrays).shape)
    check_gradients(lambda: ops.sum(ops.einsum(equation, *tensors) * r), tensors)


def test_einsum_op_errors():
    with pytest.raises(ValueError, match="one or two operands"):
        ops.einsum("i,i,i->i", np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="repeated label"):
        ops.einsum("ii,i->i", np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="does not match"):
        ops.einsum("ij,jk->ik", np.ones(2), np.ones((2, 2)))


# --------------------------------------------------------------------------- EinsumDense
EINSUM_CASES = [
    ("ab,bc->ac", (6,), (4,), "c"),
    ("abc,cd->abd", (5, 6), (None, 4), "d"),
    ("abc,cde->abde", (5, 6), (None, 2, 3), "de"),
    ("abcd,cde->abe", (5, 2, 3), (None, 4), "e"),
    ("abc,cd->abd", (5, 6), (None, 4), None),
    ("abc,cd->abd", (5, 6), (5, 4), "bd"),
    ("...b,bc->...c", (3, 6), (4,), "c"),
    ("abc,cb->ab", (5, 6), (5,), "b"),
    ("abc,ce->aeb", (5, 6), (4, 5), "e"),
]


@pytest.mark.parametrize("equation, shape, out_shape, bias_axes", EINSUM_CASES)
def test_einsum_dense_matches_keras(equation, shape, out_shape, bias_axes):
    x = _rng().standard_normal((3, *shape)).astype(np.float32)
    layer = real.layers.EinsumDense(
        equation,
        output_shape=out_shape,
        bias_axes=bias_axes,
        activation="relu",
        bias_initializer="random_normal",
    )
    want = np.asarray(layer(x))
    twin = _twin(layer, x)
    assert [w.shape for w in twin.weights] == [tuple(w.shape) for w in layer.weights]
    assert [w.path for w in twin.weights] == [w.path for w in layer.weights]
    _close(twin(x), want)
    check_config_round_trip(twin)
    # Keras's shape, with the sizes it leaves unknown filled in from the input.
    known = twin.compute_output_shape((None, *shape))
    keras_shape = tuple(layer.compute_output_shape((None, *shape)))
    assert all(k is None or k == o for k, o in zip(keras_shape, known, strict=True))
    assert known[1:] == want.shape[1:]


def test_einsum_dense_gradients():
    layer = ours.layers.EinsumDense(
        "abc,cde->abde",
        output_shape=(None, 2, 3),
        bias_axes="de",
        dtype="float64",
        activation="tanh",
    )
    x = ops.Tensor(_rng(1).standard_normal((2, 4, 5)), requires_grad=True)
    layer(x)
    r = _rng(2).standard_normal((2, 4, 2, 3))
    check_gradients(lambda: ops.sum(layer(x) * r), [x, *layer.trainable_weights])


def test_einsum_dense_gradient_of_a_label_summed_from_one_operand():
    # "b" is summed from the input alone: its gradient is broadcast back along "b".
    layer = ours.layers.EinsumDense("abc,cd->ad", output_shape=(3,), dtype="float64")
    x = ops.Tensor(_rng(3).standard_normal((2, 4, 5)), requires_grad=True)
    layer(x)
    r = _rng(4).standard_normal((2, 3))
    check_gradients(lambda: ops.sum(layer(x) * r), [x, *layer.trainable_weights])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"equation": "ab->b", "output_shape": 3}, "Invalid einsum equation"),
        ({"equation": "ab,bc->ad", "output_shape": 3}, "Dimension 'd'"),
        ({"equation": "ab,bc->ac", "output_shape": 3, "bias_axes": "x"}, "Bias dimension"),
    ],
)
def test_einsum_dense_errors(kwargs, message):
    layer = ours.layers.EinsumDense(**kwargs)
    with pytest.raises(ValueError, match=message):
        layer(np.zeros((2, 4), np.float32))


# --------------------------------------------------------------------------- MultiHeadAttention
MHA_CASES = [
    ({"num_heads": 2, "key_dim": 4}, {}),
    ({"num_heads": 3, "key_dim": 2, "value_dim": 5, "output_shape": 7}, {"scores": True}),
    ({"num_heads": 2, "key_dim": 3, "use_bias": False}, {"causal": True}),
    ({"num_heads": 1, "key_dim": 4, "output_shape": (2, 3)}, {"key": True}),
    ({"num_heads": 2, "key_dim": 4}, {"mask": True}),
    ({"num_heads": 2, "key_dim": 4, "sliding_window": 2}, {"causal": True}),
    ({"num_heads": 2, "key_dim": 3, "attention_axes": (1, 2)}, {"rank4": True}),
    ({"num_heads": 2, "key_dim": 4, "dropout": 0.3}, {"scores": True}),
]


def _mha_call(case):
    rng = _rng(5)
    shape = (3, 4, 5, 6) if case.get("rank4") else (3, 5, 6)
    query = rng.standard_normal(shape).astype(np.float32)
    value = rng.standard_normal(shape[:-1] + (8,)).astype(np.float32)
    if not case.get("rank4"):
        value = rng.standard_normal((3, 7, 8)).astype(np.float32)
    if case.get("causal"):
        value = rng.standard_normal((3, 5, 8)).astype(np.float32)
    kwargs = {}
    if case.get("key"):
        kwargs["key"] = rng.standard_normal(value.shape[:-1] + (3,)).astype(np.float32)
    if case.get("mask"):
        mask = rng.random((3, 5, 7)) > 0.4
        mask[:, :, 0] = True  # no fully masked row: Keras's two paths differ there
        kwargs["attention_mask"] = mask
    if case.get("causal"):
        kwargs["use_causal_mask"] = True
    if case.get("scores"):
        kwargs["return_attention_scores"] = True
    return query, value, kwargs


@pytest.mark.parametrize("config, case", MHA_CASES)
def test_multi_head_attention_matches_keras(config, case):
    query, value, kwargs = _mha_call(case)
    layer = real.layers.MultiHeadAttention(
        **config, bias_initializer="random_normal", kernel_initializer="random_normal"
    )
    want = layer(query, value, **kwargs)
    twin = _twin(layer, query, value, **kwargs)
    got = twin(query, value, **kwargs)
    if case.get("scores"):
        _close(got[0], want[0])
        _close(got[1], want[1])
    else:
        _close(got, want)
    assert [w.path for w in twin.weights] == [w.path for w in layer.weights]
    assert json.loads(json.dumps(twin.get_config())) == json.loads(json.dumps(layer.get_config()))
    check_config_round_trip(twin)


GQA_CASES = [
    ({"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, {}),
    ({"head_dim": 3, "num_query_heads": 6, "num_key_value_heads": 3}, {"scores": True}),
    (
        {"head_dim": 4, "num_query_heads": 2, "num_key_value_heads": 1, "use_bias": False},
        {"causal": True},
    ),
    (
        {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 4, "sliding_window": 2},
        {"mask": True},
    ),
]


@pytest.mark.parametrize("config, case", GQA_CASES)
def test_group_query_attention_matches_keras(config, case):
    query, value, kwargs = _mha_call(case)
    value = np.ascontiguousarray(value[..., : query.shape[-1]])  # GQA: same feature size
    layer = real.layers.GroupQueryAttention(
        **config, bias_initializer="random_normal", kernel_initializer="random_normal"
    )
    want = layer(query, value, **kwargs)
    twin = _twin(layer, query, value, **kwargs)
    assert type(twin) is ours.layers.GroupedQueryAttention
    got = twin(query, value, **kwargs)
    for a, b in zip(got if case.get("scores") else [got], want if case.get("scores") else [want]):
        _close(a, b)
    assert [w.path for w in twin.weights] == [w.path for w in layer.weights]
    assert json.loads(json.dumps(twin.get_config())) == json.loads(json.dumps(layer.get_config()))
    check_config_round_trip(twin)


def test_group_query_attention_gradients():
    layer = ours.layers.GroupQueryAttention(
        3, 4, 2, dtype="float64", bias_initializer="random_normal"
    )
    rng = _rng(21)
    q = ops.Tensor(rng.standard_normal((2, 4, 5)), requires_grad=True)
    v = ops.Tensor(rng.standard_normal((2, 3, 5)), requires_grad=True)
    layer(q, v)
    r = rng.standard_normal((2, 4, 5))
    check_gradients(lambda: ops.sum(layer(q, v) * r), [q, v, *layer.trainable_weights])


def test_group_query_attention_file_both_ways(tmp_path):
    x = real.Input((5, 8))
    y = real.layers.GroupQueryAttention(4, 4, 2, name="gqa")(x, x, use_causal_mask=True)
    model = real.Model(x, y)
    data = _rng(22).standard_normal((2, 5, 8)).astype(np.float32)
    model.save(tmp_path / "real.keras")
    loaded = ours.models.load_model(tmp_path / "real.keras")
    _close(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    loaded.save(tmp_path / "ours.keras")
    again = real.models.load_model(tmp_path / "ours.keras")
    _close(again.predict(data, verbose=0), model.predict(data, verbose=0))


def test_group_query_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        ours.layers.GroupQueryAttention(4, 3, 2)
    with pytest.raises(ValueError, match="head_dim"):
        ours.layers.GroupQueryAttention(0, 2, 2)


def test_multi_head_attention_fully_masked_rows_as_keras():
    # Keras runs dot_product_attention (uniform weights on a fully masked row) unless it must
    # return the scores (then the Softmax layer zeroes that row); both are reproduced.
    query = _rng(6).standard_normal((1, 3, 8)).astype(np.float32)
    mask = np.array([[[1, 1, 0], [0, 0, 0], [1, 0, 1]]], bool)
    layer = real.layers.MultiHeadAttention(2, 4, bias_initializer="random_normal")
    layer(query, query)
    twin = _twin(layer, query, query, attention_mask=mask)
    _close(twin(query, query, attention_mask=mask), layer(query, query, attention_mask=mask))
    got = twin(query, query, attention_mask=mask, return_attention_scores=True)
    want = layer(query, query, attention_mask=mask, return_attention_scores=True)
    _close(got[0], want[0])
    _close(got[1], want[1])


def test_multi_head_attention_dropout_only_in_training():
    layer = ours.layers.MultiHeadAttention(2, 4, dropout=0.5, seed=1)
    x = _rng(7).standard_normal((2, 5, 6)).astype(np.float32)
    a, b = layer(x, x), layer(x, x)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.allclose(layer(x, x, training=True).data, a.data)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_gradients(causal):
    layer = ours.layers.MultiHeadAttention(
        2, 3, value_dim=2, dtype="float64", bias_initializer="random_normal"
    )
    rng = _rng(8)
    q = ops.Tensor(rng.standard_normal((2, 4, 5)), requires_grad=True)
    v = ops.Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    layer(q, v, use_causal_mask=causal)
    r = rng.standard_normal((2, 4, 5))
    check_gradients(
        lambda: ops.sum(layer(q, v, use_causal_mask=causal) * r),
        [q, v, *layer.trainable_weights],
    )


def test_multi_head_attention_masks_follow_the_inputs():
    # An Embedding(mask_zero=True) mask on the query and the value reaches the attention.
    tokens = np.array([[3, 4, 0, 0], [5, 1, 2, 0]])
    embed = real.layers.Embedding(8, 6, mask_zero=True)
    layer = real.layers.MultiHeadAttention(2, 3, bias_initializer="random_normal")
    x = embed(tokens)
    want = layer(x, x)
    our_embed = ours.layers.Embedding(8, 6, mask_zero=True)
    our_embed(tokens)
    our_embed.set_weights([np.asarray(embed.embeddings)])
    twin = _twin(layer, np.asarray(x), np.asarray(x))
    y = our_embed(tokens)
    got = twin(y, y)
    keep = tokens != 0  # Keras leaves padded query rows as computed; compare the real ones
    _close(np.asarray(got.data)[keep], np.asarray(want)[keep])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_heads": 0, "key_dim": 2}, "num_heads"),
        ({"num_heads": 2, "key_dim": -1}, "key_dim"),
        ({"num_heads": 2, "key_dim": 2, "attention_axes": "x"}, "attention_axes"),
        ({"num_heads": 2, "key_dim": 2, "sliding_window": 0}, "sliding_window"),
    ],
)
def test_multi_head_attention_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ours.layers.MultiHeadAttention(**kwargs)


def test_multi_head_attention_value_and_key_must_agree():
    layer = ours.layers.MultiHeadAttention(2, 2)
    with pytest.raises(ValueError, match="value` and `key"):
        layer(np.zeros((1, 3, 4)), np.zeros((1, 5, 4)), key=np.zeros((1, 6, 4)))


# --------------------------------------------------------------------------- Attention
ATTENTION_CASES = [
    ({}, {}),
    ({"use_scale": True}, {"causal": True}),
    ({"score_mode": "concat"}, {"scores": True}),
    ({"score_mode": "concat", "use_scale": True}, {"key": True}),
    ({"use_scale": True}, {"mask": True}),
]


ATTENTION_PARAMS = [("Attention", *c) for c in ATTENTION_CASES] + [
    ("AdditiveAttention", *c) for c in ATTENTION_CASES if "score_mode" not in c[0]
]


@pytest.mark.parametrize("cls, config, case", ATTENTION_PARAMS)
def test_attention_matches_keras(cls, config, case):
    rng = _rng(9)
    q = rng.standard_normal((2, 4, 6)).astype(np.float32)
    v = rng.standard_normal((2, 4 if case.get("causal") else 5, 6)).astype(np.float32)
    inputs = [q, v]
    if case.get("key"):
        inputs.append(rng.standard_normal(v.shape).astype(np.float32))
    kwargs = {}
    if case.get("causal"):
        kwargs["use_causal_mask"] = True
    if case.get("scores"):
        kwargs["return_attention_scores"] = True
    if case.get("mask"):
        v_mask = rng.random(v.shape[:2]) > 0.3
        v_mask[:, 0] = True
        kwargs["mask"] = [rng.random(q.shape[:2]) > 0.3, v_mask]
    if cls == "AdditiveAttention":
        config = {**config, "use_scale": config.get("use_scale", False)}
    layer = getattr(real.layers, cls)(**config)
    want = layer(inputs, **kwargs)
    if layer.weights:  # ones by default: make them count
        layer.set_weights(
            [np.full(w.shape, 1.3 + i, np.float32) for i, w in enumerate(layer.weights)]
        )
        want = layer(inputs, **kwargs)
    twin = _twin(layer, inputs, **kwargs)
    got = twin(inputs, **kwargs)
    if case.get("scores"):
        _close(got[0], want[0])
        _close(got[1], want[1])
    else:
        _close(got, want)
    assert [w.path for w in twin.weights] == [w.path for w in layer.weights]
    check_config_round_trip(twin)


@pytest.mark.parametrize("score_mode", ["dot", "concat", "additive"])
def test_attention_gradients(score_mode):
    if score_mode == "additive":
        layer = ours.layers.AdditiveAttention(dtype="float64")
    else:
        layer = ours.layers.Attention(use_scale=True, score_mode=score_mode, dtype="float64")
    rng = _rng(10)
    q = ops.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    v = ops.Tensor(rng.standard_normal((2, 5, 4)), requires_grad=True)
    layer([q, v])
    if score_mode != "additive":
        layer.set_weights([np.float64(0.7)] + ([np.float64(1.2)] if score_mode == "concat" else []))
    r = rng.standard_normal((2, 3, 4))
    check_gradients(lambda: ops.sum(layer([q, v]) * r), [q, v, *layer.trainable_weights])


def test_attention_errors():
    with pytest.raises(ValueError, match="score_mode"):
        ours.layers.Attention(score_mode="add")
    with pytest.raises(ValueError, match="list of inputs"):
        ours.layers.Attention()(np.zeros((1, 2, 3), np.float32))


# --------------------------------------------------------------------------- .keras files
def _real_model():
    layers = real.layers
    x = real.Input((6, 8), name="seq")
    y = layers.MultiHeadAttention(2, 4, name="self_attention")(x, x, use_causal_mask=True)
    y = layers.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d")(y)
    y = layers.Identity()(y)
    y = layers.Attention(use_scale=True)([y, y])
    return real.Model(x, y)


def _our_model():
    layers = ours.layers
    x = ours.Input((6, 8), name="seq")
    y = layers.MultiHeadAttention(2, 4, output_shape=6, name="self_attention")(
        x, x, use_causal_mask=True, return_attention_scores=False
    )
    y = layers.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d")(y)
    y = layers.Identity()(y)
    y = layers.Attention(score_mode="concat")([y, y])
    return ours.Model(x, y)


def test_keras_writes_we_read(tmp_path):
    real.utils.set_random_seed(1)
    model = _real_model()
    x = _rng(11).standard_normal((3, 6, 8)).astype(np.float32)
    path = tmp_path / "real.keras"
    model.save(path)
    loaded = ours.models.load_model(path)
    _close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_we_write_keras_reads(tmp_path):
    ours.utils.set_random_seed(2)
    model = _our_model()
    x = _rng(12).standard_normal((3, 6, 8)).astype(np.float32)
    path = tmp_path / "ours.keras"
    model.save(path)
    loaded = real.models.load_model(path)
    _close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    ours_again = ours.models.load_model(path)
    _close(ours_again.predict(x, verbose=0), model.predict(x, verbose=0))
