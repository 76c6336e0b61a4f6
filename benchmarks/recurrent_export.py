"""Benchmark: ``lstm_text`` (Embedding -> LSTM(16) -> Dense) as TFLiteConverter wrote it and as
this compiler writes it: file size, subgraphs, operators, LiteRT invoke time at batch 1 and 4.

    python benchmarks/recurrent_export.py [--invokes 2000]

TFLiteConverter's file (``tests/fixtures/keras3/lstm_text.float.tflite``) has a WHILE loop
over several subgraphs and a fixed batch of 1; ours has one UNIDIRECTIONAL_SEQUENCE_LSTM. Both
run on LiteRT's default kernels; times are the median of ``--invokes`` invokes after warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from compiler import keras
from compiler.export.tflite import write_tflite
from compiler.lower.model import lower_model
from compiler.passes import optimize, prepare_for_export
from compiler.quantize import quantize_graph
from runtime.tflite.model import read_model

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "keras3"


def _describe(content: bytes) -> str:
    model = read_model(content)
    ops = [op.name for sg in model.subgraphs for op in sg.operators]
    return f"{len(content):,} bytes, {len(model.subgraphs)} subgraph(s), {len(ops)} operators"


def _invoke_time(content: bytes, batch: int, invokes: int) -> str:
    interpreter = Interpreter(model_content=content)
    detail = interpreter.get_input_details()[0]
    try:
        interpreter.resize_tensor_input(detail["index"], [batch, 20])
        interpreter.allocate_tensors()
        x = np.random.default_rng(0).integers(0, 100, (batch, 20)).astype(np.int32)
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
    except (RuntimeError, ValueError) as error:
        return f"fails ({str(error).splitlines()[0][:70]})"
    times = []
    for _ in range(invokes):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return f"{statistics.median(times) * 1e6:.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invokes", type=int, default=2000)
    args = parser.parse_args()
    model = keras.models.load_model(FIXTURES / "lstm_text.keras")
    graph = optimize(lower_model(model)).graph
    files = {
        "TFLiteConverter float": (FIXTURES / "lstm_text.float.tflite").read_bytes(),
        "TFLiteConverter dynamic": (FIXTURES / "lstm_text.dynamic.tflite").read_bytes(),
        "ours float": write_tflite(prepare_for_export(graph, "tflite")),
        "ours dynamic": write_tflite(
            prepare_for_export(quantize_graph(graph, "dynamic"), "tflite")
        ),
    }
    for name, content in files.items():
        print(f"{name:24s} {_describe(content)}")
        for batch in (1, 4):
            print(f"{'':24s} batch {batch}: {_invoke_time(content, batch, args.invokes)}")


if __name__ == "__main__":
    main()
