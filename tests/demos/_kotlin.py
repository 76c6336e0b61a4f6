"""Compiles android_demo's Android-free Kotlin and its JUnit tests with kotlinc, once.

The compiled classes are cached under pytest's shared temporary root, keyed by a hash of every
input, behind a file lock: with pytest-xdist the first worker compiles (20-40 s) and the others
reuse its output.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.demos._tools import REPO, jar, java_tool, kotlin_home

APP = REPO / "android_demo" / "app" / "src"
MAIN_SOURCES = APP / "main" / "java"
TEST_SOURCES = APP / "test" / "java"
STUBS = Path(__file__).resolve().parent / "litert_stubs"
PACKAGE = "com.kestrel.fashiondemo"
TEST_CLASSES = ("PreprocessTest", "ClassifierTest", "ContractTest")


@dataclass(frozen=True)
class KotlinBuild:
    classes: Path  # the app's Android-free code and its tests
    stubs: Path  # the compiled LiteRT API stubs
    runtime_classpath: tuple[Path, ...]
    java: str

    def junit(self, test_class: str, properties: dict[str, str]) -> subprocess.CompletedProcess:
        classpath = ":".join(map(str, (self.classes, self.stubs, *self.runtime_classpath)))
        flags = [f"-D{key}={value}" for key, value in properties.items()]
        command = [
            self.java,
            *flags,
            "-cp",
            classpath,
            "org.junit.runner.JUnitCore",
            f"{PACKAGE}.{test_class}",
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)


def android_free_sources() -> list[Path]:
    """The app's Kotlin files that import nothing from android.* (the testable logic)."""
    return sorted(
        path
        for path in MAIN_SOURCES.rglob("*.kt")
        if "import android." not in path.read_text(encoding="utf-8")
    )


def build(cache_root: Path) -> KotlinBuild:
    home = kotlin_home()
    java, javac = java_tool("java"), java_tool("javac")
    junit = jar("junit4.jar", "junit.jar")
    hamcrest = jar("hamcrest.jar", "hamcrest-core.jar", "hamcrest-all.jar")
    stdlib = home / "lib" / "kotlin-stdlib.jar"
    kotlin_sources = android_free_sources() + sorted(TEST_SOURCES.rglob("*.kt"))
    stub_sources = sorted(STUBS.rglob("*.java"))

    digest = hashlib.sha256(str(home.resolve()).encode())
    for path in kotlin_sources + stub_sources:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    out = cache_root / f"kotlin-{digest.hexdigest()[:16]}"
    result = KotlinBuild(out / "classes", out / "stubs", (stdlib, junit, hamcrest), java)

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # A failure is cached too, so that a second xdist worker reports it without recompiling.
        if (out / "error").exists():
            raise KotlinCompileError((out / "error").read_text())
        if not (out / "ok").exists():
            try:
                _run([javac, "-d", str(result.stubs), *map(str, stub_sources)], "javac (stubs)")
                classpath = ":".join(map(str, (result.stubs, junit, hamcrest)))
                _run(
                    [
                        str(home / "bin" / "kotlinc"),
                        "-nowarn",
                        "-jvm-target",
                        "17",
                        "-cp",
                        classpath,
                        "-d",
                        str(result.classes),
                        *map(str, kotlin_sources),
                    ],
                    "kotlinc",
                )
            except KotlinCompileError as error:
                (out / "error").write_text(str(error))
                raise
            (out / "ok").write_text("compiled\n")
    return result


class KotlinCompileError(AssertionError):
    """kotlinc or javac rejected the sources; the message holds the compiler's diagnostics."""


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        raise KotlinCompileError(f"{what} failed (exit {done.returncode}):\n{output}")
