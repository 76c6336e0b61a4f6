"""DeformConv (onnx.ai/onnx/operators/onnx__DeformConv.html, opsets 19, 22).

A 2-D convolution whose kernel taps are moved by learned ``offset`` (N, offset_group * 2 * kH *
kW, oH, oW; per tap the (dy, dx) pair) and scaled by ``mask`` (N, offset_group * kH * kW, oH,
oW; default 1). Each tap reads X bilinearly at ``o * stride - pad_begin + k * dilation +
offset``; a point at or beyond one pixel outside the image reads 0, and corners outside the
image read 0. The sampled columns are then multiplied by the weights per group, as Conv's
im2col.
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx.ops._common import check_size


def DeformConv(
    X, W, offset, B=None, mask=None, *, dilations=None, group=1, kernel_shape=None,
    offset_group=1, pads=None, strides=None,
):  # fmt: skip
    if X.ndim != 4:
        raise UnsupportedOpError(f"DeformConv: input rank {X.ndim}; only 2-D images (rank 4)")
    n, c, height, width = X.shape
    if W.ndim != 4 or group < 1 or offset_group < 1 or c % group or W.shape[0] % group:
        raise InvalidModelError(f"DeformConv: W {list(W.shape)} / group {group} do not fit X")
    if W.shape[1] * group != c or c % offset_group:
        raise InvalidModelError(
            f"DeformConv: W {list(W.shape)} needs {c // group} input channels per group"
        )
    kh, kw = W.shape[2:]
    if kernel_shape is not None and list(kernel_shape) != [kh, kw]:
        raise InvalidModelError(f"DeformConv: kernel_shape {kernel_shape} is not W's {[kh, kw]}")
    sh, sw = strides or (1, 1)
    dh, dw = dilations or (1, 1)
    pads = list(pads) if pads else [0, 0, 0, 0]
    if min(sh, sw, dh, dw) < 1 or len(pads) != 4 or min(pads) < 0:
        raise InvalidModelError("DeformConv: strides, dilations or pads are invalid")
    oh = (height + pads[0] + pads[2] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (width + pads[1] + pads[3] - ((kw - 1) * dw + 1)) // sw + 1
    taps = kh * kw
    if oh < 1 or ow < 1 or offset.shape != (n, offset_group * 2 * taps, oh, ow):
        raise InvalidModelError(
            f"DeformConv: offset {list(offset.shape)}; expected "
            f"{[n, offset_group * 2 * taps, oh, ow]}"
        )
    if mask is not None and mask.shape != (n, offset_group * taps, oh, ow):
        raise InvalidModelError(
            f"DeformConv: mask {list(mask.shape)}; expected {[n, offset_group * taps, oh, ow]}"
        )
    if B is not None and B.shape != (W.shape[0],):
        raise InvalidModelError(f"DeformConv: B {list(B.shape)}; expected [{W.shape[0]}]")
    check_size((n, c, taps, oh, ow), "DeformConv", 8)

    off = offset.reshape(n, offset_group, taps, 2, oh, ow).astype(np.float64)
    ky, kx = np.divmod(np.arange(taps), kw)
    base_y = (np.arange(oh) * sh - pads[0])[None, :, None] + (ky * dh)[:, None, None]
    base_x = (np.arange(ow) * sw - pads[1])[None, None, :] + (kx * dw)[:, None, None]
    py = base_y[None, None] + off[:, :, :, 0]  # (n, offset_group, taps, oh, ow)
    px = base_x[None, None] + off[:, :, :, 1]
    cols = _bilinear(X.astype(np.float64), py, px, offset_group)  # (n, c, taps, oh, ow)
    if mask is not None:
        m = mask.reshape(n, offset_group, 1, taps, oh, ow).astype(np.float64)
        cols = (cols.reshape(n, offset_group, c // offset_group, taps, oh, ow) * m).reshape(
            cols.shape
        )
    cg, og = c // group, W.shape[0] // group
    cols = cols.reshape(n, group, cg * taps, oh * ow)
    weights = W.reshape(group, og, cg * taps).astype(np.float64)
    y = np.matmul(weights[None], cols).reshape(n, W.shape[0], oh, ow)
    if B is not None:
        y = y + B.reshape(-1, 1, 1)
    return y.astype(X.dtype)


def _bilinear(x, py, px, offset_group):
    """Samples of x (n, c, H, W) at (py, px) (n, offset_group, ...): (n, c, ...)."""
    n, c, height, width = x.shape
    inside = (py > -1) & (py < height) & (px > -1) & (px < width)
    y0, x0 = np.floor(py), np.floor(px)
    ly, lx = py - y0, px - x0
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    per_group = x.reshape(n, offset_group, c // offset_group, height, width)
    nb = np.arange(n).reshape((n,) + (1,) * (py.ndim - 1))
    gb = np.arange(offset_group).reshape((1, offset_group) + (1,) * (py.ndim - 2))
    total = 0.0
    for yi, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xi, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            ok = inside & (yi >= 0) & (yi < height) & (xi >= 0) & (xi < width)
            v = per_group[nb, gb, :, np.clip(yi, 0, height - 1), np.clip(xi, 0, width - 1)]
            # advanced indices first: v is (n, offset_group, taps, oh, ow, c_per_group)
            total = total + v * np.where(ok, wy * wx, 0.0)[..., None]
    return np.moveaxis(total, -1, 2).reshape(n, c, *py.shape[2:])
