"""Naive numpy references (explicit loops over output pixels) and shared layer-test checks."""

import json

import numpy as np

from compiler import keras

__all__ = [
    "same_pads",
    "conv2d_ref",
    "depthwise_ref",
    "pool2d_ref",
    "check_config_round_trip",
    "symbolic_shape",
]


def same_pads(size, kernel, stride, dilation=1):
    """TensorFlow's SAME padding of one axis: the odd pixel goes at the end."""
    extent = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


def conv2d_ref(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """Cross-correlation, NHWC, one output pixel at a time."""
    n, h, w, c = x.shape
    kh, kw, cin_g, filters = kernel.shape
    pads = [(0, 0), (0, 0)]
    if padding == "same":
        pads = [
            same_pads(h, kh, strides[0], dilation[0]),
            same_pads(w, kw, strides[1], dilation[1]),
        ]
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    oh = (xp.shape[1] - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    fg = filters // groups
    out = np.zeros((n, oh, ow, filters))
    for a in range(oh):
        for b in range(ow):
            rows = a * strides[0] + dilation[0] * np.arange(kh)
            cols = b * strides[1] + dilation[1] * np.arange(kw)
            patch = xp[:, rows][:, :, cols]  # (n, kh, kw, c)
            for f in range(filters):
                g = f // fg
                part = patch[..., g * cin_g : (g + 1) * cin_g]
                out[:, a, b, f] = np.einsum("nijc,ijc->n", part, kernel[..., f])
    return out if bias is None else out + bias


def depthwise_ref(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Depthwise convolution: output channel c * mult + m uses input channel c only."""
    kh, kw, c, mult = kernel.shape
    out = np.concatenate(
        [
            conv2d_ref(
                x[..., ci : ci + 1], kernel[:, :, ci : ci + 1, :], None, strides, padding, dilation
            )
            for ci in range(c)
        ],
        axis=-1,
    )
    return out if bias is None else out + bias


def pool2d_ref(x, pool, strides, padding, mode):
    """Max / average pooling; padded positions are ignored (not counted in the mean)."""
    n, h, w, c = x.shape
    pads = [(0, 0), (0, 0)]
    if padding == "same":
        pads = [same_pads(h, pool[0], strides[0]), same_pads(w, pool[1], strides[1])]
    oh = (h + sum(pads[0]) - pool[0]) // strides[0] + 1
    ow = (w + sum(pads[1]) - pool[1]) // strides[1] + 1
    out = np.zeros((n, oh, ow, c))
    for a in range(oh):
        for b in range(ow):
            top, left = a * strides[0] - pads[0][0], b * strides[1] - pads[1][0]
            window = x[:, max(top, 0) : top + pool[0], max(left, 0) : left + pool[1], :]
            out[:, a, b] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return out


def check_config_round_trip(layer):
    """``from_config(get_config())`` rebuilds an equal config, and the config is JSON-able."""
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


def symbolic_shape(layer, *shapes):
    """Output shape of ``layer`` called on ``keras.Input``s of the given sample shapes."""
    inputs = [keras.Input(shape=s) for s in shapes]
    out = layer(inputs[0] if len(inputs) == 1 else inputs)
    return out.shape
