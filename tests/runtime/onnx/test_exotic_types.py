"""bfloat16, float8, float8e8m0, float4e2m1 and (u)int4 / (u)int2 tensors (ml_dtypes arrays):
reading packed initializers, feeding and returning them, Cast and QuantizeLinear /
DequantizeLinear against onnxruntime. onnxruntime's Python API neither takes nor returns these
types, so each comparison wraps the exotic tensor between two ops whose ends are plain types:
Cast float -> T -> float, QuantizeLinear -> DequantizeLinear."""

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime.errors import InvalidInputError, InvalidModelError, UnsupportedOpError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

F32 = TensorProto.FLOAT
_SPECIAL = [0.0, -0.0, 0.1, 0.75, 1.0, 1.5, 3.0, 448, 464, 480, 500, 57344, 61440, 1e6]
_SPECIAL += [1e38, 3.4e38, np.inf, -np.inf, np.nan, -1.0, -3.3, 1e-9, 1e-40, 2.0**-127]
_SPECIAL += [2.0**-128, 0.0009765625, 2.5, -7.5, 7.4]
X = np.array(_SPECIAL, np.float32)


def _model(nodes, inputs, outputs, initializers=(), opset=25):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=11)


def _both(model, feeds):
    ours = InferenceSession(model.SerializeToString()).run(None, feeds)
    theirs = ort_session(model, optimize=False).run(None, feeds)
    return ours, theirs


def _cast_through(mid, x, out=F32, **attrs):
    nodes = [
        helper.make_node("Cast", ["x"], ["m"], to=mid, **attrs),
        helper.make_node("Cast", ["m"], ["y"], to=out),
    ]
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    return _model(nodes, [("x", elem, list(x.shape))], [("y", out, list(x.shape))])


FLOAT8 = ["FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ"]


# Where onnxruntime 1.2x departs from the spec's table without saturation (its own result is
# not monotonic there): E4M3FN gives +-448 for |x| in [480, 496), where [x] > 448 is NaN by the
# spec; E5M2 gives NaN for |x| in [61440, 65536), where [x] > 57344 is Inf by the spec. This
# runtime follows the spec (as onnx's reference and ml_dtypes do).
_ORT_DEPARTS = {("FLOAT8E4M3FN", 0): (480, 496, np.nan), ("FLOAT8E5M2", 0): (61440, 65536, np.inf)}


@pytest.mark.parametrize("saturate", [0, 1])
@pytest.mark.parametrize("to", FLOAT8 + ["BFLOAT16"])
def test_cast_to_float8_and_bfloat16_like_onnxruntime(to, saturate):
    attrs = {"saturate": saturate} if to != "BFLOAT16" else {}
    x = np.concatenate([X, np.linspace(440, 520, 81), np.linspace(57000, 66000, 91)])
    x = x.astype(np.float32)
    model = _cast_through(getattr(TensorProto, to), x, **attrs)
    (ours,), (theirs,) = _both(model, {"x": x})
    departs = np.zeros(x.shape, bool)
    if (to, saturate) in _ORT_DEPARTS:
        low, high, spec = _ORT_DEPARTS[to, saturate]
        departs = (np.abs(x) >= low) & (np.abs(x) < high)
        assert departs.any()
        np.testing.assert_array_equal(ours[departs], np.copysign(spec, x[departs]))
    # NaN where NaN; signed zeros compare equal
    np.testing.assert_array_equal(ours[~departs], theirs[~departs])


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [0, 1])
def test_cast_to_float8e8m0_like_onnxruntime(saturate, round_mode):
    # (negative values are unspecified by the spec; both give the smallest power, 2**-127)
    model = _cast_through(TensorProto.FLOAT8E8M0, X, saturate=saturate, round_mode=round_mode)
    (ours,), (theirs,) = _both(model, {"x": X})
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    "to, out", [("INT4", "INT8"), ("UINT4", "UINT8"), ("INT2", "INT8"), ("UINT2", "UINT8")]
)
def test_integer_cast_to_4_and_2_bits_wraps_like_onnxruntime(to, out):
    x = np.arange(-40, 40, dtype=np.int32)
    model = _cast_through(getattr(TensorProto, to), x, out=getattr(TensorProto, out))
    (ours,), (theirs,) = _both(model, {"x": x})
    np.testing.assert_array_equal(ours, theirs)


