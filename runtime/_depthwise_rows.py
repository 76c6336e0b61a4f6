"""Output-row geometry shared by both runtimes' planned depthwise convolutions (ONNX's
``ops/_conv_depthwise``, TFLite's ``kernels/_depthwise_plan``): each sums taps with one einsum
per band of output rows, over chunks of a row's values against filters tiled to the chunk."""

from __future__ import annotations

# Values per chunk of an output row (whole pixels, at least one): einsum's inner loop length.
# About a thousand ran fastest on 8-672 channels with a cold cache (shorter runs pay the loop's
# overhead per call of the inner loop, longer ones tiled filters that leave the cache).
WIDTH = 1024


def chunk_pixels(wo: int, ch: int) -> int:
    """Pixels per chunk of a row of ``wo`` pixels of ``ch`` values: the fewest that divide the
    row and hold at least WIDTH / 2 values (no tail chunk: one einsum per band, not two), else
    about WIDTH values and a tail."""
    for d in range(1, wo + 1):
        if wo % d == 0 and d * ch >= WIDTH // 2:
            return d if d * ch <= 2 * WIDTH or d == 1 else min(wo, -(-WIDTH // ch))
    return wo


def row_bands(ho, height, kh, sh, dh, pt) -> tuple:
    """Runs of output rows whose taps inside the input are the same range [i0, i1):
    (h0, h1, i0, i1, the input row of the first row's tap i0)."""
    bands = []
    for h in range(ho):
        top = h * sh - pt
        i0 = min(kh, max(0, -(top // dh)))  # (ceil(-top / dh))
        i1 = max(i0, min(kh, (height - 1 - top) // dh + 1))
        if bands and bands[-1][2:4] == [i0, i1]:
            bands[-1][1] = h + 1
        else:
            bands.append([h, h + 1, i0, i1, top + i0 * dh])
    return tuple(tuple(b) for b in bands)
