"""Real ``keras.applications`` models (and a small ViT) through the whole product.

Each model is built by real Keras 3 in its own process (``_build_real``), then loaded,
compiled to float and int8 ``.tflite`` / ``.onnx`` and run in LiteRT, onnxruntime and our
runtime (``_harness.check_zoo_model``). ``_build_real.MODELS`` holds the builders: the
smallest input each model accepts and its smallest width. Not again here: EfficientNetB0,
EfficientNetV2B0 and ConvNeXtTiny run in ``test_normalization_models.py``, the four
MobileNetV3 variants in ``tests/compiler/export/test_mobilenet_v3.py`` and the ViT in
``tests/compiler/attention/test_transformer_models.py``, each with stricter checks of its own
(no float island, bit-exact on every tensor); ``benchmarks/zoo.py`` measures them all.
"""

import importlib.util

import pytest

from tests._oracles import KERAS, LITERT, ONNXRUNTIME, missing
from tests.compiler.zoo._harness import check_zoo_model

ZOO = [
    "MobileNetV2",
    "DenseNet121",
    "ResNet50",
    "NASNetMobile",
    "UNet",
]

for _module, _install in (
    ("keras", KERAS),
    ("jax", KERAS),
    ("ai_edge_litert", LITERT),
    ("onnxruntime", ONNXRUNTIME),
):
    if importlib.util.find_spec(_module) is None:
        missing(f"the oracle {_module}", _install)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_through_the_whole_product(name, tmp_path):
    result = check_zoo_model(name, tmp_path, min_cosine=0.99)
    assert set(result.files) == {"float.tflite", "float.onnx", "int8.tflite", "int8.onnx"}
    # int8 weights: the files shrink to about a quarter of the float ones (less for the tiny
    # ViT, whose per-channel scales and int32 biases weigh more).
    assert result.files["int8.tflite"] < 0.5 * result.files["float.tflite"]
