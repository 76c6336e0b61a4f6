"""android_demo's UI (MainActivity.kt, DrawingView.kt) type-checks with kotlinc against
compile-only stubs of the Android SDK classes it uses and an R class made from its resources:
a wrong view id, string name or API call fails here, not first in Android Studio."""

from __future__ import annotations

import re

from tests.demos import _kotlin


def test_app_compiles_with_its_ui(tmp_path_factory):
    build = _kotlin.build(_kotlin.session_root(tmp_path_factory))
    package = build.classes / _kotlin.PACKAGE.replace(".", "/")
    for name in ("MainActivity", "DrawingView", "Classifier", "Preprocess"):
        assert (package / f"{name}.class").is_file(), name


def test_r_class_declares_what_the_resources_declare():
    source = _kotlin.r_class_source()
    for kind, name in (("id", "canvas"), ("id", "result"), ("layout", "activity_main")):
        block = re.search(rf"class {kind} \{{(.*?)\}}", source, re.DOTALL).group(1)
        assert f" {name} = " in block, (kind, name)
    assert "int prediction = " in source and "int load_failed = " in source
