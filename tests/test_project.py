"""House rules that keep the project honest, checked on every run."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_runtime_never_imports_compiler():
    # The runtime is the independent check of the compiler's output (DESIGN.md, rule 1).
    offenders = []
    for path in (ROOT / "runtime").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno}"
                for n in names
                if n == "compiler" or n.startswith("compiler.")
            ]
    assert not offenders, f"runtime imports compiler at {offenders}"
