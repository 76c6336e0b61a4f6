"""Shared fixtures of the demo-app tests: the apps bundled with a real model, the Kotlin build."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from compiler.bundle import BundleResult, bundle_apps
from tests.demos._samples import fashion_test_images
from tests.demos._tools import REPO, fixture, litert_reference_class

SAMPLE_COUNT = 10  # one per class: every label is shown by the apps and checked by the tests


@dataclass(frozen=True)
class BundledApps:
    android: Path
    ios: Path
    tflite: Path
    onnx: Path
    images: np.ndarray
    labels: np.ndarray
    result: BundleResult


def copy_apps(destination: Path) -> tuple[Path, Path]:
    """Copies the repo's two apps (without build outputs) to ``destination``."""
    ignore = shutil.ignore_patterns("build", ".gradle", ".idea", "Pods", "*.xcodeproj")
    android, ios = (
        Path(shutil.copytree(REPO / name, destination / name, ignore=ignore))
        for name in ("android_demo", "ios_demo")
    )
    return android, ios


@pytest.fixture(scope="session")
def bundled(tmp_path_factory) -> BundledApps:
    """Both apps, copied to a temporary directory and bundled with the fixture slide CNN.

    The golden outputs come from LiteRT's reference kernels; test_bundle checks that our
    runtime (the default of ``bundle_apps``) writes the very same files.
    """
    tflite, onnx = fixture("slide_cnn.int8.tflite"), fixture("slide_cnn.ort_qdq.onnx")
    images, labels = fashion_test_images(SAMPLE_COUNT)
    android, ios = copy_apps(tmp_path_factory.mktemp("apps"))
    result = bundle_apps(
        tflite,
        onnx,
        images,
        labels,
        android_dir=android,
        ios_dir=ios,
        interpreter_class=litert_reference_class(),
    )
    return BundledApps(android, ios, tflite, onnx, images, labels, result)
