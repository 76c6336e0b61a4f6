"""Bounded, deterministic fuzz over random Sequential CNNs and MLPs: lowering, passes and both
writers reproduce the frontend's predictions in LiteRT and onnxruntime."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compiler.export.helpers import check_model_exports
from tests.compiler.lower.models import layer, randomize

_ACTS = ["linear", "relu", "relu6", "tanh", "sigmoid"]


@st.composite
def image_blocks(draw):
    kind = draw(
        st.sampled_from(
            ["conv", "depthwise", "maxpool", "avgpool", "batchnorm", "relu", "pad", "separable"]
        )
    )
    if kind == "conv":
        return layer("Conv2D")(
            draw(st.integers(1, 4)),
            draw(st.integers(1, 3)),
            strides=draw(st.integers(1, 2)),
            padding="same",
            activation=draw(st.sampled_from(_ACTS)),
            use_bias=draw(st.booleans()),
        )
    if kind == "depthwise":
        return layer("DepthwiseConv2D")(
            draw(st.integers(1, 3)),
            padding="same",
            depth_multiplier=draw(st.integers(1, 2)),
            activation=draw(st.sampled_from(_ACTS)),
        )
    if kind == "separable":
        return layer("SeparableConv2D")(
            draw(st.integers(1, 4)), 3, padding="same", activation=draw(st.sampled_from(_ACTS))
        )
    if kind == "maxpool":
        return layer("MaxPooling2D")(2, padding="same")
    if kind == "avgpool":
        return layer("AveragePooling2D")(2, strides=1, padding="same")
    if kind == "batchnorm":
        return layer("BatchNormalization")()
    if kind == "relu":
        return layer("ReLU")()
    return layer("ZeroPadding2D")(1)


@st.composite
def dense_blocks(draw):
    kind = draw(st.sampled_from(["dense", "batchnorm", "dropout", "activation"]))
    if kind == "dense":
        return layer("Dense")(draw(st.integers(1, 6)), activation=draw(st.sampled_from(_ACTS)))
    if kind == "batchnorm":
        return layer("BatchNormalization")()
    if kind == "dropout":
        return layer("Dropout")(0.3)
    return layer("Activation")(draw(st.sampled_from(_ACTS)))


@st.composite
def models(draw):
    from compiler import keras

    image = draw(st.lists(image_blocks(), min_size=0, max_size=4))
    head = {"flatten": "Flatten", "gap": "GlobalAveragePooling2D", "gmp": "GlobalMaxPooling2D"}
    if image:
        image.append(layer(head[draw(st.sampled_from(sorted(head)))])())
    stack = image + draw(st.lists(dense_blocks(), min_size=0, max_size=3))
    stack.append(layer("Dense")(3, activation="softmax"))
    shape = (7, 6, draw(st.integers(1, 3))) if image else (5,)
    seed = draw(st.integers(0, 1000))
    return randomize(keras.Sequential([keras.Input(shape), *stack]), seed)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(models())
def test_random_model_exports_match_predict(model):
    check_model_exports(model, batches=(3,))
