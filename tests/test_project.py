"""House rules that keep the project honest, checked on every run."""

import ast
import re
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


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    pytest_commands = [line for b in blocks for line in b.splitlines() if "pytest" in line]
    assert pytest_commands, "README.md names no test command"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert pytest_commands[0].strip() in ci_lines


def test_readme_main_job_script_exists():
    readme = (ROOT / "README.md").read_text()
    first_block = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)[0]
    scripts = re.findall(r"python3 (\S+\.py)", first_block)
    assert scripts and all((ROOT / s).is_file() for s in scripts), scripts
