"""Signal ops, opset 17 (onnx.ai/onnx/operators): DFT (17, 20), STFT, HannWindow,
HammingWindow, BlackmanWindow, MelWeightMatrix.

Complex values travel as a trailing axis of 2 (real, imaginary); a trailing axis of 1 is a real
signal. DFT transforms along ``axis`` (an attribute in 17, an input in 20) with length
``dft_length`` (the signal is cut or zero-padded), keeps the first n // 2 + 1 bins when
``onesided``, and with ``inverse`` computes the 1/n-normalized inverse (one-sided: the real
inverse of a half spectrum). STFT frames the signal at ``frame_step``, weights each frame by
``window`` and takes its DFT. Windows: n in [0, size), N = size (``periodic``) or size - 1;
Hann 0.5 - 0.5 cos(2 pi n / N), Hamming 25/46 - 21/46 cos(2 pi n / N), Blackman 0.42 -
0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N). MelWeightMatrix: triangular filters between mel
points (mel = 2595 log10(1 + f / 700)) spaced evenly over num_mel_bins + 2 steps and mapped
to bins ``floor((dft_length + 1) * f / sample_rate)``, as the spec's reference.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import is_supported_elem_type, numpy_dtype
from runtime.onnx.ops._common import axis_index, check_size


def _scalar(x, name, op) -> int:
    values = np.asarray(x).reshape(-1)
    if values.size != 1:
        raise InvalidModelError(f"{op}: {name} must be a scalar; received shape {np.shape(x)}")
    return int(values[0])


def _complex(x, op):
    if x.ndim < 2 or x.shape[-1] not in (1, 2):
        raise InvalidModelError(
            f"{op}: input {list(x.shape)} must end in an axis of 1 (real) or 2 (complex)"
        )
    # Single precision stays single (numpy's FFT keeps it), as the spec's reference computes.
    real = np.float64 if x.dtype == np.float64 else np.float32
    if x.shape[-1] == 1:
        return x[..., 0].astype(real)
    return (x[..., 0].astype(real) + 1j * x[..., 1].astype(real)).astype(np.result_type(real, 1j))


def _pair(z, dtype):
    if np.iscomplexobj(z):
        return np.stack([z.real, z.imag], axis=-1).astype(dtype)
    return z[..., None].astype(dtype)


def DFT_17(input, dft_length=None, *, axis=1, inverse=0, onesided=0):
    return DFT(input, dft_length, axis, inverse=inverse, onesided=onesided)


def DFT(input, dft_length=None, axis=None, *, inverse=0, onesided=0):
    signal = _complex(input, "DFT")
    rank = input.ndim
    a = -2 if axis is None else _scalar(axis, "axis", "DFT")
    a = axis_index(a, rank, "DFT")
    if a == rank - 1:
        raise InvalidModelError("DFT: axis must not be the last (real/imaginary) axis")
    if dft_length is None:
        n = 2 * (input.shape[a] - 1) if inverse and onesided else input.shape[a]
    else:
        n = _scalar(dft_length, "dft_length", "DFT")
    if n < 1:
        raise InvalidModelError(f"DFT: dft_length {n} must be positive")
    shape = list(signal.shape)
    shape[a] = n // 2 + 1 if onesided and not inverse else n
    check_size(shape + [2], "DFT", 16)
    if inverse and onesided:
        return _pair(np.fft.irfft(signal, n=n, axis=a), input.dtype)
    if inverse:
        return _pair(np.fft.ifft(signal, n=n, axis=a), input.dtype)
    z = np.fft.fft(signal, n=n, axis=a)
    if onesided:
        z = np.take(z, np.arange(n // 2 + 1), axis=a)
    return _pair(z, input.dtype)


def STFT(signal, frame_step, window=None, frame_length=None, *, onesided=1):
    if signal.ndim != 3:
        raise InvalidModelError(
            f"STFT: signal {list(signal.shape)} must be [batch, length, 1 or 2]"
        )
    x = _complex(signal, "STFT")
    step = _scalar(frame_step, "frame_step", "STFT")
    if window is not None and window.ndim != 1:
        raise InvalidModelError(f"STFT: window {list(window.shape)} must be 1-D")
    if frame_length is not None:
        length = _scalar(frame_length, "frame_length", "STFT")
    else:
        length = window.shape[0] if window is not None else x.shape[1]
    if window is not None and window.shape[0] != length:
        raise InvalidModelError(f"STFT: window of {window.shape[0]} for frames of {length}")
    if step < 1 or not 1 <= length <= x.shape[1]:
        raise InvalidModelError(
            f"STFT: frame_step {step} and frame_length {length} do not fit a signal of {x.shape[1]}"
        )
    frames = (x.shape[1] - length) // step + 1
    bins = length // 2 + 1 if onesided else length
    check_size((x.shape[0], frames, bins, 2), "STFT", 16)
    check_size((x.shape[0], frames, length), "STFT", 16)
    index = np.arange(frames)[:, None] * step + np.arange(length)
    framed = x[:, index]  # (batch, frames, length)
    if window is not None:
        framed = framed * window.astype(framed.real.dtype)
    z = np.fft.fft(framed, axis=-1)[..., :bins]
    return _pair(z, signal.dtype)


def _window(size, output_datatype, periodic, op):
    n = _scalar(size, "size", op)
    if n < 0:
        raise InvalidModelError(f"{op}: size {n} is negative")
    if (
        not is_supported_elem_type(output_datatype)
        or numpy_dtype(output_datatype).kind not in "fiu"
    ):
        raise InvalidModelError(f"{op}: output_datatype {output_datatype} is not numeric")
    check_size((n,), op, 8)
    big_n = n if periodic else n - 1
    with np.errstate(invalid="ignore"):  # a symmetric window of 1 is 0 / 0: NaN, as onnxruntime
        angle = 2 * np.pi * np.arange(n) / np.float64(big_n)
    return angle, numpy_dtype(output_datatype)


def HannWindow(size, *, output_datatype=1, periodic=1):
    angle, dtype = _window(size, output_datatype, periodic, "HannWindow")
    return (0.5 - 0.5 * np.cos(angle)).astype(dtype)


def HammingWindow(size, *, output_datatype=1, periodic=1):
    angle, dtype = _window(size, output_datatype, periodic, "HammingWindow")
    alpha = 25.0 / 46.0
    return (alpha - (1 - alpha) * np.cos(angle)).astype(dtype)


def BlackmanWindow(size, *, output_datatype=1, periodic=1):
    angle, dtype = _window(size, output_datatype, periodic, "BlackmanWindow")
    return (0.42 - 0.5 * np.cos(angle) + 0.08 * np.cos(2 * angle)).astype(dtype)


def MelWeightMatrix(
    num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *,
    output_datatype=1,
):  # fmt: skip
    op = "MelWeightMatrix"
    mels = _scalar(num_mel_bins, "num_mel_bins", op)
    length = _scalar(dft_length, "dft_length", op)
    rate = _scalar(sample_rate, "sample_rate", op)
    low = float(np.asarray(lower_edge_hertz).reshape(-1)[0])
    high = float(np.asarray(upper_edge_hertz).reshape(-1)[0])
    if mels < 1 or length < 1 or rate < 1 or not 0 <= low < high or not np.isfinite(high):
        raise InvalidModelError(
            f"{op}: num_mel_bins {mels}, dft_length {length}, sample_rate {rate}, edges "
            f"[{low}, {high}] are invalid"
        )
    if (
        not is_supported_elem_type(output_datatype)
        or numpy_dtype(output_datatype).kind not in "fiu"
    ):
        raise InvalidModelError(f"{op}: output_datatype {output_datatype} is not numeric")
    spectrogram_bins = length // 2 + 1
    check_size((spectrogram_bins, mels), op, 8)
    low_mel = 2595 * np.log10(1 + low / 700)
    high_mel = 2595 * np.log10(1 + high / 700)
    points = np.arange(mels + 2) * ((high_mel - low_mel) / (mels + 2)) + low_mel
    hertz = 700 * (10 ** (points / 2595) - 1)
    bins = ((length + 1) * hertz // rate).astype(np.int64)
    if bins.max() >= spectrogram_bins:
        raise InvalidModelError(f"{op}: upper_edge_hertz {high} lies above the Nyquist bin")
    out = np.zeros((spectrogram_bins, mels))
    for i in range(mels):
        left, centre, right = bins[i], bins[i + 1], bins[i + 2]
        if centre == left:
            out[centre, i] = 1
        else:
            j = np.arange(left, centre + 1)
            out[j, i] = (j - left) / (centre - left)
        if right > centre:
            j = np.arange(centre, right)
            out[j, i] = (right - j) / (right - centre)
    return out.astype(numpy_dtype(output_datatype))