def _qdq_model(x_shape, scale, zero_point, q_attrs, dq_attrs=None, opset=21):
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], **q_attrs),
        helper.make_node(
            "DequantizeLinear",
            ["q", "s", "z"],
            ["y"],
            **(q_attrs if dq_attrs is None else dq_attrs),
        ),
    ]
    inits = [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zero_point, "z")]
    return _model(nodes, [("x", F32, x_shape)], [("y", F32, x_shape)], inits, opset)


@pytest.mark.parametrize("dtype", ["int4", "uint4", "float8_e4m3fn", "float8_e5m2"])
def test_quantize_dequantize_per_tensor_like_onnxruntime(dtype):
    zero = np.array(0, getattr(ml_dtypes, dtype))
    x = np.concatenate([X[np.isfinite(X) & (np.abs(X) < 1e30)], np.linspace(-30, 30, 41)])
    x = x.astype(np.float32)[None]
    model = _qdq_model(list(x.shape), np.array(0.5, np.float32), zero, {})
    (ours,), (theirs,) = _both(model, {"x": x})
    np.testing.assert_array_equal(ours, theirs)


def test_float8_quantize_without_saturation_like_onnxruntime():
    x = np.linspace(-2000, 2000, 81, dtype=np.float32)[None]
    zero = np.array(0, ml_dtypes.float8_e4m3fn)
    model = _qdq_model(list(x.shape), np.array(1.0, np.float32), zero, {"saturate": 0}, {})
    (ours,), (theirs,) = _both(model, {"x": x})
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["int4", "uint4"])
@pytest.mark.parametrize("width", [12, 10])  # 10: the last block is shorter
def test_blocked_4_bit_quantization_like_onnxruntime(dtype, width):
    rng = np.random.default_rng(3)
    x = rng.uniform(-40, 40, size=(2, width)).astype(np.float32)
    scale = rng.uniform(0.5, 4, size=(2, 3)).astype(np.float32)
    zero = rng.integers(-8 if dtype == "int4" else 0, 8, size=(2, 3))
    zero = zero.astype(getattr(ml_dtypes, dtype))
    model = _qdq_model([2, width], scale, zero, {"axis": 1, "block_size": 4})
    (ours,), (theirs,) = _both(model, {"x": x})
    np.testing.assert_array_equal(ours, theirs)


def _tensor(elem, dims, raw=None, int32_data=()):
    """A TensorProto as a file may hold it (onnx.helper.make_tensor checks the sizes)."""
    tensor = TensorProto(name="w", data_type=elem, dims=dims)
    if raw is not None:
        tensor.raw_data = raw
    tensor.int32_data.extend(int32_data)
    return tensor


def _packed_initializer_model(tensor, elem, shape):
    node = helper.make_node("Cast", ["w"], ["y"], to=TensorProto.INT8)
    return _model([node], [], [("y", TensorProto.INT8, shape)], [tensor])


@pytest.mark.parametrize(
    "elem, values, packed",
    [
        # Two per byte, low nibble first; an odd count pads the last high nibble.
        (TensorProto.INT4, [1, -2, 7, -8, 3], bytes([0xE1, 0x87, 0x03])),
        (TensorProto.UINT4, [1, 14, 7, 8, 3], bytes([0xE1, 0x87, 0x03])),
        # Four per byte, bits 0-1 first.
        (TensorProto.INT2, [1, -2, -1, 0, 1], bytes([0b00111001, 0b01])),
        (TensorProto.UINT2, [1, 2, 3, 0, 1], bytes([0b00111001, 0b01])),
    ],
)
def test_packed_raw_data_initializers(elem, values, packed):
    tensor = _tensor(elem, [len(values)], raw=packed)
    model = _packed_initializer_model(tensor, elem, [len(values)])
    (y,) = InferenceSession(model.SerializeToString()).run(None, {})
    np.testing.assert_array_equal(y, np.array(values, np.int8))
    (theirs,) = ort_session(model, optimize=False).run(None, {})
    np.testing.assert_array_equal(y, theirs)


