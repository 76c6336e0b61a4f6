"""Small frontend models, one per lowering case, shared by the lowering and export tests.

Each builder returns a built model with non-trivial weights (BatchNormalization statistics set
away from 0 / 1, biases non-zero) so that a wrong weight layout cannot pass by accident.
"""

from __future__ import annotations

import numpy as np


def layer(name: str):
    from compiler.keras import layers

    return getattr(layers, name)


def randomize(model, seed: int = 0):
    """Sets every weight to a random value; variances positive."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        value = rng.normal(0.0, 0.5, size=shape)
        if "variance" in (getattr(w, "path", "") or w.name):
            value = rng.uniform(0.5, 2.0, size=shape)
        w.assign(value.astype(np.float32))
    return model


def sequential(input_shape, *stack, name="model"):
    from compiler import keras

    return randomize(keras.Sequential([keras.Input(input_shape), *stack], name=name))


def _img(c=3):
    return (9, 9, c)


def conv_relu():
    return sequential(_img(), layer("Conv2D")(4, 3, activation="relu"), name="conv_relu")


def conv_same_strided_dilated():
    conv = layer("Conv2D")
    return sequential(
        (10, 11, 3),
        conv(4, 3, strides=2, padding="same", activation="relu6"),
        conv(5, (2, 3), dilation_rate=2, padding="same", use_bias=False),
        name="conv_same",
    )


def depthwise():
    dw = layer("DepthwiseConv2D")
    return sequential(
        _img(),
        dw(3, depth_multiplier=2, padding="same", activation="relu"),
        dw(2, strides=2, use_bias=False),
        name="depthwise",
    )


def separable():
    return sequential(
        _img(),
        layer("SeparableConv2D")(5, 3, depth_multiplier=2, activation="relu"),
        name="separable",
    )


def pools():
    return sequential(
        (10, 10, 3),
        layer("MaxPooling2D")(2),
        layer("AveragePooling2D")(3, strides=1, padding="same"),
        layer("MaxPooling2D")((2, 3), strides=(1, 2), padding="same"),
        name="pools",
    )


def global_pools():
    from compiler import keras

    x = keras.Input(_img(), name="img")
    a = layer("GlobalAveragePooling2D")()(x)
    b = layer("GlobalMaxPooling2D")()(x)
    c = layer("GlobalAveragePooling2D")(keepdims=True)(x)
    return randomize(keras.Model(x, [a, b, c], name="global_pools"))


def flatten_dense():
    return sequential(
        _img(),
        layer("Conv2D")(4, 3),
        layer("Flatten")(),
        layer("Dropout")(0.5),
        layer("Dense")(6, activation="softmax"),
        name="flatten_dense",
    )


def reshape():
    return sequential(
        (6, 4), layer("Reshape")((3, 8)), layer("Flatten")(), layer("Dense")(3), name="reshape"
    )


def dense_3d():
    return sequential((5, 4), layer("Dense")(3, activation="tanh"), name="dense_3d")


def batchnorm_folding():
    conv, bn = layer("Conv2D"), layer("BatchNormalization")
    return sequential(
        _img(),
        conv(4, 3),
        bn(),
        layer("ReLU")(),
        layer("DepthwiseConv2D")(3, padding="same"),
        bn(epsilon=0.01),
        layer("Flatten")(),
        layer("Dense")(5),
        bn(),
        name="batchnorm_fold",
    )


def batchnorm_standalone():
    bn = layer("BatchNormalization")
    return sequential(
        _img(), bn(), layer("Conv2D")(3, 3, activation="relu"), bn(center=False), name="bn_alone"
    )


def activations():
    act = layer("Activation")
    return sequential(
        (7,),
        layer("Dense")(6),
        act("sigmoid"),
        layer("Dense")(6),
        act("tanh"),
        layer("Dense")(6),
        layer("ReLU")(max_value=6.0),
        layer("Dense")(6),
        layer("LeakyReLU")(negative_slope=0.1),
        layer("Dense")(6),
        act("silu"),
        layer("Dense")(6),
        layer("Softmax")(),
        name="activations",
    )


def zero_padding():
    return sequential(
        _img(), layer("ZeroPadding2D")(((1, 2), (2, 1))), layer("Conv2D")(2, 3), name="pad"
    )


def merges():
    from compiler import keras

    x = keras.Input(_img(), name="x")
    conv = layer("Conv2D")
    a = conv(4, 3, padding="same")(x)
    b = conv(4, 1)(x)
    added = layer("Add")()([a, b])
    mul = layer("Multiply")()([added, a])
    sub = layer("Subtract")()([mul, b])
    avg = layer("Average")()([sub, a, b])
    cat = layer("Concatenate")()([avg, added])
    y = layer("GlobalAveragePooling2D")()(cat)
    return randomize(keras.Model(x, y, name="merges"))


def multi_io_shared_nested():
    from compiler import keras

    a = keras.Input((12,), name="a")
    b = keras.Input((12,), name="b")
    shared = layer("Dense")(16, activation="tanh", name="shared")
    inner = keras.Sequential(
        [keras.Input((32,)), layer("Dense")(8, activation="relu")], name="inner"
    )
    h = layer("Concatenate")()([shared(a), shared(b)])
    cls = layer("Dense")(3, activation="softmax", name="cls")(inner(h))
    reg = layer("Dense")(1, name="reg")(shared(b))
    return randomize(keras.Model([a, b], [cls, reg], name="multi_io"))


def slide_cnn():
    """The seed slide's CNN (Fashion-MNIST shapes)."""
    conv, pool = layer("Conv2D"), layer("MaxPooling2D")
    return sequential(
        (28, 28, 1),
        conv(32, (3, 3), activation="relu"),
        pool((2, 2)),
        conv(64, (3, 3), activation="relu"),
        pool((2, 2)),
        layer("Flatten")(),
        layer("Dropout")(0.5),
        layer("Dense")(10, activation="softmax"),
        name="slide_cnn",
    )


