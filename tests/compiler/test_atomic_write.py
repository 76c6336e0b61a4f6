"""compiler._outputs.atomic_write, the package's one atomic file writer (used by write_all, the
app bundle and .keras saving): the file appears whole or not at all, with the mode open() would
give it, and leaves no temporary behind."""

import os
import stat
import subprocess
import sys

import pytest

from compiler._outputs import atomic_write

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "a.bin"
    atomic_write(target, lambda handle: handle.write(b"one"))
    atomic_write(target, lambda handle: handle.write(b"two"))
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_a_failing_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"before")

    def fail(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, fail)
    assert target.read_bytes() == b"before"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_a_directory_target_is_an_os_error(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        atomic_write(tmp_path / "d", lambda handle: handle.write(b"x"))
    assert os.listdir(tmp_path) == ["d"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_mode_follows_the_umask(tmp_path, umask, mode):
    # In a child process: the umask is process-wide, and the test must not change this one's.
    target = tmp_path / "f.bin"
    code = (
        "import os, sys\n"
        f"os.umask({umask})\n"
        "from compiler._outputs import atomic_write\n"
        "atomic_write(sys.argv[1], lambda handle: handle.write(b'x'))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(target)], check=True, cwd=ROOT)
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
