"""GridSample (onnx.ai/onnx/operators/onnx__GridSample.html, opsets 16 and 20) and AffineGrid
(onnx__AffineGrid.html, opset 20).

GridSample reads X (N, C, *spatial) at the points of ``grid`` (N, *out, r), whose last axis
holds normalized coordinates in reversed spatial order (x = width first), -1 and 1 being the
corner pixels' centres (``align_corners``) or outer edges. A coordinate outside the borders is
clamped (``border``) or reflected at them (``reflection``: about the corner centres or edges);
then ``nearest`` rounds half to even, ``linear`` and ``cubic`` (Keys, a = -0.75) weight the 2 or
4 neighbours per axis, a neighbour outside the image reading 0 (``zeros``), its clamped index
(``border``) or its reflected index (``reflection``). Opset 16 spells the modes bilinear and
bicubic and only takes 4-D inputs.
"""

import itertools

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size

_MODES = {"bilinear": "linear", "bicubic": "cubic", "linear": "linear", "cubic": "cubic"}


def GridSample_16(X, grid, *, align_corners=0, mode="bilinear", padding_mode="zeros"):
    if X.ndim != 4:
        raise InvalidModelError(f"GridSample-16: input rank {X.ndim}; opset 16 takes 4-D only")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise InvalidModelError(f"GridSample-16: mode {mode!r}; expected bilinear/nearest/bicubic")
    return GridSample(X, grid, align_corners=align_corners, mode=mode, padding_mode=padding_mode)


def GridSample(X, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    mode = _MODES.get(mode, mode)
    if mode not in ("linear", "nearest", "cubic"):
        raise InvalidModelError(f"GridSample: mode {mode!r}; expected linear, nearest or cubic")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise InvalidModelError(f"GridSample: padding_mode {padding_mode!r} is unknown")
    nsp = X.ndim - 2
    if nsp < 1 or grid.ndim != X.ndim or grid.shape[0] != X.shape[0] or grid.shape[-1] != nsp:
        raise InvalidModelError(
            f"GridSample: grid {list(grid.shape)} does not fit input {list(X.shape)}; expected "
            f"[{X.shape[0] if X.ndim else '?'}, *out, {nsp}]"
        )
    n, c = X.shape[:2]
    out = grid.shape[1:-1]
    check_size((n, c, *out), "GridSample", X.dtype.itemsize)
    if 0 in X.shape[2:]:
        raise InvalidModelError(f"GridSample: input {list(X.shape)} has an empty spatial axis")
    dims = X.shape[2:]
    lo = [0.0 if align_corners else -0.5] * nsp
    hi = [d - 1.0 if align_corners else d - 0.5 for d in dims]
    coords = []
    for axis in range(nsp):
        g = grid[..., nsp - 1 - axis].astype(np.float64)  # reversed order: x is the last axis
        d = dims[axis]
        x = (g + 1) / 2 * (d - 1) if align_corners else ((g + 1) * d - 1) / 2
        coords.append(np.rint(x) if mode == "nearest" else x)

    xt = np.moveaxis(X, 1, -1)  # (N, *spatial, C): one gather fetches every channel
    batch = np.arange(n).reshape((n,) + (1,) * len(out))
    if mode == "nearest":
        taps = [[(np.trunc(x).astype(np.int64), None)] for x in coords]
    else:
        taps = [_taps(x, mode) for x in coords]
    y = np.zeros((n, *out, c), np.float64 if X.dtype == np.float64 else np.float32)
    for combo in itertools.product(*taps):
        index, keep = [], None
        weight = 1.0
        for axis, (i, w) in enumerate(combo):
            i, inside = _fetch_index(i, dims[axis], lo[axis], hi[axis], padding_mode)
            index.append(i)
            keep = inside if keep is None else keep & inside
            if w is not None:
                weight = weight * w
        value = xt[(batch, *index)]
        factor = np.where(keep, weight, 0.0)
        y += value * factor[..., None].astype(y.dtype)
    return np.moveaxis(y, -1, 1).astype(X.dtype)


def _taps(x, mode):
    """[(index, weight)] of the linear (2) or cubic (4) neighbours of coordinates ``x``."""
    base = np.floor(x)
    t = x - base
    base = base.astype(np.int64)
    if mode == "linear":
        return [(base, 1 - t), (base + 1, t)]
    a = -0.75  # Keys' kernel at distances 1 + t, t, 1 - t, 2 - t
    weights = [
        ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
        ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
    ]
    return [(base + k - 1, w) for k, w in enumerate(weights)]


def _fetch_index(i, size, lo, hi, padding_mode):
    """Indices to read and whether they read the image (False: the value is 0)."""
    inside = (i >= 0) & (i < size)
    if padding_mode == "zeros":
        return np.clip(i, 0, size - 1), inside
    if padding_mode == "border":
        return np.clip(i, 0, size - 1), np.ones_like(inside)
    reflected = _reflect(i.astype(np.float64), lo, hi).astype(np.int64)
    return np.clip(reflected, 0, size - 1), np.ones_like(inside)


def _reflect(x, lo, hi):
    """``x`` reflected at ``lo`` and ``hi`` until it lies between them."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    below = x < lo
    dx = np.where(below, lo - x, x - hi)
    k = np.floor(dx / span)
    r = dx - k * span
    even = k % 2 == 0
    from_low = np.where(even, lo + r, hi - r)
    from_high = np.where(even, hi - r, lo + r)
    return np.where(below, from_low, np.where(x > hi, from_high, x))


def AffineGrid(theta, size, *, align_corners=0):
    shape = [int(s) for s in np.asarray(size).reshape(-1)]
    if len(shape) not in (4, 5) or min(shape) < 0:
        raise InvalidModelError(
            f"AffineGrid: size {shape}; expected [N, C, H, W] or [N, C, D, H, W]"
        )
    nsp = len(shape) - 2
    n = shape[0]
    if theta.shape != (n, nsp, nsp + 1):
        raise InvalidModelError(
            f"AffineGrid: theta {list(theta.shape)}; expected [{n}, {nsp}, {nsp + 1}] for size "
            f"{shape}"
        )
    spatial = shape[2:]
    check_size((n, *spatial, nsp), "AffineGrid", theta.dtype.itemsize)
    axes = []
    for d in reversed(spatial):  # x (width) first, as the grid's last axis is ordered
        step = np.arange(d, dtype=np.float64)
        if align_corners:  # a single pixel sits at 1, as onnxruntime
            axes.append(step * 2 / (d - 1) - 1 if d > 1 else np.ones(d))
        else:
            axes.append((2 * step + 1) / d - 1)
    mesh = np.meshgrid(*axes[::-1], indexing="ij")  # each (*spatial), in spatial order
    base = np.stack([*mesh[::-1], np.ones(spatial)], axis=-1).astype(theta.dtype)
    grid = np.einsum("...k,njk->n...j", base, theta)
    return grid.astype(theta.dtype)