def more_layers():
    from compiler import keras

    x = keras.Input((6, 5, 3), name="pixels")
    y = layer("Rescaling")(0.5, offset=-0.25)(x)
    y = layer("Conv2D")(4, 3, padding="same")(y)
    y = layer("Permute")((2, 1, 3))(y)
    y = layer("Identity")()(y)
    a = layer("ELU")()(y)
    b = layer("Activation")("gelu")(y)
    hi = layer("Maximum")()([a, b])
    lo = layer("Minimum")()([a, b, y])
    y = layer("Concatenate")()([hi, lo])
    y = layer("Activation")("elu")(y)
    y = layer("Rescaling")([1.0, 2.0, 0.5, 1.5, 1.0, 1.0, 2.0, 3.0])(y)
    return randomize(keras.Model(x, y, name="more_layers"))


def crop_and_upsample():
    return sequential(
        (7, 6, 2),
        layer("Cropping2D")(((1, 2), (0, 1))),
        layer("Conv2D")(3, 2, activation="relu"),
        layer("UpSampling2D")((2, 3)),
        layer("MaxPooling2D")(2),
        name="crop_up",
    )


def one_d():
    return sequential(
        (12, 3),
        layer("ZeroPadding1D")((1, 2)),
        layer("Conv1D")(4, 3, activation="relu"),
        layer("Conv1D")(5, 3, padding="causal", dilation_rate=2),
        layer("DepthwiseConv1D")(3, padding="same", depth_multiplier=2, activation="tanh"),
        layer("SeparableConv1D")(4, 3, strides=2, padding="same"),
        layer("MaxPooling1D")(2, padding="same"),
        layer("UpSampling1D")(3),
        layer("Cropping1D")((1, 2)),
        layer("AveragePooling1D")(2, strides=1),
        layer("Conv1D")(3, 1, strides=2),
        name="one_d",
    )


def repeat_vector():
    return sequential(
        (4,), layer("Dense")(3), layer("RepeatVector")(3), layer("Conv1D")(2, 2), name="repeat"
    )


def global_1d():
    from compiler import keras

    x = keras.Input((9, 4), name="seq")
    a = layer("GlobalAveragePooling1D")()(x)
    b = layer("GlobalMaxPooling1D")()(x)
    return randomize(keras.Model(x, layer("Concatenate")()([a, b]), name="global_1d"))


BUILDERS = {
    f.__name__: f
    for f in (
        conv_relu,
        conv_same_strided_dilated,
        depthwise,
        separable,
        pools,
        global_pools,
        flatten_dense,
        reshape,
        dense_3d,
        batchnorm_folding,
        batchnorm_standalone,
        activations,
        zero_padding,
        merges,
        multi_io_shared_nested,
        slide_cnn,
        more_layers,
        crop_and_upsample,
        one_d,
        global_1d,
        repeat_vector,
    )
}
