"""Recurrent layers: cells, the ``RNN`` driver, LSTM / GRU / SimpleRNN and the wrappers."""

from compiler.keras.layers.rnn.bidirectional import Bidirectional
from compiler.keras.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from compiler.keras.layers.rnn.gru import GRU, GRUCell
from compiler.keras.layers.rnn.lstm import LSTM, LSTMCell
from compiler.keras.layers.rnn.rnn import RNN
from compiler.keras.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from compiler.keras.layers.rnn.time_distributed import TimeDistributed

__all__ = [
    "RNN",
    "DropoutRNNCell",
    "SimpleRNNCell",
    "SimpleRNN",
    "LSTMCell",
    "LSTM",
    "GRUCell",
    "GRU",
    "Bidirectional",
    "TimeDistributed",
]
