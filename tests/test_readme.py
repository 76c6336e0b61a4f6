"""The READMEs' code runs, so it cannot drift from the project.

Every fenced block of README.md, android_demo/README.md and ios_demo/README.md is ``python`` or
``sh``. Python blocks run as written, each in a fresh interpreter, in a temporary directory that
stands for the repository root, on a small generated Fashion-MNIST that the loader finds through
``$KERAS_FASHION_MNIST_DIR`` (as the README's Data section says). The shell commands this
machine can run (``compile``) run there too, in document order. The others install packages,
are CI itself, or need Android Studio or a Mac: they are checked against the repository (the
files, names and extras they use exist; the test command is the line ``.ci/run`` runs). A
command this file does not know fails the test, so a new snippet cannot go unchecked.
"""

import gzip
import os
import re
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = ("README.md", "android_demo/README.md", "ios_demo/README.md")
CI_RUN = ROOT / ".ci" / "run"
TIMEOUT = 600


def blocks(readme: str) -> list[tuple[str, str]]:
    """``(language, text)`` of every fenced block, in document order."""
    text = (ROOT / readme).read_text()
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def commands(block: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and blanks dropped,
    ``a && b`` split."""
    joined = re.sub(r"\\\n\s*", " ", block)
    found = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            found += [part.strip() for part in line.split("&&")]
    return found


def pyproject_text() -> str:
    return (ROOT / "pyproject.toml").read_text()


def readme_test_command() -> str:
    lines = [c for _, b in blocks("README.md") if _ == "sh" for c in b.splitlines()]
    found = [line.strip() for line in lines if "pytest" in line]
    assert len(found) == 1, f"README.md must name one test command; found {found}"
    return found[0]


# ---------------------------------------------------------------- commands checked, not run
def _check_apt(args, cwd):
    if args[1] == "update":
        return
    assert args[1:3] == ["install", "-y"], args
    setup = CI_RUN.read_text() + (ROOT / ".ci" / "install_demo_tools.sh").read_text()
    for package in args[3:]:
        assert package in setup, f"{package} is not what .ci/run installs"


def _check_venv(args, cwd):
    assert args == ["python3", "-m", "venv", ".venv"], args
    assert "/.venv/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "-m venv .venv" in CI_RUN.read_text()


def _check_pip(args, cwd):
    assert args[:3] == [".venv/bin/pip", "install", "-e"], args
    extra = re.fullmatch(r"\.\[(\w+)\]", args[3]).group(1)
    assert re.search(rf"^{extra} = \[", pyproject_text(), flags=re.M), f"no extra {extra!r}"


def _check_script(args, cwd):
    assert args[0] == ".venv/bin/python", args
    assert (ROOT / args[1]).is_file(), args  # test_main_job_runs runs it


def _check_ci(args, cwd):
    assert args == ["bash", ".ci/run"] and CI_RUN.is_file(), args


def _check_test_command(args, cwd):
    line = shlex.join(args)
    assert line == readme_test_command()
    assert line in [ci_line.strip() for ci_line in CI_RUN.read_text().splitlines()]


def _check_cd(args, cwd):
    assert (ROOT / args[1]).is_dir(), args
    return args[1]


def _check_gradle(args, cwd):
    app = ROOT / cwd
    if args[0] == "gradle":
        assert args[1:] == ["wrapper", "--gradle-version", args[3]], args
        wrapper = (app / "gradle/wrapper/gradle-wrapper.properties").read_text()
        assert f"gradle-{args[3]}-bin.zip" in wrapper
        return
    module, task = re.fullmatch(r":(\w+):(\w+)", args[1]).groups()
    assert f'include(":{module}")' in (app / "settings.gradle.kts").read_text()
    assert (app / module / "build.gradle.kts").is_file() and task, args


def _check_adb(args, cwd):
    app = ROOT / cwd
    build = (app / "app/build.gradle.kts").read_text()
    package = re.search(r'applicationId = "([\w.]+)"', build).group(1)
    if args[1] == "install":
        assert args[2:] == ["-r", "app/build/outputs/apk/debug/app-debug.apk"], args
        return
    assert args[1:4] == ["shell", "am", "start"] and args[4] == "-n", args
    component_package, activity = args[5].split("/")
    assert component_package == package
    manifest = (app / "app/src/main/AndroidManifest.xml").read_text()
    assert f'android:name="{activity}"' in manifest
    source_dir = app / "app/src/main/java" / package.replace(".", "/")
    assert (source_dir / f"{activity.lstrip('.')}.kt").is_file()


def _check_xcode(args, cwd):
    app = ROOT / cwd
    spec = (app / "project.yml").read_text()
    name = re.search(r"^name: (\w+)$", spec, flags=re.M).group(1)
    if args[0] == "xcodegen":
        assert args[1:] == ["generate"]
    elif args[0] == "pod":
        assert args[1:] == ["install"] and f"target '{name}'" in (app / "Podfile").read_text()
    elif args[0] == "open":
        assert args[1:] == [f"{name}.xcworkspace"]
    else:
        options = dict(zip(args[2::2], args[3::2]))
        assert args[1] == "test" and options["-workspace"] == f"{name}.xcworkspace"
        assert re.search(rf"^schemes:\n  {options['-scheme']}:$", spec, flags=re.M)


CHECKED = {
    "apt-get": _check_apt,
    "python3": _check_venv,
    ".venv/bin/pip": _check_pip,
    ".venv/bin/python": _check_script,
    "bash": _check_ci,
    "KERAS_BACKEND=jax": _check_test_command,
    "cd": _check_cd,
    "gradle": _check_gradle,
    "./gradlew": _check_gradle,
    "adb": _check_adb,
    "xcodegen": _check_xcode,
    "pod": _check_xcode,
    "open": _check_xcode,
    "xcodebuild": _check_xcode,
}
RUN = ("compile",)  # installed by the project: run in the temporary directory


@pytest.mark.parametrize("readme", READMES)
def test_every_block_is_python_or_sh_and_every_command_is_known(readme):
    found = blocks(readme)
    assert found, f"{readme} has no code blocks"
    languages = {language for language, _ in found}
    assert languages <= {"python", "sh"}, f"{readme}: blocks in {languages}"
    cwd = "."
    for language, block in found:
        if language != "sh":
            continue
        for command in commands(block):
            args = shlex.split(command)
            if args[0] in RUN:
                continue
            assert args[0] in CHECKED, f"{readme}: no test runs or checks {command!r}"
            cwd = CHECKED[args[0]](args, cwd) or cwd


def test_ci_makes_the_venv_with_debian_python_and_lints():
    ci = CI_RUN.read_text()
    for needed in (
        "/usr/bin/python3",
        "python3-venv",
        "dataset-fashion-mnist",
        'pip install -q --disable-pip-version-check -e ".[test]"',
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        'if [ "$status" -eq 5 ]',
    ):
        assert needed in ci, needed
    assert readme_test_command().startswith("KERAS_BACKEND=jax ")
    test_extra = re.search(r"^test = \[(.*?)^\]", pyproject_text(), flags=re.S | re.M).group(1)
    for oracle in ("ai-edge-litert", "onnxruntime", "onnx", "keras", "jax", "jaxlib", "ruff"):
        assert re.search(rf'"{oracle}==[\d.]+"', test_extra), f"{oracle} is not pinned"


# ---------------------------------------------------------------- running the snippets
def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def small_fashion_mnist(directory: Path, train=600, test=200) -> Path:
    """A learnable stand-in for Fashion-MNIST: class c lights rows 2c+4 .. 2c+6 (light on
    dark, like the real images), under noise; every class in both splits."""
    rng = np.random.default_rng(19)
    directory.mkdir()
    for split, count in (("train", train), ("t10k", test)):
        labels = np.arange(count) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, (count, 28, 28))
        for image, label in zip(images, labels):
            image[2 * label + 4 : 2 * label + 7, 4:24] += 180
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    data = small_fashion_mnist(tmp_path_factory.mktemp("data") / "fashion-mnist")
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "KERAS_FASHION_MNIST_DIR": str(data),
        "OPENBLAS_NUM_THREADS": "1",
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
    }


def run(args, cwd, env, what) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def run_python(block: str, cwd: Path, env) -> str:
    return run([sys.executable, "-c", block], cwd, env, f"python block\n{block}")


@pytest.fixture(scope="module")
def main_job(tmp_path_factory, env):
    """The main job, run as the README says from a stand-in repository root, on small data."""
    root = tmp_path_factory.mktemp("repo")
    (root / "android_demo").mkdir()
    (root / "ios_demo").mkdir()
    script = ROOT / "examples" / "slide_cnn_to_apps.py"
    options = ["--epochs", "1", "--calibration-size", "300", "--out", "build"]
    options += ["--android-dir", "android_demo", "--ios-dir", "ios_demo"]
    out = run([sys.executable, str(script), *options], root, env, "the main job")
    return root, out


def test_main_job_runs_and_its_log_is_one_line_per_step(main_job):
    root, out = main_job
    for name in ("slide_cnn.keras", "slide_cnn.int8.tflite", "slide_cnn.int8.onnx"):
        assert (root / "build" / name).is_file(), name
    assert "\r" not in out  # not a terminal: no redrawn bars
    epoch = r"^\d+/\d+ - \d+s - \d+(us|ms|s)/step - accuracy: .* - val_loss: \d\.\d{4}$"
    assert re.search(epoch, out, flags=re.M), out
    assert "compiling to int8 (calibration on 300 training images)" in out
    measured = re.search(r"first (\d+) of the 300 calibration images", out)
    assert measured and f"quantization report ({measured.group(1)} calibration samples)" in out
    assert "bit-exact on 200 images" in out
    for app_file in (
        "android_demo/app/src/main/assets/slide_cnn.int8.tflite",
        "android_demo/app/src/main/assets/contract.json",
        "ios_demo/FashionDemo/DemoAssets/slide_cnn.int8.onnx",
        "ios_demo/FashionDemoTests/golden.json",
    ):
        assert f"  wrote {app_file}\n" in out and (root / app_file).is_file(), app_file


@pytest.mark.parametrize("readme", ["android_demo/README.md", "ios_demo/README.md"])
def test_demo_readmes_bundle_the_files_the_main_job_wrote(main_job, env, readme):
    root, _ = main_job
    contract = root / "android_demo/app/src/main/assets/contract.json"
    contract.unlink()
    python = [block for language, block in blocks(readme) if language == "python"]
    assert len(python) == 1
    run_python(python[0], root, env)
    assert '"file": "slide_cnn.int8.tflite"' in contract.read_text()


def test_readme_snippets_and_compile_commands_run_in_order(tmp_path, env):
    for language, block in blocks("README.md"):
        if language == "python":
            run_python(block, tmp_path, env)
        elif any(shlex.split(c)[0] in RUN for c in commands(block)):
            for command in commands(block):
                run(["bash", "-c", command], tmp_path, env, command)
    for name in ("cnn.keras", "calib.npz", "build/cnn.int8.tflite", "build/cnn.int8.onnx"):
        assert (tmp_path / name).is_file(), name
    for name in ("cnn.tflite", "cnn.onnx", "cnn.int8.tflite", "cnn.dynamic.onnx"):
        assert (tmp_path / name).is_file(), name
    with np.load(tmp_path / "calib.npz") as calibration:
        (key,) = calibration.files
        assert key == "input_layer" and calibration[key].dtype == np.float32
        assert calibration[key].shape == (500, 28, 28, 1) and calibration[key].max() <= 1
