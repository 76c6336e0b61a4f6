"""UnrollRecurrentPass: unrolled graphs compute what the fused ops compute (IR evaluator), and
the pass reports whether it changed anything."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.ir.evaluate import evaluate
from compiler.lower.model import lower_model
from compiler.passes import UnrollRecurrentPass
from tests.compiler.recurrent import models as M

MODELS = {
    "lstm_seq": lambda: M.sequence_model("lstm", return_sequences=True),
    "gru": lambda: M.sequence_model("gru"),
    "gru_v1_backwards": lambda: M.sequence_model("gru_v1", go_backwards=True),
    "rnn_relu": lambda: M.sequence_model("rnn", activation="relu", return_sequences=True),
    "masked_stack": lambda: M.stacked_model(mask_zero=True),  # zero_output_for_mask too
    "bi_lstm": lambda: M.bidirectional_model("lstm", "concat", return_sequences=True),
}
TYPES = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN", "GRU")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_unrolled_graph_computes_the_same(name):
    model = MODELS[name]()
    graph = lower_model(model)
    x = M.inputs_for(model, 5)
    before = evaluate(graph, [x])
    result = UnrollRecurrentPass(types=TYPES)(graph)
    assert result.modified
    assert not any(op.type in TYPES for op in graph.ops)
    for a, b in zip(before, evaluate(graph, [x])):
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)
    assert not UnrollRecurrentPass(types=TYPES)(graph).modified


def test_only_gru_and_masked_ops_by_default():
    graph = lower_model(M.sequence_model("lstm"))
    assert not UnrollRecurrentPass()(graph).modified  # an unmasked LSTM stays fused
    graph = lower_model(M.embedding_model("lstm", True))
    assert UnrollRecurrentPass(types=())(graph).modified  # a masked one is unrolled
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in graph.summary()