@pytest.mark.parametrize("elem", [TensorProto.INT4, TensorProto.FLOAT4E2M1, TensorProto.UINT2])
def test_packed_raw_data_of_the_wrong_length_is_refused(elem):
    bits = 2 if elem == TensorProto.UINT2 else 4
    needed = -(-5 * bits // 8)
    for wrong in (needed - 1, needed + 1, 5):
        tensor = _tensor(elem, [5], raw=b"\x11" * wrong)
        model = _packed_initializer_model(tensor, elem, [5])
        with pytest.raises(InvalidModelError, match=f"needs {needed} bytes of raw_data"):
            InferenceSession(model.SerializeToString())


def test_int4_in_int32_data_holds_two_per_entry():
    tensor = _tensor(TensorProto.INT4, [3], int32_data=[0x21, 0x0D])
    model = _packed_initializer_model(tensor, TensorProto.INT4, [3])
    (y,) = InferenceSession(model.SerializeToString()).run(None, {})
    np.testing.assert_array_equal(y, [1, 2, -3])
    tensor.int32_data.append(0)
    with pytest.raises(InvalidModelError, match="needs 2 values in int32_data"):
        InferenceSession(_packed_initializer_model(tensor, 0, [3]).SerializeToString())


@pytest.mark.parametrize("elem", [TensorProto.FLOAT6E2M3, TensorProto.COMPLEX64])
def test_types_without_a_dtype_are_still_refused(elem):
    model = _model([helper.make_node("Identity", ["x"], ["y"])], [("x", elem, [2])], [])
    with pytest.raises(UnsupportedOpError, match="does not support"):
        InferenceSession(model.SerializeToString())


def test_bfloat16_feeds_and_outputs():
    bf16 = TensorProto.BFLOAT16
    nodes = [
        helper.make_node("MatMul", ["a", "b"], ["m"]),
        helper.make_node("Relu", ["m"], ["y"]),
    ]
    model = _model(nodes, [("a", bf16, [2, 3]), ("b", bf16, [3, 4])], [("y", bf16, [2, 4])])
    session = InferenceSession(model.SerializeToString())
    assert [i.type for i in session.get_inputs()] == ["tensor(bfloat16)"] * 2
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((3, 4)).astype(ml_dtypes.bfloat16)
    (y,) = session.run(None, {"a": a, "b": b})
    assert y.dtype == ml_dtypes.bfloat16
    expected = np.maximum(a.astype(np.float32) @ b.astype(np.float32), 0)
    np.testing.assert_array_equal(y, expected.astype(ml_dtypes.bfloat16))
    with pytest.raises(InvalidInputError, match=r"Actual: \(tensor\(float\)\)"):
        session.run(None, {"a": a.astype(np.float32), "b": b})


@pytest.mark.parametrize(
    "op, shapes, attrs",
    [
        ("Conv", [(1, 2, 5, 5), (3, 2, 3, 3)], {}),
        ("ConvTranspose", [(1, 2, 3, 4), (2, 3, 2, 2)], {"strides": [2, 1]}),
        ("MaxPool", [(1, 2, 5, 5)], {"kernel_shape": [2, 2], "pads": [1, 1, 0, 0]}),
        ("MatMul", [(2, 3, 4), (4, 5)], {}),
        ("Einsum", [(2, 3, 4), (4, 5)], {"equation": "bij,jk->bk"}),
        ("Softmax", [(2, 3, 4)], {}),
    ],
)
def test_bfloat16_ops_keep_their_type_and_match_float32(op, shapes, attrs):
    """The kernels whose numpy primitive has no bfloat16 result (matmul gives float32, einsum
    refuses it) compute in float32 and round once; compared with onnxruntime on the same values
    in float32, within bfloat16's resolution."""
    bf16 = TensorProto.BFLOAT16
    names = [f"x{i}" for i in range(len(shapes))]
    node = helper.make_node(op, names, ["y"], **attrs)
    rng = np.random.default_rng(1)
    feeds = {n: rng.standard_normal(s).astype(ml_dtypes.bfloat16) for n, s in zip(names, shapes)}
    opset = 28 if op == "Einsum" else 25  # (Einsum takes bfloat16 from opset 28)
    model = _model(
        [node], [(n, bf16, list(s)) for n, s in zip(names, shapes)], [("y", bf16, None)], (), opset
    )
    (y,) = InferenceSession(model.SerializeToString()).run(None, feeds)
    assert y.dtype == ml_dtypes.bfloat16
    f32 = _model([node], [(n, F32, list(s)) for n, s in zip(names, shapes)], [("y", F32, None)])
    (expected,) = ort_session(f32).run(None, {n: a.astype(np.float32) for n, a in feeds.items()})
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.astype(np.float32), expected, rtol=2**-7, atol=2**-7)


