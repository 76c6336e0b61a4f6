"""EinsumDense, MultiHeadAttention and Attention lowered, exported and quantized: the IR computes
what the frontend computes, LiteRT and onnxruntime run the float files like it, our runtime is
bit-exact with LiteRT's reference kernels on the int8 ``.tflite``, and our ``InferenceSession``
agrees with onnxruntime on the int8 ``.onnx``. What the compiler cannot express is a typed
error naming the layer."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from compiler import keras
from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.ir import evaluate
from compiler.lower import UnsupportedLayerError, lower_model
from compiler.passes import optimize
from compiler.quantize import calibration_batches, quantize_graph
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.compiler.export.helpers import assert_close, check_model_exports, keras_outputs

litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

layers = keras.layers
RANDOM = {"bias_initializer": "random_normal"}


def _model(shape, body, name="model"):
    x = keras.Input(shape, name="x")
    return keras.Model(x, body(x), name=name)


def _einsum(equation, out_shape, bias_axes, shape):
    def body(x):
        return layers.EinsumDense(equation, out_shape, bias_axes=bias_axes, **RANDOM)(x)

    return lambda: _model(shape, body)


def _mha(shape, call=None, value_shape=None, key_shape=None, cls="MultiHeadAttention", **config):
    def build():
        inputs = [keras.Input(shape, name="x")]
        if value_shape:
            inputs.append(keras.Input(value_shape, name="v"))
        if key_shape:
            inputs.append(keras.Input(key_shape, name="k"))
        layer = getattr(layers, cls)(**config, **RANDOM)
        kwargs = dict(call or {})
        value = inputs[1] if value_shape else inputs[0]
        if key_shape:
            kwargs["key"] = inputs[2]
        out = layer(inputs[0], value, **kwargs)
        return keras.Model(inputs, out)

    return build


def _attention(shape, key=False, cls="Attention", **call):
    def build():
        x = keras.Input(shape, name="x")
        q = layers.Dense(shape[-1], **RANDOM)(x)
        parts = [q, x, layers.Dense(shape[-1])(x)] if key else [q, x]
        config = call.pop("config", {})
        out = getattr(layers, cls)(**config)(parts, **call)
        model = keras.Model(x, out)
        for layer in model.layers:
            if type(layer).__name__ == "Attention" and layer.weights:
                layer.set_weights([np.float32(0.8 + 0.5 * i) for i in range(len(layer.weights))])
        return model

    return build


MODELS = {
    "einsum_dense_2d": _einsum("ab,bc->ac", (4,), "c", (6,)),
    "einsum_dense_heads": _einsum("abc,cde->abde", (None, 2, 3), "de", (5, 6)),
    "einsum_dense_merge_heads": _einsum("abcd,cde->abe", (None, 4), "e", (5, 2, 3)),
    "einsum_dense_position_bias": _einsum("abc,cd->abd", (5, 4), "bd", (5, 6)),
    "einsum_dense_ellipsis": _einsum("...b,bc->...c", (4,), "c", (3, 6)),
    "einsum_dense_output_transposed": _einsum("abc,ce->aeb", (4, 5), "e", (5, 6)),
    "einsum_dense_no_bias_sum_two_axes": _einsum("abcd,cde->abe", (None, 3), None, (5, 2, 4)),
    "mha_self": _mha((6, 8), num_heads=2, key_dim=4),
    "mha_shapes": _mha(
        (6, 8), num_heads=3, key_dim=2, value_dim=5, output_shape=(2, 3), use_bias=False
    ),
    "mha_cross_key": _mha((5, 8), None, (7, 6), (7, 3), num_heads=2, key_dim=3),
    "mha_causal_window": _mha(
        (7, 8), {"use_causal_mask": True}, num_heads=2, key_dim=4, sliding_window=3
    ),
    "mha_scores": _mha((6, 8), {"return_attention_scores": True}, num_heads=2, key_dim=4),
    "gqa_self_causal": _mha(
        (6, 8),
        {"use_causal_mask": True},
        cls="GroupQueryAttention",
        head_dim=4,
        num_query_heads=4,
        num_key_value_heads=2,
    ),
    "gqa_cross_no_bias": _mha(
        (5, 8),
        None,
        (7, 8),
        (7, 3),
        cls="GroupQueryAttention",
        head_dim=3,
        num_query_heads=6,
        num_key_value_heads=2,
        use_bias=False,
    ),
    "mha_image": _mha((3, 4, 8), num_heads=2, key_dim=4, attention_axes=(1, 2)),
    "mha_image_cross": _mha((3, 4, 8), None, (2, 5, 6), num_heads=2, key_dim=3, output_shape=5),
    "attention_dot": _attention((6, 8)),
    "attention_scaled_causal": _attention((6, 8), use_causal_mask=True, config={"use_scale": True}),
    "attention_key_scores": _attention((5, 4), key=True, return_attention_scores=True),
    "attention_concat": _attention((5, 4), config={"score_mode": "concat", "use_scale": True}),
    "additive_attention": _attention((5, 4), cls="AdditiveAttention", use_causal_mask=True),
    "additive_attention_unscaled": _attention(
        (5, 4), key=True, cls="AdditiveAttention", config={"use_scale": False}
    ),
}


def _seeded(name):
    keras.utils.set_random_seed(sum(map(ord, name)))
    return MODELS[name]()


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("passes", [False, True], ids=["lowered", "optimized"])
def test_ir_computes_the_model(name, passes):
    model = _seeded(name)
    graph = lower_model(model)
    if passes:
        graph = optimize(graph).graph
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal((3, *v.shape[1:])).astype(np.float32) for v in graph.inputs]
    for got, want in zip(evaluate(graph, feeds), keras_outputs(model, feeds), strict=True):
        assert_close(got, want)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_float_files_run_like_the_frontend(name):
    check_model_exports(_seeded(name), batches=(1, 3))


def _int8(name):
    model = _seeded(name)
    graph = optimize(lower_model(model)).graph
    rng = np.random.default_rng(2)
    calibration = [rng.standard_normal((16, *v.shape[1:])).astype(np.float32) for v in graph.inputs]
    data = (
        calibration[0]
        if len(calibration) == 1
        else {v.name: c for v, c in zip(graph.inputs, calibration)}
    )
    q = quantize_graph(graph, "int8", calibration_batches(graph, data))
    feeds = {
        v.name: rng.standard_normal((4, *v.shape[1:])).astype(np.float32) for v in graph.inputs
    }
    return model, q, feeds


def _run_signature(interp, feeds):
    runner = interp.get_signature_runner("serving_default")
    return runner(**feeds)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_int8_tflite_bit_exact_with_litert_reference(name):
    model, q, feeds = _int8(name)
    data = write_tflite(q)
    ref = litert.Interpreter(
        model_content=data, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF
    )
    want = _run_signature(ref, feeds)
    got = _run_signature(runtime.Interpreter(model_content=data), feeds)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=f"{name} {key}")
    # Close to the float model: the int8 file computes the same thing.
    float_out = keras_outputs(model, list(feeds.values()))
    ref_out = [want[v.name] for v in q.outputs]
    for a, b in zip(ref_out, float_out, strict=True):
        a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
        assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.98


@pytest.mark.parametrize("name", sorted(MODELS))
def test_int8_onnx_runs_in_onnxruntime_and_ours(name):
    _, q, feeds = _int8(name)
    data = write_onnx(q)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    plain = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    ort.InferenceSession(data, providers=["CPUExecutionProvider"])  # opens fully optimized
    names = [o.name for o in plain.get_outputs()]
    want = plain.run(names, feeds)
    got = runtime.InferenceSession(data).run(names, feeds)
    for a, b, n in zip(got, want, names, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg=n)


def test_mha_lowers_to_the_builtins_tflite_uses():
    graph = optimize(lower_model(_seeded("mha_causal_window"))).graph
    types = [op.type for op in graph.ops]
    assert types.count("BATCH_MATMUL") == 2
    assert types.count("SOFTMAX") == 1
    assert types.count("FULLY_CONNECTED") == 4
    assert "MUL" not in types  # 1/sqrt(key_dim) is folded into the query weights


def _masked_embedding():
    tokens = keras.Input((6,), dtype="int32")
    x = layers.Embedding(10, 8, mask_zero=True)(tokens)
    return keras.Model(tokens, layers.MultiHeadAttention(2, 4)(x, x))


def _mask_through_dense():
    tokens = keras.Input((6,), dtype="int32")
    x = layers.Embedding(10, 8, mask_zero=True)(tokens)
    x = layers.Dropout(0.1)(layers.Dense(8)(x))  # both pass the mask on, as in Keras
    return keras.Model(tokens, layers.Attention()([x, x]))


def _attention_mask_input():
    x = keras.Input((4, 8))
    mask = keras.Input((4, 4))
    return keras.Model([x, mask], layers.MultiHeadAttention(2, 4)(x, x, attention_mask=mask))


def _rank4_one_axis():
    x = keras.Input((3, 4, 8))
    return keras.Model(x, layers.MultiHeadAttention(2, 4, attention_axes=2)(x, x))


def _unknown_length():
    x = keras.Input((None, 8))
    return keras.Model(x, layers.MultiHeadAttention(2, 4)(x, x))


def _batch_label():
    x = keras.Input((5, 6))
    return keras.Model(x, layers.EinsumDense("abc,cb->ab", output_shape=(5,))(x))


@pytest.mark.parametrize(
    "build, message",
    [
        (_masked_embedding, "Keras mask"),
        (_mask_through_dense, "Keras mask"),
        (_attention_mask_input, "attention_mask"),
        (_rank4_one_axis, "only attention over all axes"),
        (_unknown_length, "sequence lengths must be known"),
        (_batch_label, "not a batch-first contraction"),
    ],
)
def test_unsupported_is_a_typed_error_naming_the_layer(build, message):
    with pytest.raises(UnsupportedLayerError, match=message) as info:
        lower_model(build())
    assert "layer '" in str(info.value)
