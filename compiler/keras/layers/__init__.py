"""Keras 3 layers (``keras.layers``)."""

from compiler.keras.layers.core.dense import Dense
from compiler.keras.layers.core.embedding import Embedding
from compiler.keras.layers.input_layer import Input, InputLayer
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.rnn import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    TimeDistributed,
)

__all__ = [
    "Layer", "InputSpec", "InputLayer", "Input", "Dense",
    # Recurrent layers
    "Embedding", "RNN", "SimpleRNNCell", "SimpleRNN", "LSTMCell", "LSTM", "GRUCell", "GRU",
    "Bidirectional", "TimeDistributed",
]
