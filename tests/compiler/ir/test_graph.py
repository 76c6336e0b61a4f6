import numpy as np
import pytest

from compiler.ir import Graph, IRError, QuantParams, Value


def _small():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    w = g.const("w", np.ones((2, 3), np.float32))
    y = g.node("FULLY_CONNECTED", [x, w], (None, 2), "fc")
    g.outputs = [g.node("RELU", [y], (None, 2), "out")]
    return g


def test_names_are_unique_and_defaults_filled():
    g = _small()
    assert g.unique_name("fc") == "fc_1"
    op = g.ops[0]
    assert op.attrs == {"activation": "NONE", "keep_num_dims": False}
    g.validate()


def test_unknown_op_attribute_and_activation_are_errors():
    g = _small()
    x = g.inputs[0]
    with pytest.raises(IRError, match="unknown op type 'CONV3D'"):
        g.node("CONV3D", [x], (None, 3), "c")
    with pytest.raises(IRError, match=r"unknown attribute\(s\) \['strides'\]"):
        g.node("RELU", [x], (None, 3), "r", {"strides": 2})
    with pytest.raises(IRError, match="activation 'GELU'"):
        g.node("ADD", [x, x], (None, 3), "a", {"activation": "GELU"})
    with pytest.raises(IRError, match=r"takes inputs \('input', 'filter', 'bias\?'\)"):
        g.node("CONV_2D", [x], (None, 3), "c")


def test_validate_names_the_broken_value():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    ghost = Value("ghost", (None, 3))
    g.add_op("RELU", [ghost], [Value("r", (None, 3))])
    with pytest.raises(IRError, match="reads 'ghost' before anything writes it"):
        g.validate()
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    y = g.node("RELU", [x], (None, 3), "y")
    g.add_op("TANH", [x], [y])
    with pytest.raises(IRError, match="'y' is written twice"):
        g.validate()
    g = Graph("g")
    g.add_input("x", (None, 3))
    g.outputs = [Value("nothing", (None, 3))]
    with pytest.raises(IRError, match="'nothing' is not computed"):
        g.validate()


def test_duplicate_input_name_and_bad_dtype():
    g = Graph("g")
    g.add_input("x", (None, 1))
    with pytest.raises(IRError, match="already has a value named 'x'"):
        g.add_input("x", (None, 1))
    with pytest.raises(IRError, match="unsupported dtype 'complex64'"):
        Value("c", (1,), "complex64")


def test_bypass_keeps_output_names():
    g = _small()
    g.bypass(g.ops[1])  # drop the RELU writing the output "out"
    assert [op.type for op in g.ops] == ["FULLY_CONNECTED"]
    assert g.ops[0].outputs[0].name == "out" and g.outputs[0].name == "out"
    g.validate()


def test_copy_is_independent():
    g = _small()
    c = g.copy()
    c.ops[1].attrs["x"] = 1
    c.ops.pop()
    assert len(g.ops) == 2 and "x" not in g.ops[1].attrs
    assert c.inputs[0] is not g.inputs[0]
    assert c.ops[0].inputs[1].data is g.ops[0].inputs[1].data


def test_queries():
    g = _small()
    assert g.summary() == {"FULLY_CONNECTED": 1, "RELU": 1}
    assert g.count_params() == 6
    fc = g.ops[0]
    assert g.producers()[id(fc.outputs[0])] is fc
    assert g.consumers()[id(fc.outputs[0])] == [g.ops[1]]


def test_shape_constants_are_not_parameters():
    g = Graph("g")
    x = g.add_input("x", (None, 2, 3))
    s = g.const("s", np.array([-1, 6], np.int32))
    g.outputs = [g.node("RESHAPE", [x, s], (None, 6), "r")]
    assert g.count_params() == 0


def test_quant_params_checks():
    q = QuantParams([0.1, 0.2], [0, 1], quantized_dimension=3)
    assert q.per_channel and q.zero_point.dtype == np.int64
    assert QuantParams(0.5) == QuantParams([0.5], [0])
    with pytest.raises(IRError, match="equal length"):
        QuantParams([0.1, 0.2], [0])
    with pytest.raises(IRError, match="finite and positive"):
        QuantParams(0.0)
    with pytest.raises(IRError, match="zero_point must be integers"):
        QuantParams(0.1, 0.5)
    with pytest.raises(IRError, match="quant must be QuantParams"):
        Value("v", (1,), "int8", quant=0.1)
