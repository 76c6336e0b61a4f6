"""Every frontend layer, compiled to .tflite and .onnx, matches the frontend's own outputs in
LiteRT and onnxruntime (batch 1 and 7, tolerance 1e-5 relative to the output's scale)."""

import pytest

from tests.compiler.export.helpers import check_model_exports
from tests.compiler.lower.models import BUILDERS


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_exported_model_matches_frontend(name):
    check_model_exports(BUILDERS[name]())
