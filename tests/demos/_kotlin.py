"""Compiles android_demo's Kotlin and its JUnit tests with kotlinc, once per test session.

The app's logic compiles against compile-only stubs of the LiteRT and ONNX Runtime classes it
uses; its UI against stubs of the Android SDK classes it uses and an R class made from its
resources. One
kotlinc run does all (each run costs 10-40 s). The output is cached in a directory of this test
session (session_root), keyed by a hash of every input, behind a file lock: with pytest-xdist
the first worker compiles and the others reuse its output.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.demos._tools import REPO, jar, java_tool, kotlin_home

APP = REPO / "android_demo" / "app" / "src"
MAIN_SOURCES = APP / "main" / "java"
TEST_SOURCES = APP / "test" / "java"
RESOURCES = APP / "main" / "res"
HERE = Path(__file__).resolve().parent
LITERT_STUBS = HERE / "litert_stubs"
ORT_STUBS = HERE / "ort_stubs"
ANDROID_STUBS = HERE / "android_stubs"
PACKAGE = "com.kestrel.fashiondemo"
TEST_CLASSES = (
    "PreprocessTest",
    "ClassifierTest",
    "OnnxClassifierTest",
    "BackendsTest",
    "ContractTest",
)


class KotlinCompileError(AssertionError):
    """kotlinc or javac rejected the sources; the message holds the compiler's diagnostics."""


@dataclass(frozen=True)
class KotlinBuild:
    classes: Path  # the app and its tests
    stubs: Path  # the compiled Android and LiteRT stubs and R
    runtime_classpath: tuple[Path, ...]
    java: str

    def junit(
        self, test_classes: tuple[str, ...], properties: dict[str, str]
    ) -> subprocess.CompletedProcess:
        classpath = ":".join(map(str, (self.classes, self.stubs, *self.runtime_classpath)))
        flags = [f"-D{key}={value}" for key, value in properties.items()]
        command = [self.java, *flags, "-cp", classpath, "org.junit.runner.JUnitCore"]
        names = [f"{PACKAGE}.{name}" for name in test_classes]
        return subprocess.run([*command, *names], capture_output=True, text=True, timeout=120)


def session_root(tmp_path_factory) -> Path:
    """A directory shared by this test session's xdist workers, and by nothing else.

    Under xdist each worker's base temp is ``pytest-N/popen-gwK``, so ``pytest-N`` is shared by
    the session's workers; without xdist the base temp itself is the session's own.
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def android_free_sources() -> list[Path]:
    """The app's Kotlin files that name nothing in android.* (the logic the JUnit tests cover)."""
    return sorted(
        path
        for path in MAIN_SOURCES.rglob("*.kt")
        if not re.search(r"\bandroid\.\w", path.read_text(encoding="utf-8"))
    )


def build(cache_root: Path) -> KotlinBuild:
    """Every app source and the JUnit tests, in one kotlinc run (it costs 10-40 s a run)."""
    home = kotlin_home()
    java, javac = java_tool("java"), java_tool("javac")
    junit = jar("junit4.jar", "junit.jar")
    hamcrest = jar("hamcrest.jar", "hamcrest-core.jar", "hamcrest-all.jar")
    kotlin_sources = sorted(MAIN_SOURCES.rglob("*.kt")) + sorted(TEST_SOURCES.rglob("*.kt"))
    stub_sources = [
        path
        for stubs in (ANDROID_STUBS, LITERT_STUBS, ORT_STUBS)
        for path in sorted(stubs.rglob("*.java"))
    ]
    resources = sorted(RESOURCES.rglob("*.xml"))
    out = _output_dir(cache_root, home, kotlin_sources + stub_sources + resources)
    stdlib = home / "lib" / "kotlin-stdlib.jar"
    result = KotlinBuild(out / "classes", out / "stubs", (stdlib, junit, hamcrest), java)

    def compile_all() -> None:
        r_java = out / "gen" / PACKAGE.replace(".", "/") / "R.java"
        r_java.parent.mkdir(parents=True, exist_ok=True)
        r_java.write_text(r_class_source())
        sources = [*map(str, stub_sources), str(r_java)]
        _run(
            [javac, "-d", str(result.stubs), *sources],
            "javac (Android, LiteRT and ONNX Runtime stubs, R)",
        )
        _kotlinc(home, (result.stubs, junit, hamcrest), result.classes, kotlin_sources)

    _once(out, compile_all)
    return result


def r_class_source() -> str:
    """An R class with the ids, layouts and strings the app's resources declare (as aapt2 would)."""
    ids, strings = set(), set()
    for path in RESOURCES.rglob("*.xml"):
        text = path.read_text(encoding="utf-8")
        ids |= set(re.findall(r'"@\+id/(\w+)"', text))
        strings |= set(re.findall(r'<string\s+name="(\w+)"', text))
    layouts = {p.stem for p in (RESOURCES / "layout").glob("*.xml")}

    def block(kind: str, names: set[str]) -> str:
        fields = "".join(
            f"        public static final int {name} = 0x7f{i:06x};\n"
            for i, name in enumerate(sorted(names), start=1)
        )
        return f"    public static final class {kind} {{\n{fields}    }}\n"

    body = block("id", ids) + block("layout", layouts) + block("string", strings)
    return f"package {PACKAGE};\n\npublic final class R {{\n{body}}}\n"


def _output_dir(cache_root: Path, home: Path, inputs: list[Path]) -> Path:
    digest = hashlib.sha256(str(home.resolve()).encode())
    for path in inputs:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return cache_root / f"kotlin-{digest.hexdigest()[:16]}"


def _once(out: Path, compile_all: Callable[[], None]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # A failure is cached too, so that a second xdist worker reports it without recompiling.
        if (out / "error").exists():
            raise KotlinCompileError((out / "error").read_text())
        if (out / "ok").exists():
            return
        try:
            compile_all()
        except KotlinCompileError as error:
            (out / "error").write_text(str(error))
            raise
        (out / "ok").write_text("compiled\n")


def _kotlinc(home: Path, classpath: tuple[Path, ...], out: Path, sources: list[Path]) -> None:
    command = [str(home / "bin" / "kotlinc"), "-nowarn", "-jvm-target", "17"]
    command += ["-cp", ":".join(map(str, classpath)), "-d", str(out), *map(str, sources)]
    _run(command, "kotlinc")


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        raise KotlinCompileError(f"{what} failed (exit {done.returncode}):\n{output}")
