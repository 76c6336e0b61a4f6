"""utils: to_categorical, normalize, set_random_seed, Progbar's Keras output format."""

import random as python_random
import re

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers
from compiler.keras.utils import Progbar, normalize, set_random_seed, to_categorical
from compiler.keras.utils import progbar as progbar_module


@pytest.fixture
def terminal(monkeypatch):
    """stdout behaves as a terminal: the bar is redrawn in place."""
    monkeypatch.setattr(progbar_module, "dynamic_display", lambda: True)


def test_to_categorical_matches_keras():
    out = to_categorical([0, 2, 1], 4)
    np.testing.assert_array_equal(out, np.eye(4)[[0, 2, 1]])
    assert out.dtype == np.float64
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)
    assert to_categorical(np.array([[1, 2], [0, 0]]), 3).shape == (2, 2, 3)
    assert to_categorical(np.array([3, 1], np.uint8)).shape == (2, 4)


def test_to_categorical_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match="integer class indices"):
        to_categorical([0.5, 1.0])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        to_categorical([-1, 1], 2)


def test_normalize():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(x, axis=0, order=1), [[1.0, 1.0], [0.0, 0.0]])


def _small_model():
    return keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(8, activation="relu"),
            layers.Dense(2, activation="softmax"),
        ]
    )


def test_set_random_seed_reproduces_weights_and_streams():
    set_random_seed(123)
    first = _small_model().get_weights()
    a = (python_random.random(), np.random.rand())
    set_random_seed(123)
    second = _small_model().get_weights()
    b = (python_random.random(), np.random.rand())
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a == b
    set_random_seed(124)
    assert not np.array_equal(_small_model().get_weights()[0], first[0])
    with pytest.raises(ValueError, match="integer"):
        set_random_seed(1.5)


def test_progbar_live_format(capsys, terminal):
    bar = Progbar(target=4, verbose=1, interval=0)
    for step in range(1, 5):
        bar.update(step, [("loss", 1.0 / step), ("accuracy", 0.5)])
    out = capsys.readouterr().out
    assert out.startswith("\r1/4 ")
    final = out.split("\r")[-1]
    assert final.startswith("4/4 ━━━━━━━━━━━━━━━━━━━━ ")
    assert final.rstrip().endswith("- loss: 0.2500 - accuracy: 0.5000")
    assert final.endswith("\n")
    assert "/step" in final


def test_progbar_averages_stateless_values_and_verbose_two(capsys, terminal):
    bar = Progbar(target=2, verbose=1, interval=0)
    bar.update(1, [("loss", 1.0)])
    bar.update(2, [("loss", 3.0)], finalize=False)
    mid = capsys.readouterr().out.split("\r")[-1]
    assert "loss: 2.0000" in mid  # step-weighted average of the values given
    quiet = Progbar(target=3, verbose=2)
    quiet.update(1, [("loss", 1.0)])
    assert capsys.readouterr().out == ""
    quiet.update(3, [("loss", 0.00001)])
    line = capsys.readouterr().out
    assert line.startswith("3/3 - ") and line.endswith(" - loss: 1.0000e-05\n")


def test_progbar_outside_a_terminal_prints_only_the_completed_bar(capsys):
    # capsys's stdout is no terminal, like a CI log or a pipe: no partial bars, no \r.
    assert not progbar_module.dynamic_display()
    bar = Progbar(target=3, verbose=1, interval=0)
    bar.update(1, [("loss", 3.0)])
    bar.update(2, [("loss", 2.0)])
    assert capsys.readouterr().out == ""
    bar.update(3, [("loss", 1.0)])
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out and out.count("\n") == 1
    assert re.match(r"^3/3 ━{20} \d+s \d+(us|ms|s)/step - loss: 1\.0000\n$", out), out


def test_pad_sequences_matches_keras():
    from compiler.keras.utils import pad_sequences

    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=4), [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [6, 7, 8, 9]]
    )
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=3, padding="post", truncating="post", value=-1),
        [[1, 2, 3], [4, -1, -1], [-1, -1, -1], [5, 6, 7]],
    )
    full = pad_sequences(seqs)
    assert full.shape == (4, 5) and full.dtype == np.int32
    vectors = pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32")
    assert vectors.shape == (2, 2, 3) and vectors[1, 0].sum() == 0
    with pytest.raises(ValueError, match="Padding type"):
        pad_sequences(seqs, padding="middle")
    with pytest.raises(ValueError, match="non-iterable"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match="different from expected shape"):
        pad_sequences([np.ones((2, 3)), np.ones((1, 4))])


def test_progbar_eta_formats(capsys, monkeypatch, terminal):
    clock = iter([0.0, 0.0, 100.0, 7300.0])
    monkeypatch.setattr("compiler.keras.utils.progbar.time.time", lambda: next(clock))
    bar = Progbar(target=200, verbose=1, interval=0)  # start at t=0
    bar.update(1)  # t=0: nothing known yet
    bar.update(2)  # t=100 s after step 1: 100 s/step, 198 steps left
    assert "\r  2/200 " in capsys.readouterr().out.replace("━", "").replace("─", "")
    bar._time_after_first_step = 0.0
    bar.update(3)  # t=7300: 3650 s/step since step 1
    out = capsys.readouterr().out
    # 197 steps left at 3650 s/step = 719050 s: hours:minutes:seconds, truncated.
    assert re.search(r" 199:44:10 3650s/step$", out), out
