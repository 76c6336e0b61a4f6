"""The ``AudioSpectrogram`` and ``Mfcc`` custom ops of LiteRT's resolvers (float32), used by
speech models.

References: ``tflite/kernels/audio_spectrogram.cc``, ``mfcc.cc`` and
``tflite/kernels/internal/spectrogram.cc``, ``mfcc.cc``, ``mfcc_mel_filterbank.cc``,
``mfcc_dct.cc``. Options are flexbuffer maps (integers, read with ``AsInt64``).

AudioSpectrogram(samples [n, channels]) -> [channels, frames, fft / 2 + 1]: frames of
``window_size`` samples every ``stride`` (frames = 1 + (n - window) // stride, or 0), each
multiplied by a periodic Hann window and zero-padded to the next power of two, real FFT in
double, |X|^2 rounded to float32 (its float32 square root unless ``magnitude_squared``).

Mfcc(spectrogram [channels, frames, bins], sample_rate) -> [channels, frames, dct_count]: per
frame, square roots of the bins summed under triangular mel filters (HTK style, DC excluded;
1127 ln(1 + f / 700)), the log of each (floored at 1e-12), then a DCT-II with
sqrt(2 / filters) normalization, all in double.
"""

from __future__ import annotations

import math

import numpy as np
from flatbuffers import flexbuffers

from runtime.tflite.kernels import _common as c


def _flex_ints(ctx: c.OpContext, names: tuple[str, ...]) -> dict:
    raw = ctx.op.custom_options
    try:
        options = flexbuffers.Loads(raw) if raw else {}
    except Exception as e:  # the file's bytes, whatever the decoder trips on
        raise ctx.fail(f"custom_options are not a flexbuffer map ({type(e).__name__})") from None
    if not isinstance(options, dict):
        raise ctx.fail("custom_options must be a flexbuffer map")
    out = {}
    for name in names:
        value = options.get(name, 0)
        if isinstance(value, (bytes, str, list, dict)) or value is None:
            raise ctx.fail(f"custom option {name!r} is not a number: {value!r}")
        out[name] = int(value)  # AsInt64 truncates a float
    out["magnitude_squared"] = bool(options.get("magnitude_squared", False))
    return out


def prepare_audio_spectrogram(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32,))
    o = _flex_ints(ctx, ("window_size", "stride"))
    window, stride = o["window_size"], o["stride"]
    if window < 2 or stride < 1 or window > 1 << 24:
        raise ctx.fail(f"window_size {window} must be in [2, 2^24] and stride {stride} >= 1")
    fft_length = 1 << (window - 1).bit_length()
    bins = fft_length // 2 + 1
    pi = math.atan(1.0) * 4.0
    hann = 0.5 - 0.5 * np.cos((2.0 * pi * np.arange(window)) / window)

    def run(x):
        if x.ndim != 2:
            raise ctx.fail(f"input must be [samples, channels], has shape {list(x.shape)}")
        samples, channels = x.shape
        frames = 0 if samples < window else 1 + (samples - window) // stride
        c.check_alloc(ctx, (channels, frames, fft_length), "framed signal", 8)
        starts = np.arange(frames) * stride
        idx = starts[:, None] + np.arange(window)[None, :]
        signal = x.T.astype(np.float64)[:, idx] * hann  # [channels, frames, window]
        spectrum = np.fft.rfft(signal, n=fft_length, axis=-1)
        power = (spectrum.real * spectrum.real + spectrum.imag * spectrum.imag).astype(np.float32)
        if not o["magnitude_squared"]:
            power = np.sqrt(power)
        return [np.asarray(power, np.float32).reshape(channels, frames, bins)]

    return run


def _freq_to_mel(freq):
    return 1127.0 * np.log1p(np.asarray(freq, np.float64) / 700.0)


def _filterbank(bins: int, rate: float, channels: int, lower: float, upper: float):
    """(start, end, band_mapper, weights) of ``MfccMelFilterbank::Initialize``."""
    mel_low, mel_hi = float(_freq_to_mel(lower)), float(_freq_to_mel(upper))
    spacing = (mel_hi - mel_low) / float(channels + 1)
    centers = mel_low + spacing * (np.arange(channels + 1) + 1)
    hz_per_bin = 0.5 * rate / float(bins - 1)
    start = int(1.5 + lower / hz_per_bin)
    end = int(upper / hz_per_bin)
    mapper = np.full(bins, -2, np.int64)
    weights = np.zeros(bins, np.float64)
    channel = 0
    for i in range(bins):
        if i < start or i > end:
            continue
        mel = float(_freq_to_mel(i * hz_per_bin))
        while channel < channels and centers[channel] < mel:
            channel += 1
        mapper[i] = channel - 1
        if channel - 1 >= 0:
            weights[i] = (centers[channel] - mel) / (centers[channel] - centers[channel - 1])
        else:
            weights[i] = (centers[0] - mel) / (centers[0] - mel_low)
    return start, end, mapper, weights


def prepare_mfcc(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types((c.F32,), inputs=(0,), outputs=(0,))
    if ctx.in_type(1) != c.I32:
        raise ctx.fail("sample_rate must be int32")
    o = _flex_ints(
        ctx,
        (
            "upper_frequency_limit",
            "lower_frequency_limit",
            "filterbank_channel_count",
            "dct_coefficient_count",
        ),
    )
    channels, count = o["filterbank_channel_count"], o["dct_coefficient_count"]
    lower, upper = float(o["lower_frequency_limit"]), float(o["upper_frequency_limit"])
    if not 1 <= count <= channels <= 1 << 16 or lower < 0 or upper <= lower:
        raise ctx.fail(
            f"filterbank_channel_count {channels}, dct_coefficient_count {count} and "
            f"frequency limits [{lower}, {upper}] are inconsistent"
        )
    pi = math.atan(1.0) * 4.0
    j = np.arange(channels) + 0.5
    cosines = math.sqrt(2.0 / channels) * np.cos(np.arange(count)[:, None] * (pi / channels) * j)

    def run(spectrogram, rate):
        if spectrogram.ndim != 3 or min(spectrogram.shape) <= 0 or rate.size != 1:
            raise ctx.fail(f"spectrogram {list(spectrogram.shape)} must be a non-empty 3-D tensor")
        bins = spectrogram.shape[2]
        sample_rate = float(int(rate.ravel()[0]))
        if bins < 2 or sample_rate <= 0:
            raise ctx.fail(f"{bins} bins and sample rate {sample_rate} cannot make a filterbank")
        start, end, mapper, weights = _filterbank(bins, sample_rate, channels, lower, upper)
        c.check_alloc(ctx, spectrogram.shape[:2] + (channels,), "mel bands", 8)
        frames = spectrogram.reshape(-1, bins).astype(np.float64)
        mel = np.zeros((frames.shape[0], channels), np.float64)
        if bins > end:  # else the filterbank leaves nothing: log(1e-12) bands are not made
            for i in range(start, end + 1):  # the kernel's order of accumulation
                value = np.sqrt(frames[:, i])
                weighted = value * weights[i]
                band = mapper[i]
                if band >= 0:
                    mel[:, band] += weighted
                if band + 1 < channels:
                    mel[:, band + 1] += value - weighted
            logs = np.log(np.maximum(mel, 1e-12))
            out = logs @ cosines.T
        else:
            out = np.zeros((frames.shape[0], count), np.float64)
        return [out.astype(np.float32).reshape(spectrogram.shape[:2] + (count,))]

    return run
