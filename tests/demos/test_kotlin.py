"""android_demo's Android-free Kotlin compiles (against LiteRT API stubs) and passes its JUnit
tests on golden data written by compiler.bundle from the real models (.tflite and .onnx)."""

from __future__ import annotations

import re

import pytest

from compiler.bundle import ANDROID_ASSETS, ANDROID_GOLDEN
from tests.demos import _kotlin

EVERY_APP_FILE_THE_BRIEF_NAMES = (
    "Preprocess.kt",
    "Classifier.kt",
    "OnnxClassifier.kt",
    "Backends.kt",
    "LiteRtModel.kt",
    "OrtModel.kt",
)


@pytest.fixture(scope="session")
def kotlin_build(tmp_path_factory) -> _kotlin.KotlinBuild:
    return _kotlin.build(_kotlin.session_root(tmp_path_factory))


def test_logic_files_import_nothing_from_android():
    names = {path.name for path in _kotlin.android_free_sources()}
    for name in EVERY_APP_FILE_THE_BRIEF_NAMES:
        assert name in names, f"{name} is missing or imports android.*"


def test_ui_files_are_the_only_android_ones():
    all_files = {p.name for p in _kotlin.MAIN_SOURCES.rglob("*.kt")}
    android = all_files - {p.name for p in _kotlin.android_free_sources()}
    assert android == {"MainActivity.kt", "DrawingView.kt"}


def _assert_all_pass(done, where: str) -> None:
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"JUnit failed on {where}:\n{report}"
    ran = re.search(r"^OK \((\d+) tests?\)", report, re.MULTILINE)
    # Every class has at least 3 tests: a class that silently ran none would show here.
    assert ran and int(ran.group(1)) >= 3 * len(_kotlin.TEST_CLASSES), report


def test_junit(kotlin_build, bundled):
    """All JUnit classes in one JVM (a JVM start costs seconds on a busy machine)."""
    done = kotlin_build.junit(
        _kotlin.TEST_CLASSES,
        {
            "demo.assets": str(bundled.android / ANDROID_ASSETS),
            "demo.golden": str(bundled.android / ANDROID_GOLDEN),
        },
    )
    _assert_all_pass(done, "a fresh bundle of the fixture model")


def test_junit_catches_a_wrong_golden_byte(kotlin_build, bundled, tmp_path):
    """The Kotlin tests can fail: one int8 byte changed in golden.json makes them fail."""
    golden = (bundled.android / ANDROID_GOLDEN).read_text()
    first = re.search(r'"input_int8": \[(-?\d+)', golden)
    changed = golden[: first.start(1)] + str(int(first.group(1)) ^ 1) + golden[first.end(1) :]
    (tmp_path / "golden.json").write_text(changed)
    done = kotlin_build.junit(
        ("PreprocessTest",),
        {
            "demo.assets": str(bundled.android / ANDROID_ASSETS),
            "demo.golden": str(tmp_path / "golden.json"),
        },
    )
    assert done.returncode != 0
    assert "goldenSamplesQuantizeByteForByte" in done.stdout


REPO_ANDROID = _kotlin.REPO / "android_demo"


def test_junit_on_the_repos_bundled_assets(kotlin_build):
    done = kotlin_build.junit(
        _kotlin.TEST_CLASSES,
        {
            "demo.assets": str(REPO_ANDROID / ANDROID_ASSETS),
            "demo.golden": str(REPO_ANDROID / ANDROID_GOLDEN),
        },
    )
    _assert_all_pass(done, "the repo's committed bundle")
