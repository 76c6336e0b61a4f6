"""Each IR op as ONNX nodes (opset 13 and later; the spec pages at onnx.ai/onnx/operators are
the documentation of every node used here).

Convolutions and pools run in NCHW; other rank-4 ops run in whichever layout their inputs
already have (``Emitter.prefers_nchw``). A Flatten of an NCHW tensor keeps Keras's NHWC order
by permuting the columns of the FULLY_CONNECTED weights that read it, not by transposing.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from compiler.export.errors import ExportError
from compiler.export.onnx._emitter import NCHW, NHWC, TO_NCHW, Emitter, nchw_axis
from compiler.export.onnx._qdq import origin, qparams, weight
from compiler.ir import Op, Value
from compiler.ir._conv_transpose_kernel import transpose_conv_pad
from compiler.ir._kernels import same_padding

__all__ = ["CONVERTERS"]


# ------------------------------------------------------------------------------- helpers
def _scalar(e: Emitter, value: float, dtype="float32") -> str:
    key = ("scalar", float(value), dtype)
    if key not in e._consts:
        e._consts[key] = e.initializer(f"const_{value:g}", np.array(value, dtype=dtype))
    return e._consts[key]


def _derived(e: Emitter, value: Value, tag: str, make) -> str:
    """An initializer computed from constant ``value``, made once per (value, tag)."""
    key = (id(value), tag)
    if key not in e._consts:
        e._consts[key] = e.initializer(f"{value.name}/{tag}", make(value.data))
    return e._consts[key]


def _activation(e: Emitter, activation: str, source: str, output: str) -> None:
    if activation == "RELU":
        e.node("Relu", [source], output)
    elif activation == "RELU6":
        e.node("Clip", [source, _scalar(e, 0.0), _scalar(e, 6.0)], output)
    elif activation == "RELU_N1_TO_1":
        e.node("Clip", [source, _scalar(e, -1.0), _scalar(e, 1.0)], output)
    elif activation == "TANH":
        e.node("Tanh", [source], output)
    else:
        raise ExportError(f"fused activation {activation} has no ONNX form here")


def _finish(e: Emitter, op: Op, layout: str, onnx_type: str, inputs: list[str], **attrs):
    """Emits the op's main node, then its fused activation, under the output's name."""
    out = op.outputs[0]
    final = e.output_name(out, layout)
    activation = op.attrs.get("activation", "NONE")
    if activation == "NONE":
        e.node(onnx_type, inputs, final, **attrs)
    else:
        pre = e.node(onnx_type, inputs, base=f"{out.name}/{onnx_type.lower()}", **attrs)
        _activation(e, activation, pre, final)
    e.set(out, layout, final)


def _pads(op: Op, x: Value, kernel) -> list[int]:
    if op.attrs["padding"] == "VALID":
        return [0, 0, 0, 0]
    dilation = op.attrs.get("dilation", (1, 1))
    top, bottom = same_padding(x.shape[1], kernel[0], op.attrs["stride"][0], dilation[0])
    left, right = same_padding(x.shape[2], kernel[1], op.attrs["stride"][1], dilation[1])
    return [top, left, bottom, right]


def _bias(e: Emitter, value: Value) -> str:
    if value.quant is not None:  # int32, scale in_scale * w_scale per channel
        return weight(e, value, "bias", lambda d: d, lambda axis: 0)
    return e.get(value)


def _filter(e: Emitter, value: Value, tag: str, make) -> str:
    if value.is_const and value.quant is not None:
        # int8 filter: the output-channel axis becomes ONNX's axis 0 in both layouts.
        return weight(e, value, tag, make, lambda axis: 0)
    if value.is_const:
        return _derived(e, value, tag, make)
    # A computed filter (e.g. dequantized weights): transpose it at run time.
    perm = [0, 3, 1, 2] if tag == "oihw" else [3, 0, 1, 2]
    return e.node("Transpose", [e.get(value)], base=f"{value.name}/{tag}", perm=perm)


# ------------------------------------------------------------------------------- converters
def conv_2d(e: Emitter, op: Op) -> None:
    x, w = op.inputs[0], op.inputs[1]
    kh, kw = w.shape[1:3]
    inputs = [e.get(x, NCHW), _filter(e, w, "oihw", lambda d: d.transpose(0, 3, 1, 2))]
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        inputs.append(_bias(e, op.inputs[2]))
    _finish(
        e,
        op,
        NCHW,
        "Conv",
        inputs,
        kernel_shape=[kh, kw],
        strides=list(op.attrs["stride"]),
        dilations=list(op.attrs["dilation"]),
        pads=_pads(op, x, (kh, kw)),
        group=1,
    )


def depthwise_conv_2d(e: Emitter, op: Op) -> None:
    # [1, kh, kw, C*M] -> [C*M, 1, kh, kw]; group c holds outputs c*M .. c*M+M-1, as in TFLite.
    x, w = op.inputs[0], op.inputs[1]
    kh, kw = w.shape[1:3]
    inputs = [e.get(x, NCHW), _filter(e, w, "m1hw", lambda d: d.transpose(3, 0, 1, 2))]
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        inputs.append(_bias(e, op.inputs[2]))
    _finish(
        e,
        op,
        NCHW,
        "Conv",
        inputs,
        kernel_shape=[kh, kw],
        strides=list(op.attrs["stride"]),
        dilations=list(op.attrs["dilation"]),
        pads=_pads(op, x, (kh, kw)),
        group=int(x.shape[3]),
    )


def transpose_conv(e: Emitter, op: Op) -> None:
    """ConvTranspose: OHWI ``[out, kh, kw, in]`` -> ``(in, out, kh, kw)``; TFLite's front crop
    as the begin pads, the rest of the full ``(in - 1) * s + k`` result as end pads (or, when
    the output is longer, as ``output_padding``)."""
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    kh, kw = w.shape[1:3]
    if w.is_const and w.quant is not None:  # per channel on out: ONNX's axis 1
        filt = weight(e, w, "iohw", lambda d: d.transpose(3, 0, 1, 2), lambda axis: 1)
    else:
        filt = _derived(e, w, "iohw", lambda d: d.transpose(3, 0, 1, 2))
    inputs = [e.get(x, NCHW), filt]
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        inputs.append(_bias(e, op.inputs[2]))
    begin, end, extra = [], [], []
    for axis, k in ((1, kh), (2, kw)):
        stride, size = op.attrs["stride"][axis - 1], out.shape[axis]
        crop = transpose_conv_pad(op.attrs["padding"], size, k, stride)
        rest = (x.shape[axis] - 1) * stride + k - crop - size
        begin.append(crop)
        end.append(max(rest, 0))
        extra.append(max(-rest, 0))
    _finish(
        e,
        op,
        NCHW,
        "ConvTranspose",
        inputs,
        kernel_shape=[kh, kw],
        strides=list(op.attrs["stride"]),
        pads=begin + end,
        output_padding=extra,
    )


def _pool(onnx_type: str, **extra):
    def convert(e: Emitter, op: Op) -> None:
        x = op.inputs[0]
        size = list(op.attrs["filter"])
        _finish(
            e,
            op,
            NCHW,
            onnx_type,
            [e.get(x, NCHW)],
            kernel_shape=size,
            strides=list(op.attrs["stride"]),
            pads=_pads(op, x, size),
            **extra,
        )

    return convert


def _transposed_weights(e: Emitter, w: Value) -> str:
    if w.quant is not None:  # [units, in] -> [in, units]: the units axis becomes 1
        return weight(e, w, "t", lambda d: d.T, lambda axis: 1)
    return _derived(e, w, "t", lambda d: d.T)


def fully_connected(e: Emitter, op: Op) -> None:
    x, w = op.inputs[0], op.inputs[1]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if op.attrs["keep_num_dims"] and x.rank > 2:
        product = e.node(
            "MatMul",
            [e.get(x), _transposed_weights(e, w)],
            base=f"{op.outputs[0].name}/matmul",
        )
        inputs = [product, _bias(e, bias)] if bias is not None else [product]
        if bias is None:
            _finish(e, op, NHWC, "Identity", inputs)
        else:
            _finish(e, op, NHWC, "Add", inputs)
        return
    source = e.get(x)
    if x.rank != 2:
        shape = _scalar_shape(e, [-1, w.shape[1]])
        source = e.node("Reshape", [source, shape], base=f"{x.name}/2d")
    perm = e.flatten_perm.get(id(origin(e, x)))
    if w.quant is not None:  # int8 [units, in], per channel on the units axis
        reorder = (lambda d: d[:, perm]) if perm is not None else (lambda d: d)
        weights = weight(
            e, w, "nchw_flatten" if perm is not None else "w", reorder, lambda axis: axis
        )
    elif perm is not None:
        weights = _derived(e, w, "nchw_flatten", lambda d: d[:, perm])
    else:
        weights = e.get(w)
    inputs = [source, weights] + ([_bias(e, bias)] if bias is not None else [])
    _finish(e, op, NHWC, "Gemm", inputs, transB=1)


def _scalar_shape(e: Emitter, dims) -> str:
    key = ("shape", tuple(int(d) for d in dims))
    if key not in e._consts:
        e._consts[key] = e.initializer("shape", np.array(dims, dtype=np.int64))
    return e._consts[key]


def mean(e: Emitter, op: Op) -> None:
    x, out = op.inputs[0], op.outputs[0]
    axes = sorted(int(a) % x.rank for a in op.inputs[1].data.reshape(-1))
    keep = bool(op.attrs["keep_dims"])
    layout = NHWC
    if x.rank == 4 and e.prefers_nchw([x]):
        kept_nhwc = [d for d in range(4) if d not in axes]
        kept_nchw = [d for d in TO_NCHW if d not in axes]
        if keep or kept_nhwc == kept_nchw:
            layout = NCHW
            axes = sorted(nchw_axis(a) for a in axes)
    source = e.get(x, layout)
    out_layout = layout if keep else NHWC
    name = e.output_name(out, out_layout)
    if e.opset >= 18:
        e.node("ReduceMean", [source, _scalar_shape(e, axes)], name, keepdims=int(keep))
    else:
        e.node("ReduceMean", [source], name, axes=axes, keepdims=int(keep))
    e.set(out, out_layout, name)


def reshape(e: Emitter, op: Op) -> None:
    x, out = op.inputs[0], op.outputs[0]
    new_shape = [int(d) for d in op.inputs[1].data.reshape(-1)]
    if x.rank == 4 and out.rank == 2 and new_shape[0] == -1 and e.available(x, NCHW):
        h, w, c = x.shape[1:]
        perm = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
        identity = bool(np.array_equal(perm, np.arange(perm.size)))
        real = origin(e, out)  # the graph value, when ``out`` stands in for an int8 one
        readers = e.graph.consumers().get(id(real), [])
        only_dense = (
            bool(readers)
            and not e.graph.is_output(real)
            and all(
                r.type == "FULLY_CONNECTED" and r.inputs[0] is real and r.inputs[1].is_const
                for r in readers
            )
        )
        if identity or only_dense:
            e.node("Flatten", [e.get(x, NCHW)], out.name, axis=1)
            e.set(out, NHWC, out.name)
            if not identity:
                e.flatten_perm[id(real)] = perm
            return
    e.node("Reshape", [e.get(x), _scalar_shape(e, new_shape)], out.name)
    e.set(out, NHWC, out.name)


def softmax(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = NCHW if e.prefers_nchw([x]) else NHWC
    source = e.get(x, layout)
    beta = float(op.attrs["beta"])
    if beta != 1.0:
        source = e.node("Mul", [source, _scalar(e, beta)], base=f"{op.outputs[0].name}/beta")
    axis = 1 if layout == NCHW else -1
    _finish(e, op, layout, "Softmax", [source], axis=axis)


def _unary(onnx_type: str, extra_inputs=(), **attrs):
    def convert(e: Emitter, op: Op) -> None:
        x = op.inputs[0]
        layout = NCHW if e.prefers_nchw([x]) else NHWC
        inputs = [e.get(x, layout)] + [_scalar(e, v) for v in extra_inputs]
        _finish(e, op, layout, onnx_type, inputs, **attrs)

    return convert


def leaky_relu(e: Emitter, op: Op) -> None:
    _unary("LeakyRelu", alpha=float(op.attrs["alpha"]))(e, op)


def gelu(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = NCHW if e.prefers_nchw([x]) else NHWC
    source = e.get(x, layout)
    approximate = bool(op.attrs["approximate"])
    if e.opset >= 20:
        _finish(e, op, layout, "Gelu", [source], approximate="tanh" if approximate else "none")
        return
    # Before opset 20: 0.5 x (1 + erf(x / sqrt 2)), or the tanh form when approximate.
    base = op.outputs[0].name
    if approximate:
        cube = e.node(
            "Mul", [source, e.node("Mul", [source, source], base=f"{base}/sq")], base=f"{base}/cube"
        )
        inner = e.node(
            "Add",
            [source, e.node("Mul", [cube, _scalar(e, 0.044715)], base=f"{base}/c3")],
            base=f"{base}/inner",
        )
        scaled = e.node(
            "Mul", [inner, _scalar(e, float(np.sqrt(2 / np.pi)))], base=f"{base}/scaled"
        )
        core = e.node("Tanh", [scaled], base=f"{base}/tanh")
    else:
        scaled = e.node("Mul", [source, _scalar(e, float(1 / np.sqrt(2)))], base=f"{base}/scaled")
        core = e.node("Erf", [scaled], base=f"{base}/erf")
    one_plus = e.node("Add", [core, _scalar(e, 1.0)], base=f"{base}/one_plus")
    half_x = e.node("Mul", [source, _scalar(e, 0.5)], base=f"{base}/half_x")
    _finish(e, op, layout, "Mul", [half_x, one_plus])


def _binary(onnx_type: str):
    def convert(e: Emitter, op: Op) -> None:
        layout = NCHW if e.prefers_nchw(op.inputs) else NHWC
        _finish(e, op, layout, onnx_type, [e.get(v, layout) for v in op.inputs])

    return convert


def concatenation(e: Emitter, op: Op) -> None:
    axis = int(op.attrs["axis"]) % op.outputs[0].rank
    layout = NCHW if e.prefers_nchw(op.inputs) else NHWC
    if layout == NCHW:
        axis = nchw_axis(axis)
    _finish(e, op, layout, "Concat", [e.get(v, layout) for v in op.inputs], axis=axis)


def pad(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    paddings = op.inputs[1].data.astype(np.int64).reshape(-1, 2)
    layout = NCHW if e.prefers_nchw([x]) else NHWC
    if layout == NCHW:
        paddings = paddings[list(TO_NCHW)]
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
    _finish(e, op, layout, "Pad", [e.get(x, layout), _scalar_shape(e, pads)])


def slice_(e: Emitter, op: Op) -> None:
    """TFLite SLICE(begin, size) as ONNX Slice over the axes actually cut."""
    x = op.inputs[0]
    begin = [int(b) for b in op.inputs[1].data.reshape(-1)]
    size = [int(s) for s in op.inputs[2].data.reshape(-1)]
    layout = NCHW if e.prefers_nchw([x]) else NHWC
    cut = [a for a in range(x.rank) if begin[a] != 0 or size[a] != -1]
    starts = [begin[a] for a in cut]
    ends = [np.iinfo(np.int64).max if size[a] == -1 else begin[a] + size[a] for a in cut]
    axes = [nchw_axis(a) if layout == NCHW else a for a in cut]
    inputs = [
        e.get(x, layout),
        _scalar_shape(e, starts),
        _scalar_shape(e, ends),
        _scalar_shape(e, axes),
    ]
    _finish(e, op, layout, "Slice", inputs)


def resize_nearest_neighbor(e: Emitter, op: Op) -> None:
    """Nearest resize with ``src = floor(dst / scale)`` (asymmetric, floor): TFLite's rule
    when align_corners and half_pixel_centers are both false."""
    if op.attrs["align_corners"] or op.attrs["half_pixel_centers"]:
        raise ExportError(f"op {op.name}: only the plain nearest resize is written to ONNX")
    x, out = op.inputs[0], op.outputs[0]
    scale_h, scale_w = out.shape[1] / x.shape[1], out.shape[2] / x.shape[2]
    layout = NCHW if e.prefers_nchw([x]) or x.rank == 4 else NHWC
    scales = [1.0, 1.0, scale_h, scale_w] if layout == NCHW else [1.0, scale_h, scale_w, 1.0]
    key = ("scales", tuple(scales))
    if key not in e._consts:
        e._consts[key] = e.initializer("scales", np.array(scales, dtype=np.float32))
    _finish(
        e,
        op,
        layout,
        "Resize",
        [e.get(x, layout), "", e._consts[key]],
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )


def transpose(e: Emitter, op: Op) -> None:
    perm = [int(p) for p in op.inputs[1].data.reshape(-1)]
    _finish(e, op, NHWC, "Transpose", [e.get(op.inputs[0])], perm=perm)


def batch_matmul(e: Emitter, op: Op) -> None:
    """MatMul (numpy semantics: batch axes broadcast); an adjoint is a Transpose of the last
    two axes first."""
    inputs = []
    for value, adjoint in zip(op.inputs, (op.attrs["adj_x"], op.attrs["adj_y"])):
        name = e.get(value)
        if adjoint:
            perm = [*range(value.rank - 2), value.rank - 1, value.rank - 2]
            name = e.node("Transpose", [name], base=f"{value.name}/adjoint", perm=perm)
        inputs.append(name)
    _finish(e, op, NHWC, "MatMul", inputs)


def _quant_inputs(e: Emitter, value: Value, layout: str) -> tuple[list[str], dict]:
    if value.quant is None:
        raise ExportError(f"value {value.name!r} is {value.dtype} without quantization params")
    return qparams(e, value, nchw_axis if layout == NCHW else None)


def quantize(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = NCHW if e.prefers_nchw([x]) else NHWC
    names, attrs = _quant_inputs(e, op.outputs[0], layout)
    _finish(e, op, layout, "QuantizeLinear", [e.get(x, layout), *names], **attrs)


def dequantize(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = NCHW if e.prefers_nchw([x]) else NHWC
    if x.dtype == "float16":  # float16 weights (TFLite's DEQUANTIZE of float16 is a cast)
        _finish(e, op, layout, "Cast", [e.get(x, layout)], to=TensorProto.FLOAT)
        return
    names, attrs = _quant_inputs(e, x, layout)
    _finish(e, op, layout, "DequantizeLinear", [e.get(x, layout), *names], **attrs)


def identity(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = NCHW if e.prefers_nchw([x]) else NHWC
    _finish(e, op, layout, "Identity", [e.get(x, layout)])


CONVERTERS = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "TRANSPOSE_CONV": transpose_conv,
    "FULLY_CONNECTED": fully_connected,
    "MAX_POOL_2D": _pool("MaxPool"),
    "AVERAGE_POOL_2D": _pool("AveragePool", count_include_pad=0),
    "MEAN": mean,
    "RESHAPE": reshape,
    "SOFTMAX": softmax,
    "LOGISTIC": _unary("Sigmoid"),
    "TANH": _unary("Tanh"),
    "RELU": _unary("Relu"),
    "RELU6": _unary("Clip", (0.0, 6.0)),
    "RELU_N1_TO_1": _unary("Clip", (-1.0, 1.0)),
    "LEAKY_RELU": leaky_relu,
    "ELU": _unary("Elu", alpha=1.0),
    "GELU": gelu,
    "MAXIMUM": _binary("Max"),
    "MINIMUM": _binary("Min"),
    "ADD": _binary("Add"),
    "SUB": _binary("Sub"),
    "MUL": _binary("Mul"),
    "CONCATENATION": concatenation,
    "PAD": pad,
    "SLICE": slice_,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest_neighbor,
    "TRANSPOSE": transpose,
    "BATCH_MATMUL": batch_matmul,
    "QUANTIZE": quantize,
    "DEQUANTIZE": dequantize,
    "IDENTITY": identity,
}


# Recurrent ops, GATHER, REVERSE_V2 (``_recurrent``).
from compiler.export.onnx._recurrent import RECURRENT_CONVERTERS  # noqa: E402

CONVERTERS.update(RECURRENT_CONVERTERS)

# LAYER_NORM, SQUARED_DIFFERENCE and the resizes, half-pixel variants included
# (``_normalization``).
from compiler.export.onnx._normalization import NORMALIZATION_CONVERTERS  # noqa: E402

CONVERTERS.update(NORMALIZATION_CONVERTERS)

# Activations and elementwise math (``_math_ops``).
from compiler.export.onnx._math_ops import MATH_CONVERTERS  # noqa: E402

CONVERTERS.update(MATH_CONVERTERS)
