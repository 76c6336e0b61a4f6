"""Static checks of the two demo apps' sources: syntax, XML, XcodeGen spec, Gradle settings,
labels coming only from labels.txt, and the Kotlin/Swift mirrors of the quantization rule."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest

from compiler.bundle import FASHION_MNIST_CLASS_NAMES, IOS_ASSETS, IOS_GOLDEN
from tests.demos._syntax import LANGUAGE_OF_SUFFIX, file_errors, syntax_errors
from tests.demos._tools import REPO, missing

ANDROID = REPO / "android_demo"
IOS = REPO / "ios_demo"
SOURCES = sorted(
    path
    for app in (ANDROID, IOS)
    for path in app.rglob("*")
    if path.suffix in LANGUAGE_OF_SUFFIX and "build" not in path.parts
)
APP_SOURCES = [  # what ships in the apps (not their tests)
    p for p in SOURCES if "test" not in p.parts and "FashionDemoTests" not in p.parts
]


def test_there_are_sources_in_both_languages():
    suffixes = {p.suffix for p in SOURCES}
    assert suffixes == {".kt", ".kts", ".swift"}, suffixes


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_source_parses(path):
    errors = file_errors(path, REPO)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("kotlin", b"fun main() {\n    val x = (1 + \n}\n"),
        ("swift", b"struct A {\n    func f( -> Int { 1 }\n}\n"),
    ],
)
def test_syntax_check_reports_file_line_and_column(language, source):
    errors = syntax_errors(source, language, "broken")
    assert errors, "a broken source must be reported"
    assert all(re.match(r"broken:\d+:\d+: ", e) for e in errors), errors


@pytest.mark.parametrize(
    "path", sorted(ANDROID.rglob("*.xml")), ids=lambda p: str(p.relative_to(REPO))
)
def test_android_xml_is_well_formed(path):
    ElementTree.parse(path)


def test_manifest_launches_the_activity():
    manifest = ElementTree.parse(ANDROID / "app/src/main/AndroidManifest.xml").getroot()
    ns = "{http://schemas.android.com/apk/res/android}"
    activities = {a.get(f"{ns}name") for a in manifest.iter("activity")}
    assert ".MainActivity" in activities
    assert any(a.get(f"{ns}name") == "android.intent.action.MAIN" for a in manifest.iter("action"))


def test_layout_ids_used_by_the_activity_exist():
    layout = (ANDROID / "app/src/main/res/layout/activity_main.xml").read_text()
    activity = (ANDROID / "app/src/main/java/com/kestrel/fashiondemo/MainActivity.kt").read_text()
    declared = set(re.findall(r'android:id="@\+id/(\w+)"', layout))
    used = set(re.findall(r"R\.id\.(\w+)", activity))
    assert used and used <= declared, f"used {used}, declared {declared}"
    strings = (ANDROID / "app/src/main/res/values/strings.xml").read_text()
    names = set(re.findall(r'<string name="(\w+)"', strings))
    referenced = set(re.findall(r"R\.string\.(\w+)", activity)) | set(
        re.findall(r"@string/(\w+)", layout)
    )
    assert referenced <= names, f"missing strings: {referenced - names}"


def test_gradle_build_has_the_required_settings():
    app = (ANDROID / "app/build.gradle.kts").read_text()
    assert re.search(r"compileSdk\s*=\s*36\b", app)
    assert re.search(r"minSdk\s*=\s*24\b", app)  # LiteRT 2.x declares 24
    assert re.search(r'"com\.google\.ai\.edge\.litert:litert:2\.[\d.]+"', app)
    assert re.search(r'"com\.microsoft\.onnxruntime:onnxruntime-android:[\d.]+"', app)
    assert re.search(r'noCompress\s*\+=\s*"tflite"', app)
    assert 'include(":app")' in (ANDROID / "settings.gradle.kts").read_text()
    # No AndroidX or Compose: a plain Activity with XML views.
    assert "androidx" not in app and "compose" not in app.lower()


def _yaml():
    try:
        import yaml
    except ImportError:
        missing("PyYAML (pip, the test extra)")
    return yaml


def _project_paths(spec: dict) -> list[str]:
    paths = []
    for target in spec["targets"].values():
        for source in target.get("sources", []):
            paths.append(source if isinstance(source, str) else source["path"])
    return paths


def test_project_yml_parses_and_names_existing_files():
    yaml = _yaml()
    spec = yaml.safe_load((IOS / "project.yml").read_text())
    assert set(spec["targets"]) == {"FashionDemo", "FashionDemoTests"}
    assert spec["targets"]["FashionDemo"]["type"] == "application"
    written_by_bundle = {str(IOS_ASSETS)}
    for path in _project_paths(spec):
        if path not in written_by_bundle:
            assert (IOS / path).exists(), f"project.yml names {path}, which does not exist"
    podfile = (IOS / "Podfile").read_text()
    assert "pod 'TensorFlowLiteSwift'" in podfile and "pod 'onnxruntime-objc'" in podfile


def test_project_yml_names_the_bundled_files(bundled):
    yaml = _yaml()
    spec = yaml.safe_load((bundled.ios / "project.yml").read_text())
    for path in _project_paths(spec):
        assert (bundled.ios / path).exists(), path
    assert (bundled.ios / IOS_GOLDEN).parent.name in _project_paths(spec)


def test_apps_hard_code_no_class_name():
    # Labels come from labels.txt only, so the apps cannot disagree with the model or each other.
    names = "|".join(re.escape(n) for n in FASHION_MNIST_CLASS_NAMES)
    shipped = APP_SOURCES + sorted((ANDROID / "app/src/main/res").rglob("*.xml"))
    for path in shipped:
        found = re.findall(rf"\b({names})\b", path.read_text())
        assert not found, f"{path.relative_to(REPO)} hard-codes class names {found}"


def test_both_apps_read_labels_and_contract_from_their_assets():
    kotlin = (ANDROID / "app/src/main/java/com/kestrel/fashiondemo/MainActivity.kt").read_text()
    swift = (IOS / "FashionDemo/DemoModel.swift").read_text()
    for source in (kotlin, swift):
        assert "parseLabels(" in source and "labelsFile" in source
    assert "Contract.FILE_NAME" in kotlin and "Contract.fileName" in swift


def test_swift_mirrors_the_kotlin_quantization_rule():
    kotlin = (ANDROID / "app/src/main/java/com/kestrel/fashiondemo/Preprocess.kt").read_text()
    swift = (IOS / "FashionDemo/Preprocess.swift").read_text()
    # Same float32 operation order, same rounding, same clamp, same luma and box filter.
    assert "p.toFloat() / divisor / scale" in kotlin
    assert "Float(p) / divisor / scale" in swift
    assert "rounded(.toNearestOrAwayFromZero)" in swift
    assert "-Math.round(-value) else Math.round(value)" in kotlin
    assert "coerceIn(-128, 127)" in kotlin and "min(max(q, -128), 127)" in swift
    for source in (kotlin, swift):
        assert "(299 * r + 587 * g + 114 * b + 500) / 1000" in source
        assert "(sum + count / 2) / count" in source


def test_android_uses_litert_compiled_model_not_the_legacy_interpreter():
    sources = {p.name: p.read_text() for p in (ANDROID / "app/src").rglob("*.kt")}
    assert not [name for name, text in sources.items() if "org.tensorflow.lite" in text]
    glue = sources["LiteRtModel.kt"]
    for call in ("CompiledModel.create(", "createInputBuffers()", ".writeInt8(", ".readInt8()"):
        assert call in glue, call
    assert "Accelerator.CPU" in sources["Backends.kt"]
    onnx = sources["OrtModel.kt"]
    for call in ("OrtEnvironment.getEnvironment()", "createSession(", "OnnxTensor.createTensor("):
        assert call in onnx, call


def test_ios_runs_both_formats():
    swift = {p.name: p.read_text() for p in (IOS / "FashionDemo").glob("*.swift")}
    assert "ORTSession(env:" in swift["OnnxClassifier.swift"]
    assert "Interpreter(modelPath:" in swift["Classifier.swift"]
    for name in ("Backends.swift", "Preprocess.swift", "Contract.swift"):
        assert not re.search(r"^import (UIKit|SwiftUI|TensorFlowLite)", swift[name], re.M), name
