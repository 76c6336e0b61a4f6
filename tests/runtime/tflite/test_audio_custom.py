"""AudioSpectrogram and Mfcc (LiteRT's speech front-end custom ops) against LiteRT's reference
resolver: float within 1e-5 relative to each output's largest magnitude."""

from __future__ import annotations

import numpy as np
import pytest
from flatbuffers import flexbuffers

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter


def _flex(**values) -> bytes:
    b = flexbuffers.Builder()
    with b.Map():
        for key, value in values.items():
            b.Key(key)
            if isinstance(value, bool):
                b.Bool(value)
            else:
                b.Int(value)
    return bytes(b.Finish())


def speech_model(samples, channels, window, stride, squared, mfcc):
    g = GraphBuilder()
    x = g.add((samples, channels), T.FLOAT32, "audio")
    frames = 0 if samples < window else 1 + (samples - window) // stride
    bins = (1 << (window - 1).bit_length()) // 2 + 1
    spec = g.add((channels, frames, bins), T.FLOAT32, "spectrogram")
    g.custom(
        "AudioSpectrogram",
        [x],
        [spec],
        _flex(window_size=window, stride=stride, magnitude_squared=squared),
    )
    outs = [spec]
    if mfcc:
        rate = g.add((1,), T.INT32, "rate", data=np.array([mfcc["rate"]], np.int32))
        y = g.add((channels, frames, mfcc["dct"]), T.FLOAT32, "mfcc")
        g.custom(
            "Mfcc",
            [spec, rate],
            [y],
            _flex(
                upper_frequency_limit=mfcc["upper"],
                lower_frequency_limit=mfcc["lower"],
                filterbank_channel_count=mfcc["filters"],
                dct_coefficient_count=mfcc["dct"],
            ),
        )
        outs.append(y)
    return g.finish([x], outs)


MFCC = {"rate": 16000, "upper": 4000, "lower": 20, "filters": 40, "dct": 13}


@pytest.mark.parametrize(
    "samples, channels, window, stride, squared, mfcc",
    [
        (1600, 1, 480, 160, True, MFCC),
        (1000, 2, 256, 100, False, None),
        (900, 1, 300, 128, True, {**MFCC, "rate": 8000, "upper": 3800, "dct": 10}),
        (700, 1, 200, 64, True, {**MFCC, "filters": 20, "upper": 9000}),  # upper > rate / 2
    ],
)
def test_speech_front_end_matches_litert(samples, channels, window, stride, squared, mfcc):
    data = speech_model(samples, channels, window, stride, squared, mfcc)
    x = np.random.default_rng(window).normal(0, 0.3, (samples, channels)).astype(np.float32)
    results = []
    for it in (Interpreter(model_content=data), litert_interpreter(model_content=data)):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        results.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    for ours, ref in zip(*results):
        assert ours.shape == ref.shape and ours.dtype == ref.dtype
        scale = max(float(np.abs(ref).max()), 1.0)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * scale)


def test_bad_options_are_refused():
    g = GraphBuilder()
    x = g.add((100, 1), T.FLOAT32, "audio")
    y = g.add((1, 1, 2), T.FLOAT32, "spec")
    g.custom("AudioSpectrogram", [x], [y], _flex(window_size=1, stride=1))
    with pytest.raises(InvalidModelError, match="window_size"):
        Interpreter(model_content=g.finish([x], [y]))
