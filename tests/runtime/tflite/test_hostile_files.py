"""Hostile and broken ``.tflite`` files raise one typed error, never a crash or a hang."""

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder, build
from tests.runtime.tflite._litert import FIXTURES

CNN = (FIXTURES / "slide_cnn.int8.tflite").read_bytes()


def load_and_run(data: bytes, **kwargs):
    it = Interpreter(model_content=data, **kwargs)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    return it


def _add_graph():
    g = GraphBuilder()
    x = g.add([2, 3], name="x")
    y = g.add([2, 3], name="y")
    g.op(Op.ADD, [x, x], [y])
    return g


def test_builder_graph_is_valid():
    load_and_run(_add_graph().finish([0], [1]))


@pytest.mark.parametrize("cut", [0, 3, 7, 8, 100, len(CNN) // 2, len(CNN) - 1])
def test_truncated_file(cut):
    with pytest.raises(InvalidModelError):
        load_and_run(CNN[:cut])


def test_random_bytes_and_wrong_identifier():
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidModelError, match="identifier"):
        load_and_run(rng.bytes(4096))
    data = bytearray(rng.bytes(4096))
    data[4:8] = b"TFL3"
    with pytest.raises(InvalidModelError):
        load_and_run(bytes(data))


def test_root_offset_outside_file():
    data = bytearray(CNN)
    data[0:4] = (len(CNN) + 100).to_bytes(4, "little")
    with pytest.raises(InvalidModelError, match="outside the file"):
        load_and_run(bytes(data))


def test_tensor_declaring_terabytes():
    g = _add_graph()
    g.tensors[1]["shape"] = [1 << 20, 1 << 20, 1 << 10]
    with pytest.raises(InvalidModelError, match="limit for activations"):
        load_and_run(g.finish([0], [1]))


def test_constant_shape_larger_than_its_buffer():
    g = _add_graph()
    c = g.add([4], data=[1, 2, 3, 4])
    g.tensors[c]["shape"] = [1 << 30]
    with pytest.raises(InvalidModelError, match="needs 4294967296 bytes but its buffer"):
        load_and_run(g.finish([0], [1]))


def test_buffer_index_out_of_range():
    g = _add_graph()
    g.tensors[0]["buffer"] = 99
    with pytest.raises(InvalidModelError, match="buffer 99 out of range"):
        load_and_run(g.finish([0], [1]))


def test_large_buffer_offset_outside_file():
    g = _add_graph()
    g.add([4], data=[1, 2, 3, 4])
    g.buffers[1] = {"offset": 1 << 40, "size": 16}
    with pytest.raises(InvalidModelError, match="outside the file"):
        load_and_run(g.finish([0], [1]))


def test_cyclic_graph():
    g = GraphBuilder()
    x = g.add([2], name="x")
    a = g.add([2], name="a")
    b = g.add([2], name="b")
    g.op(Op.ADD, [x, b], [a])
    g.op(Op.ADD, [a, x], [b])
    with pytest.raises(InvalidModelError, match="cyclic or dangling"):
        load_and_run(g.finish([x], [b]))


def test_operator_reading_its_own_output():
    g = GraphBuilder()
    x = g.add([2], name="x")
    a = g.add([2], name="a")
    g.op(Op.ADD, [x, a], [a])
    with pytest.raises(InvalidModelError, match="used before any operator produces it"):
        load_and_run(g.finish([x], [a]))


def test_tensor_index_out_of_range():
    g = _add_graph()
    g.operators[0]["inputs"] = [0, 57]
    with pytest.raises(InvalidModelError, match="tensor index 57 out of range"):
        load_and_run(g.finish([0], [1]))


def test_opcode_index_out_of_range():
    g = _add_graph()
    g.operators[0]["opcode_index"] = 5
    with pytest.raises(InvalidModelError, match="opcode_index 5 out of range"):
        load_and_run(g.finish([0], [1]))


def test_missing_subgraphs():
    with pytest.raises(InvalidModelError, match="no subgraphs"):
        load_and_run(build({"buffers": [{}]}))


def test_missing_required_input():
    g = _add_graph()
    g.operators[0]["inputs"] = [0, -1]
    with pytest.raises(InvalidModelError, match="required input 1 is missing"):
        load_and_run(g.finish([0], [1]))


def test_output_never_produced():
    g = _add_graph()
    g.add([2, 3], name="orphan")
    with pytest.raises(InvalidModelError, match="never produced"):
        load_and_run(g.finish([0], [2]))


def test_unknown_and_unsupported_ops():
    g = _add_graph()
    # an op this runtime does not implement (nor does LiteRT: no kernel was ever written)
    g.opcodes[0] = (int(Op.CONCAT_EMBEDDINGS), 1)
    g.operators[0].pop("builtin_options")
    g.operators[0].pop("builtin_options_type")
    with pytest.raises(UnsupportedOpError, match="CONCAT_EMBEDDINGS"):
        load_and_run(g.finish([0], [1]))
    g.opcodes[0] = (4000, 1)
    with pytest.raises(UnsupportedOpError, match="builtin op 4000"):
        load_and_run(g.finish([0], [1]))


def test_wrong_options_table_for_op():
    g = _add_graph()
    g.operators[0]["builtin_options_type"] = 1  # Conv2DOptions on an ADD
    g.operators[0]["builtin_options"] = ("Conv2DOptions", {})
    with pytest.raises(InvalidModelError, match="carries Conv2DOptions"):
        load_and_run(g.finish([0], [1]))


def test_vector_longer_than_file():
    data = bytearray(_add_graph().finish([0], [1]))
    marker = np.array([2, 3], np.int32).tobytes()  # the shape vector of tensor x
    pos = data.find(marker)
    data[pos - 4 : pos] = (1 << 30).to_bytes(4, "little")
    with pytest.raises(InvalidModelError, match="vector declares 1073741824 elements"):
        load_and_run(bytes(data))


def _while_graph(cond_body_limit: float, cond_index=1, body_index=2):
    # i = 0; while i < limit: i = i + 1
    g = GraphBuilder()
    i0 = g.add([], name="i")
    out = g.add([], name="out")
    g.op(
        Op.WHILE,
        [i0],
        [out],
        {"cond_subgraph_index": cond_index, "body_subgraph_index": body_index},
    )
    cond = {
        "tensors": [
            {"shape": [], "type": int(T.FLOAT32), "name": "i", "buffer": 0},
            {"shape": [], "type": int(T.FLOAT32), "name": "limit", "buffer": 1},
            {"shape": [], "type": int(T.BOOL), "name": "flag", "buffer": 0},
        ],
        "inputs": [0],
        "outputs": [2],
        "operators": [{"opcode_index": 1, "inputs": [0, 1], "outputs": [2]}],
    }
    body = {
        "tensors": [
            {"shape": [], "type": int(T.FLOAT32), "name": "i", "buffer": 0},
            {"shape": [], "type": int(T.FLOAT32), "name": "one", "buffer": 2},
            {"shape": [], "type": int(T.FLOAT32), "name": "next", "buffer": 0},
        ],
        "inputs": [0],
        "outputs": [2],
        "operators": [
            {
                "opcode_index": 2,
                "inputs": [0, 1],
                "outputs": [2],
                "builtin_options_type": 11,
                "builtin_options": ("AddOptions", {}),
            }
        ],
    }
    g.opcodes += [(int(Op.LESS), 1), (int(Op.ADD), 1)]
    g.buffers += [
        {"data": list(np.float32(cond_body_limit).tobytes())},
        {"data": list(np.float32(1).tobytes())},
    ]
    g.subgraphs = [cond, body]
    return g.finish([i0], [out])


def test_while_loop_runs():
    it = load_and_run(_while_graph(7.0))
    assert it.get_tensor(it.get_output_details()[0]["index"]) == 7.0


def test_endless_while_loop_is_capped():
    with pytest.raises(InvalidModelError, match="did not end within 50 iterations"):
        load_and_run(_while_graph(np.inf), max_loop_iterations=50)


def test_recursive_while_is_rejected():
    with pytest.raises(InvalidModelError, match="recursive control flow"):
        load_and_run(_while_graph(3.0, cond_index=1, body_index=0))


def test_while_subgraph_index_out_of_range():
    with pytest.raises(InvalidModelError, match="out of range"):
        load_and_run(_while_graph(3.0, body_index=9))


def test_loop_that_doubles_a_tensor_is_stopped():
    # while True: x = concat(x, x)
    g = GraphBuilder()
    x0 = g.add([4], name="x")
    out = g.add([4], name="out")
    g.op(Op.WHILE, [x0], [out], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    g.opcodes += [(int(Op.GREATER_EQUAL), 1), (int(Op.CONCATENATION), 1)]
    g.buffers.append({"data": list(np.float32(-1).tobytes())})
    g.subgraphs = [
        {
            "tensors": [
                {"shape": [4], "type": int(T.FLOAT32), "name": "x", "buffer": 0},
                {"shape": [], "type": int(T.FLOAT32), "name": "minus_one", "buffer": 1},
                {"shape": [], "type": int(T.BOOL), "name": "flag", "buffer": 0},
            ],
            "inputs": [0],
            "outputs": [2],
            # -1 >= -1: always true, a scalar.
            "operators": [{"opcode_index": 1, "inputs": [1, 1], "outputs": [2]}],
        },
        {
            "tensors": [
                {"shape": [4], "type": int(T.FLOAT32), "name": "x", "buffer": 0},
                {"shape": [8], "type": int(T.FLOAT32), "name": "xx", "buffer": 0},
            ],
            "inputs": [0],
            "outputs": [1],
            "operators": [
                {
                    "opcode_index": 2,
                    "inputs": [0, 0],
                    "outputs": [1],
                    "builtin_options_type": 10,
                    "builtin_options": ("ConcatenationOptions", {"axis": 0}),
                }
            ],
        },
    ]
    data = g.finish([x0], [out])
    with pytest.raises(InvalidModelError, match="exceeds 65536 bytes"):
        load_and_run(data, max_activation_bytes=1 << 16)


def test_model_content_that_is_not_bytes():
    with pytest.raises(InvalidModelError, match="must be bytes, got str"):
        Interpreter(model_content="not a model")


def test_shared_subtables_cannot_multiply_decoding_work():
    # FlatBuffers allow many offsets to one table: 100,000 tensor entries all pointing at one
    # tensor with a 4,000-character name is a 400 KB file that would decode into 400 MB of
    # strings. The reader's work budget (proportional to the file size) stops it.
    import flatbuffers

    from runtime.tflite import schema
    from tests.runtime.tflite._builder import encode_table

    b = flatbuffers.Builder(1 << 20)
    tensor = encode_table(b, "Tensor", {"shape": [1], "type": 0, "name": "t" * 4000})
    n = 100_000
    b.StartVector(4, n, 4)
    for _ in range(n):
        b.PrependUOffsetTRelative(tensor)
    tensors = b.EndVector()
    b.StartObject(schema.TABLES["SubGraph"].num_slots)
    b.PrependUOffsetTRelativeSlot(schema.TABLES["SubGraph"].field("tensors").slot, tensors, 0)
    subgraph = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    b.StartObject(schema.TABLES["Model"].num_slots)
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(schema.TABLES["Model"].field("subgraphs").slot, subgraphs, 0)
    b.Finish(b.EndObject(), file_identifier=schema.FILE_IDENTIFIER)
    data = bytes(b.Output())
    assert len(data) < 500_000
    with pytest.raises(InvalidModelError, match="more work than a file of"):
        Interpreter(model_content=data)
