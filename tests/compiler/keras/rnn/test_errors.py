"""Bad input to recurrent layers: typed errors that name the layer and the shapes."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers


@pytest.mark.parametrize("make", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_two_dimensional_input(make):
    layer = make(4, name="rec")
    with pytest.raises(ValueError, match=r'"rec".*expected ndim=3, found ndim=2.*\(2, 8\)'):
        layer(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="expected ndim=3"):
        make(4)(keras.Input((8,)))


@pytest.mark.parametrize("make", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_wrong_feature_count(make):
    layer = make(4, name="rec")
    layer(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r'"rec".*axis -1.*value 3.*\(2, 5, 7\)'):
        layer(np.zeros((2, 5, 7), np.float32))


def test_bad_initial_state_and_mask():
    layer = layers.LSTM(4, name="rec")
    x = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"'rec' expects 2 initial state tensor\(s\)"):
        layer(x, initial_state=[np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"initial state 1 must have shape.*\(2, 4\).*\(3, 4\)"):
        layer(x, initial_state=[np.zeros((2, 4)), np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"mask of shape.*\(2, 5\).*\(5, 2\)"):
        layer(x, mask=np.ones((5, 2), bool))
    with pytest.raises(ValueError, match="0 timesteps"):
        layer(np.zeros((2, 0, 3), np.float32))


def test_unsupported_arguments():
    with pytest.raises(ValueError, match="stateful=True is not supported"):
        layers.LSTM(4, stateful=True)
    with pytest.raises(ValueError, match="recurrent_constraint.*constraint identifier"):
        layers.GRU(4, recurrent_constraint="l2")
    with pytest.raises(ValueError, match="units"):
        layers.SimpleRNN(0)
    with pytest.raises(ValueError, match="use_cudnn"):
        layers.LSTM(4, use_cudnn="yes")
    with pytest.raises(ValueError, match="list of cells"):
        layers.RNN([layers.LSTMCell(2), layers.LSTMCell(2)])
