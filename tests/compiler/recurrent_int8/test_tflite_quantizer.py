"""Our integer LSTM parameters are TFLite's: the same float LSTM and calibration data, quantized
by TFLite's own calibrator and quantizer (LiteRT's calibration wrapper, what TFLiteConverter
runs), give the same input, output, output-state, cell-state and hidden parameters and the same
int8 weights and int32 biases.

One difference, by design: without layer normalization TFLite's quantizer leaves intermediates
0-3 (the gate pre-activations, which its kernel does not read then) float32; ours are int16 at
the calibrated gate scales, so that the file holds no float tensor. The calibration is one batch:
TFLite's calibrator keeps the LSTM's state variables from one batch to the next, which widens
its output range after the first (ours starts every sequence from zero, as the model does).
"""

from __future__ import annotations

import numpy as np
import pytest

from compiler.lower.model import lower_model
from compiler.passes import optimize
from runtime.tflite.model import read_model
from runtime.tflite.schema import ActivationFunctionType as Act
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests._oracles import LITERT, require
from tests.compiler.recurrent_int8.helpers import FEATURES, STEPS, UNITS, build, inputs, int8_graph
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._integer_lstm_models import tflite_quantized

BATCH = 48


def _float_lstm_file(op) -> bytes:
    """The float LSTM ``op`` alone, batch ``BATCH``, states as zero variable tensors."""
    g = GraphBuilder()
    x = g.add([BATCH, STEPS, FEATURES], T.FLOAT32, "x")

    def const(v):
        return g.add(list(v.data.shape), T.FLOAT32, v.name, data=v.data)

    inputs_ = [x, *map(const, op.inputs[1:9]), -1, -1, -1, *map(const, op.inputs[9:13]), -1, -1]
    inputs_.append(g.add([BATCH, UNITS], T.FLOAT32, "h", is_variable=True))
    inputs_.append(g.add([BATCH, UNITS], T.FLOAT32, "c", is_variable=True))
    y = g.add([BATCH, STEPS, UNITS], T.FLOAT32, "y")
    options = {"fused_activation_function": int(Act.TANH), "cell_clip": 0.0}
    options.update(proj_clip=0.0, time_major=False)
    g.op(Op.UNIDIRECTIONAL_SEQUENCE_LSTM, [*inputs_, -1, -1, -1, -1], [y], options)
    return g.finish([x], [y])


def _params(value) -> tuple:
    return value.dtype, np.float32(value.quant.scale[0]), int(value.quant.zero_point[0])


def _file_params(subgraph, index) -> tuple:
    t = subgraph.tensors[index]
    q = t.quantization
    return str(t.dtype), np.float32(q.scale[0]), int(q.zero_point[0])


@pytest.mark.parametrize("seed", [0, 1])
def test_integer_lstm_parameters_match_tflites_quantizer(seed):
    wrapper = require("ai_edge_litert._pywrap_tensorflow_lite_calibration_wrapper", LITERT)
    model = build("lstm_seq", seed=seed)
    calibration = inputs(BATCH, seed=2 + seed)
    (float_op,) = [o for o in optimize(lower_model(model)).graph.ops if o.type.startswith("UNI")]
    theirs_file = tflite_quantized(_float_lstm_file(float_op), [calibration], wrapper)
    (subgraph,) = read_model(theirs_file).subgraphs
    (theirs,) = [o for o in subgraph.operators if o.op == Op.UNIDIRECTIONAL_SEQUENCE_LSTM]
    (ours,) = [o for o in int8_graph(model, calibration).ops if o.type.startswith("UNI")]
    integer = ours.attrs["integer"]

    assert _file_params(subgraph, theirs.inputs[0]) == _params(ours.inputs[0])
    assert _file_params(subgraph, theirs.outputs[0]) == _params(ours.outputs[0])
    state = ("int8", *_params(ours.outputs[0])[1:])
    assert _file_params(subgraph, theirs.inputs[18]) == state
    cell = _file_params(subgraph, theirs.inputs[19])
    assert cell == ("int16", integer["cell_state"].scale[0], 0)
    hidden = _file_params(subgraph, theirs.intermediates[4])
    assert hidden == _params(integer["intermediates"][4])
    for k in range(8):
        t = subgraph.tensors[theirs.inputs[1 + k]]
        w = ours.inputs[1 + k]
        assert _file_params(subgraph, theirs.inputs[1 + k]) == _params(w)
        np.testing.assert_array_equal(np.frombuffer(t.data, np.int8).reshape(w.data.shape), w.data)
    for k in range(4):
        t = subgraph.tensors[theirs.inputs[12 + k]]
        b = ours.inputs[9 + k]
        assert _file_params(subgraph, theirs.inputs[12 + k]) == _params(b)
        np.testing.assert_array_equal(np.frombuffer(t.data, np.int32), b.data)
    # Intermediates 0-3: TFLite leaves them float (unread without layer norm); ours are int16.
    assert [str(subgraph.tensors[i].dtype) for i in theirs.intermediates[:4]] == ["float32"] * 4
    assert [v.dtype for v in integer["intermediates"][:4]] == ["int16"] * 4