def test_unknown_cast_round_mode_is_refused():
    model = _cast_through(TensorProto.FLOAT8E8M0, X, round_mode="sideways")
    with pytest.raises(InvalidModelError, match="round_mode 'sideways'"):
        InferenceSession(model.SerializeToString()).run(None, {"x": X})


@pytest.mark.parametrize(
    "into, through, out",
    [
        ("BFLOAT16", "UINT16", "UINT16"),
        ("FLOAT8E4M3FN", "UINT8", "UINT8"),
        ("FLOAT8E5M2FNUZ", "INT8", "INT8"),
        ("INT4", "UINT4", "UINT8"),
        ("INT2", "UINT2", "UINT8"),
    ],
)
def test_bitcast_reinterprets_exotic_bits(into, through, out):
    """float -> Cast(into) -> BitCast(through) -> Cast(out) gives the bits of the encoding
    (onnxruntime implements BitCast for bfloat16 only: the others are checked against the
    encodings, ml_dtypes', that onnx's numpy_helper writes into files)."""
    x = np.array([0.0, 1.0, -1.0, 1.5, -2.0, 0.75, 0.25, -0.0], np.float32)
    nodes = [
        helper.make_node("Cast", ["x"], ["a"], to=getattr(TensorProto, into)),
        helper.make_node("BitCast", ["a"], ["b"], to=getattr(TensorProto, through)),
        helper.make_node("Cast", ["b"], ["y"], to=getattr(TensorProto, out)),
    ]
    model = _model(nodes, [("x", F32, [8])], [("y", getattr(TensorProto, out), [8])], opset=26)
    (ours,) = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    if into == "BFLOAT16":
        (expected,) = ort_session(model, optimize=False).run(None, {"x": x})
    else:
        encoded = x.astype(helper.tensor_dtype_to_np_dtype(getattr(TensorProto, into)))
        bits = encoded.view(np.uint8) & {"INT4": 0xF, "INT2": 0x3}.get(into, 0xFF)
        expected = bits.view(ours.dtype)
    np.testing.assert_array_equal(ours, expected)


def test_bitcast_between_widths_is_refused():
    node = helper.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT8)
    model = _model([node], [("x", TensorProto.INT4, [2])], [("y", TensorProto.INT8, [2])], opset=26)
    session = InferenceSession(model.SerializeToString())
    with pytest.raises(InvalidModelError, match=r"int4 \(4 bits\) and int8 \(8 bits\)"):
        session.run(None, {"x": np.array([1, -1], ml_dtypes.int4)})


def test_quantize_output_dtype_must_match_the_zero_point():
    node = helper.make_node(
        "QuantizeLinear", ["x", "s", "z"], ["y"], output_dtype=TensorProto.UINT4
    )
    inits = [
        numpy_helper.from_array(np.array(1.0, np.float32), "s"),
        numpy_helper.from_array(np.array(0, ml_dtypes.int4), "z"),
    ]
    model = _model([node], [("x", F32, [2])], [("y", TensorProto.INT4, [2])], inits)
    session = InferenceSession(model.SerializeToString())
    with pytest.raises(InvalidModelError, match=r"tensor\(uint4\) differs .* tensor\(int4\)"):
        session.run(None, {"x": np.array([1.0, 2.0], np.float32)})


