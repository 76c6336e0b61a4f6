"""Shared checks of exported files: run them in LiteRT and onnxruntime, compare outputs."""

from __future__ import annotations

import numpy as np

from tests.fixtures import KERAS3

FIXTURES = KERAS3

# Outputs must match within 1e-5 relative to the output's scale (max |reference|, at least 1).
TOLERANCE = 1e-5


def assert_close(got, want, tol: float = TOLERANCE, what: str = "output") -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    err = float(np.abs(got - want).max()) if want.size else 0.0
    assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol:g} x scale {scale:.3g}"


def run_tflite(data: bytes, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs the ``serving_default`` signature in LiteRT (batch resized to the feeds')."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=data).get_signature_runner("serving_default")
    return runner(**{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items()})


def run_tflite_resized(data: bytes, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """Runs through the plain tensor API with ``resize_tensor_input`` (not the signature)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data)
    for detail, x in zip(interp.get_input_details(), feeds):
        interp.resize_tensor_input(detail["index"], list(x.shape))
    interp.allocate_tensors()
    for detail, x in zip(interp.get_input_details(), feeds):
        interp.set_tensor(detail["index"], np.ascontiguousarray(x, dtype=np.float32))
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def run_onnx(data: bytes, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items()}
    return dict(zip(names, session.run(names, feeds)))


def keras_outputs(model, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """The frontend's own answer: ``predict`` when it exists, else the eager call."""
    args = feeds[0] if len(feeds) == 1 else list(feeds)
    predict = getattr(model, "predict", None)
    if predict is not None:
        out = predict(args, verbose=0)
    else:
        out = model(args)
    out = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(getattr(o, "data", o)) for o in out]


def check_model_exports(model, batches=(1, 7), seed: int = 0, tol: float = TOLERANCE) -> dict:
    """Compiles ``model`` in memory to both formats and checks LiteRT and onnxruntime against
    the frontend for each batch size. Returns the bytes by format."""
    import onnx

    from compiler.export.onnx import write_onnx
    from compiler.export.tflite import write_tflite
    from compiler.lower import lower_model
    from compiler.passes import optimize, prepare_for_export

    graph = optimize(lower_model(model)).graph
    tfl = write_tflite(prepare_for_export(graph, "tflite"))
    onx = write_onnx(prepare_for_export(graph, "onnx"))
    onnx.checker.check_model(onnx.load_from_string(onx), full_check=True)
    rng = np.random.default_rng(seed)
    for batch in batches:
        feeds = [
            rng.standard_normal((batch, *v.shape[1:])).astype(np.float32) for v in graph.inputs
        ]
        named = {v.name: x for v, x in zip(graph.inputs, feeds)}
        want = keras_outputs(model, feeds)
        got_tfl = run_tflite(tfl, named)
        got_onnx = run_onnx(onx, named)
        for value, ref in zip(graph.outputs, want):
            assert_close(got_tfl[value.name], ref, tol, f"tflite {value.name} batch {batch}")
            assert_close(got_onnx[value.name], ref, tol, f"onnx {value.name} batch {batch}")
        for got, ref in zip(run_tflite_resized(tfl, feeds), want):
            assert_close(got, ref, tol, f"tflite (resize_tensor_input) batch {batch}")
    return {"tflite": tfl, "onnx": onx}
