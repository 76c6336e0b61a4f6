"""``compile ... | head``: a reader that leaves early ends the command quietly, as for any Unix
filter (status 1, nothing on stderr), instead of a BrokenPipeError traceback."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import KERAS3

FIXTURES = KERAS3


def _piped_into_head(args: list[str], tmp_path: Path) -> tuple[str, int, str]:
    """Runs the command after ``echo first`` in a pipe into ``head -1``: head prints that line
    and exits before the command (which takes hundreds of ms to import and run) writes."""
    command = shlex.join([sys.executable, "-m", "compiler.cli", *args])
    err, rc = tmp_path / "stderr", tmp_path / "rc"
    script = f"{{ echo first; {command} 2>{shlex.quote(str(err))}; echo $? >{rc}; }} | head -1"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    return done.stdout, int(rc.read_text()), err.read_text()


@pytest.mark.parametrize(
    "args",
    [
        [str(FIXTURES / "slide_cnn.keras"), "--report"],
        ["verify", str(FIXTURES / "mlp_multi.int8.tflite")],
    ],
    ids=["compile", "verify"],
)
def test_reader_gone_early_is_no_traceback(args, tmp_path):
    if args[0] != "verify":
        args = [*args, "-o", str(tmp_path / "out")]
    out, code, err = _piped_into_head(args, tmp_path)
    assert out == "first\n"
    assert err == ""
    assert code == 1


def test_full_reader_still_gets_everything(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "verify", str(FIXTURES / "mlp_multi.int8.tflite")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("inputs: random") and "LiteRT (ref)" in done.stdout