def test_dequantize_to_a_type_without_a_dtype_is_refused():
    node = helper.make_node(
        "DequantizeLinear", ["x", "s"], ["y"], output_dtype=TensorProto.FLOAT6E2M3
    )
    inits = [numpy_helper.from_array(np.array(1.0, np.float32), "s")]
    model = _model([node], [("x", TensorProto.INT4, [2])], [("y", F32, [2])], inits)
    session = InferenceSession(model.SerializeToString())
    with pytest.raises(UnsupportedOpError, match=r"tensor\(float6e2m3\) is not supported"):
        session.run(None, {"x": np.array([1, 2], ml_dtypes.int4)})


@pytest.mark.parametrize("op", ["RandomNormal", "RandomUniform"])
def test_random_bfloat16(op):
    node = helper.make_node(op, [], ["y"], dtype=TensorProto.BFLOAT16, shape=[64], seed=1.0)
    model = _model([node], [], [("y", TensorProto.BFLOAT16, [64])])
    (y,) = InferenceSession(model.SerializeToString()).run(None, {})
    assert y.dtype == ml_dtypes.bfloat16 and y.shape == (64,) and np.isfinite(y).all()


def test_dequantize_with_a_power_of_two_scale():
    """float8e8m0 scales (microscaling): exact powers of two; the output type must be named."""
    scale = np.array([0.5, 4.0], ml_dtypes.float8_e8m0fnu)
    x = np.array([[1.5, -2.0], [3.0, 0.25]], ml_dtypes.float8_e4m3fn)
    for output_dtype, expected in [(F32, [[0.75, -8.0], [1.5, 1.0]]), (0, None)]:
        node = helper.make_node(
            "DequantizeLinear", ["x", "s"], ["y"], axis=1, output_dtype=output_dtype
        )
        inits = [numpy_helper.from_array(scale, "s")]
        inputs = [("x", TensorProto.FLOAT8E4M3FN, [2, 2])]
        model = _model([node], inputs, [("y", F32, [2, 2])], inits, opset=25)
        session = InferenceSession(model.SerializeToString())
        if expected is None:
            with pytest.raises(InvalidModelError, match="needs output_dtype"):
                session.run(None, {"x": x})
        else:
            (y,) = session.run(None, {"x": x})
            np.testing.assert_array_equal(y, np.array(expected, np.float32))


def test_bfloat16_reductions_over_nothing_and_float_modulo():
    """ReduceMax/Min over an empty axis give -Inf/+Inf as for the other floats; Mod before
    opset 28 refuses floats without fmod=1 (bfloat16 among them)."""
    bf16 = TensorProto.BFLOAT16
    x = np.zeros((0, 3), ml_dtypes.bfloat16)
    for op, expected in (("ReduceMax", -np.inf), ("ReduceMin", np.inf)):
        node = helper.make_node(op, ["x"], ["y"], axes=[0], keepdims=0)
        model = _model([node], [("x", bf16, [0, 3])], [("y", bf16, [3])], opset=17)
        (y,) = InferenceSession(model.SerializeToString()).run(None, {"x": x})
        assert y.dtype == ml_dtypes.bfloat16
        np.testing.assert_array_equal(y.astype(np.float32), np.full(3, expected, np.float32))
    node = helper.make_node("Mod", ["a", "b"], ["y"])
    model = _model([node], [("a", bf16, [2]), ("b", bf16, [2])], [("y", bf16, [2])])
    a = np.array([5, -5], ml_dtypes.bfloat16)
    with pytest.raises(InvalidModelError, match="need fmod=1"):
        InferenceSession(model.SerializeToString()).run(None, {"a": a, "b": a})
