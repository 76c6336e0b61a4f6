"""LAYER_NORM, GROUP_NORM, SQUARED_DIFFERENCE and the resizes as ONNX nodes.

- LAYER_NORM -> ``LayerNormalization`` (opset 17; the driver decomposes it below 17), in
  NHWC, ``axis`` the first normalized axis; a missing gamma is a Scale of ones.
- GROUP_NORM -> ``GroupNormalization`` (opset 21, whose scale and bias are per channel; the
  opset-18 version took them per group), channels first: NCHW for rank 4, a Transpose of the
  channel axis to 1 otherwise.
- SQUARED_DIFFERENCE -> ``Sub`` then ``Mul`` of the difference by itself.
- RESIZE_BILINEAR -> ``Resize(mode="linear")``; RESIZE_NEAREST_NEIGHBOR ->
  ``Resize(mode="nearest")``, with the coordinate transformation of TFLite's flags:
  half-pixel centers are ``half_pixel`` (linear) / ``tf_half_pixel_for_nn`` with ``floor``
  (nearest), ``align_corners`` is ``align_corners`` (nearest rounds half up there, as
  ``round_prefer_ceil``), neither is ``asymmetric`` (nearest: ``floor``).
"""

from __future__ import annotations

import numpy as np

from compiler.export.errors import ExportError
from compiler.export.onnx._emitter import NCHW, NHWC, Emitter
from compiler.export.onnx._ops import _finish
from compiler.ir import Op

__all__ = ["NORMALIZATION_CONVERTERS"]


def layer_norm(e: Emitter, op: Op) -> None:
    from compiler.passes.decompose_normalization import onnx_layer_norm_axis

    axis = onnx_layer_norm_axis(op)
    if e.opset < 17 or axis is None:
        raise ExportError(
            f"op {op.name}: LAYER_NORM needs opset 17 and trailing axes in ONNX (the compile "
            "driver decomposes it otherwise)"
        )
    x = op.inputs[0]
    gamma = op.inputs[1] if len(op.inputs) > 1 else None
    beta = op.inputs[2] if len(op.inputs) > 2 else None
    normalized = x.shape[axis:]
    if gamma is None:
        scale = e.initializer(f"{op.name}/ones", np.ones(normalized, np.float32))
    else:
        scale = e.initializer(f"{gamma.name}/onnx", gamma.data.reshape(normalized))
    inputs = [e.get(x, NHWC), scale]
    if beta is not None:
        inputs.append(e.initializer(f"{beta.name}/onnx", beta.data.reshape(normalized)))
    eps = float(op.attrs["epsilon"])
    _finish(e, op, NHWC, "LayerNormalization", inputs, axis=int(axis), epsilon=eps)


def group_norm(e: Emitter, op: Op) -> None:
    if e.opset < 21:
        raise ExportError(
            f"op {op.name}: GROUP_NORM needs opset 21 in ONNX (the compile driver decomposes it "
            "otherwise)"
        )
    x, out = op.inputs[0], op.outputs[0]
    channels = x.shape[-1]
    gamma = op.inputs[1] if len(op.inputs) > 1 else None
    beta = op.inputs[2] if len(op.inputs) > 2 else None
    scale = gamma.data if gamma is not None else np.ones(channels, np.float32)
    bias = beta.data if beta is not None else np.zeros(channels, np.float32)
    inputs = [
        None,
        e.initializer(f"{op.name}/scale", scale.reshape(channels).astype(np.float32)),
        e.initializer(f"{op.name}/bias", bias.reshape(channels).astype(np.float32)),
    ]
    attrs = {"num_groups": int(op.attrs["groups"]), "epsilon": float(op.attrs["epsilon"])}
    if x.rank == 4:
        inputs[0] = e.get(x, NCHW)
        _finish(e, op, NCHW, "GroupNormalization", inputs, **attrs)
        return
    to_first = [0, x.rank - 1, *range(1, x.rank - 1)]
    to_last = [0, *range(2, x.rank), 1]
    inputs[0] = e.node("Transpose", [e.get(x)], base=f"{out.name}/channels_first", perm=to_first)
    y = e.node("GroupNormalization", inputs, base=f"{out.name}/channels_first_out", **attrs)
    _finish(e, op, NHWC, "Transpose", [y], perm=to_last)


def squared_difference(e: Emitter, op: Op) -> None:
    layout = NCHW if e.prefers_nchw(op.inputs) else NHWC
    a, b = (e.get(v, layout) for v in op.inputs)
    diff = e.node("Sub", [a, b], base=f"{op.outputs[0].name}/difference")
    _finish(e, op, layout, "Mul", [diff, diff])


def _resize(mode: str):
    def convert(e: Emitter, op: Op) -> None:
        x, out = op.inputs[0], op.outputs[0]
        align, half = bool(op.attrs["align_corners"]), bool(op.attrs["half_pixel_centers"])
        if align and half:
            raise ExportError(f"op {op.name}: align_corners with half_pixel_centers")
        layout = NCHW
        sizes = [out.shape[1], out.shape[2]]
        source = e.get(x, layout)
        attrs = {"mode": mode}
        if mode == "linear":
            attrs["coordinate_transformation_mode"] = (
                "half_pixel" if half else "align_corners" if align else "asymmetric"
            )
        else:
            attrs["coordinate_transformation_mode"] = (
                "tf_half_pixel_for_nn" if half else "align_corners" if align else "asymmetric"
            )
            attrs["nearest_mode"] = "round_prefer_ceil" if align else "floor"
        # Output sizes, not scales: the batch is unknown until run time, so the sizes are
        # taken from the input's shape for N and C.
        shape = e.node("Shape", [source], base=f"{out.name}/input_shape")
        nc = e.node(
            "Slice",
            [shape, _ints(e, [0]), _ints(e, [2])],
            base=f"{out.name}/batch_channels",
        )
        full = e.node("Concat", [nc, _ints(e, sizes)], base=f"{out.name}/sizes", axis=0)
        _finish(e, op, layout, "Resize", [source, "", "", full], **attrs)

    return convert


def _ints(e: Emitter, values) -> str:
    key = ("ints", tuple(int(v) for v in values))
    if key not in e._consts:
        e._consts[key] = e.initializer("ints", np.array(values, dtype=np.int64))
    return e._consts[key]


NORMALIZATION_CONVERTERS = {
    "LAYER_NORM": layer_norm,
    "GROUP_NORM": group_norm,
    "SQUARED_DIFFERENCE": squared_difference,
    "RESIZE_BILINEAR": _resize("linear"),
    "RESIZE_NEAREST_NEIGHBOR": _resize("nearest"),
}
