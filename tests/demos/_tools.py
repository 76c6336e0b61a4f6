"""Where the demo tests find their tools, and what they do when one is missing.

Locally a missing tool skips the test that needs it; under CI it fails, so a CI machine without
the tools cannot pass by skipping (``tests._oracles`` decides). ``.ci/install_demo_tools.sh``
installs them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import _oracles as oracles
from tests.fixtures import KERAS3

REPO = Path(__file__).resolve().parents[2]
FIXTURES = KERAS3
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
JAVA_DIR = Path("/usr/share/java")
INSTALL_HINT = "run .ci/install_demo_tools.sh (as root)"


def missing(what: str) -> None:
    """Fails under CI, skips elsewhere."""
    oracles.missing(what, INSTALL_HINT)


def kotlin_home() -> Path:
    """JetBrains' Kotlin 2.x distribution (npm ``kotlin-compiler``), never Debian's 1.3."""
    candidates = [REPO / ".tools" / "node_modules" / "kotlin-compiler"]
    if os.environ.get("KOTLIN_HOME"):
        candidates.insert(0, Path(os.environ["KOTLIN_HOME"]))
    for home in candidates:
        if (home / "bin" / "kotlinc").is_file() and (home / "lib" / "kotlin-stdlib.jar").is_file():
            return home
    missing(f"the Kotlin compiler (looked in {', '.join(map(str, candidates))})")


def java_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"`{name}` (a JDK)")
    return path


def jar(*names: str) -> Path:
    """The first of ``names`` under /usr/share/java (Debian's junit4, libhamcrest-java)."""
    for name in names:
        if (JAVA_DIR / name).is_file():
            return JAVA_DIR / name
    missing(f"{' or '.join(names)} under {JAVA_DIR}")


def fixture(name: str) -> Path:
    """A committed fixture; one that is gone is a broken checkout, never a reason to skip."""
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"fixture {path} is missing: remake it with tests/fixtures/make_fixtures.py")
    return path


def litert_reference_class():
    """LiteRT's Interpreter with its reference kernels: the bit-exact int8 oracle."""
    litert = oracles.require("ai_edge_litert.interpreter", oracles.LITERT)
    Interpreter, OpResolverType = litert.Interpreter, litert.OpResolverType

    def litert_reference(model_content: bytes):
        return Interpreter(
            model_content=model_content,
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        )

    return litert_reference
