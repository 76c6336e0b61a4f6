"""The demo apps' build files name only the versions their dependency manifests list, and meet
every requirement those versions declare (android_demo/dependencies.json,
ios_demo/dependencies.json; each entry says where its requirements were read)."""

from __future__ import annotations

import json
import re

from tests.demos._tools import REPO, missing

ANDROID = REPO / "android_demo"
IOS = REPO / "ios_demo"


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def manifest(app) -> dict:
    return json.loads((app / "dependencies.json").read_text())


def by_name(entries: list[dict], key: str) -> dict[str, dict]:
    return {entry[key]: entry for entry in entries if key in entry}


def gradle_int(setting: str) -> int:
    app = (ANDROID / "app/build.gradle.kts").read_text()
    found = re.findall(rf"^\s*{setting}\s*=\s*(\d+)\s*$", app, flags=re.M)
    assert len(found) == 1, f"app/build.gradle.kts must set {setting} once. Found: {found}"
    return int(found[0])


def test_every_android_library_in_the_build_is_in_the_manifest_with_its_version():
    app = (ANDROID / "app/build.gradle.kts").read_text()
    used = dict(
        re.findall(
            r'(?:implementation|testImplementation)\("([\w.\-]+:[\w.\-]+):([\w.\-]+)"\)', app
        )
    )
    listed = {
        d["coordinate"]: d["version"]
        for d in manifest(ANDROID)["dependencies"]
        if d["declared_in"] == "app/build.gradle.kts"
    }
    assert used == listed


def test_agp_and_gradle_versions_are_the_manifests_and_gradle_is_new_enough():
    deps = by_name(manifest(ANDROID)["dependencies"], "coordinate")
    agp = deps["com.android.application"]
    root = (ANDROID / "build.gradle.kts").read_text()
    assert re.search(
        rf'id\("com\.android\.application"\) version "{re.escape(agp["version"])}"', root
    )
    wrapper = (ANDROID / "gradle/wrapper/gradle-wrapper.properties").read_text()
    gradle = re.search(r"gradle-([\d.]+)-bin\.zip", wrapper).group(1)
    assert gradle == deps["gradle"]["version"]
    assert version(gradle) >= version(agp["requires"]["gradle"])


def test_sdk_levels_meet_every_declared_requirement():
    data = manifest(ANDROID)
    min_sdk, compile_sdk, target_sdk = (
        gradle_int(s) for s in ("minSdk", "compileSdk", "targetSdk")
    )
    assert (min_sdk, compile_sdk, target_sdk) == (
        data["app"]["minSdk"],
        data["app"]["compileSdk"],
        data["app"]["targetSdk"],
    )
    declared = [d["requires"]["minSdk"] for d in data["dependencies"] if "minSdk" in d["requires"]]
    assert declared, "no dependency declares a minSdk: the manifest lost LiteRT's"
    assert min_sdk >= max(declared), f"minSdk {min_sdk} < a dependency's {max(declared)}"
    agp = by_name(data["dependencies"], "coordinate")["com.android.application"]
    assert min_sdk <= target_sdk <= compile_sdk <= agp["requires"]["max_compileSdk"]


def test_litert_declares_min_sdk_24_so_23_would_be_refused():
    # The failure issue 20 reported: minSdk 23 with LiteRT 2.x fails the manifest merger.
    litert = by_name(manifest(ANDROID)["dependencies"], "coordinate")[
        "com.google.ai.edge.litert:litert"
    ]
    assert litert["version"].startswith("2.") and litert["requires"]["minSdk"] == 24


def test_java_target_is_the_jdk_the_tools_require():
    data = manifest(ANDROID)
    app = (ANDROID / "app/build.gradle.kts").read_text()
    targets = set(re.findall(r"JavaVersion\.VERSION_(\d+)", app))
    assert targets == {str(data["app"]["jvmTarget"])}
    jdks = [d["requires"]["jdk"] for d in data["dependencies"] if "jdk" in d["requires"]]
    assert data["app"]["jvmTarget"] >= max(jdks)
    readme = (ANDROID / "README.md").read_text()
    assert f"JDK {max(jdks)}" in readme


def test_every_entry_says_where_it_was_read():
    for app in (ANDROID, IOS):
        for entry in manifest(app)["dependencies"]:
            assert entry["source"].strip() and isinstance(entry["verified"], bool), entry
            assert isinstance(entry["requires"], dict)


def _podfile() -> str:
    return (IOS / "Podfile").read_text()


def test_every_pod_is_in_the_manifest_with_its_version():
    pods = dict(re.findall(r"^\s*pod '([\w\-]+)', '([\d.]+)'", _podfile(), flags=re.M))
    listed = {d["pod"]: d["version"] for d in manifest(IOS)["dependencies"] if "pod" in d}
    assert pods == listed


def test_ios_deployment_target_meets_every_pod_and_matches_project_yml():
    try:
        import yaml
    except ImportError:
        missing("PyYAML (pip, the test extra)")
    data = manifest(IOS)
    platform = re.search(r"^platform :ios, '([\d.]+)'", _podfile(), flags=re.M).group(1)
    spec = yaml.safe_load((IOS / "project.yml").read_text())
    assert (
        platform
        == spec["options"]["deploymentTarget"]["iOS"]
        == data["app"]["ios_deployment_target"]
    )
    for entry in data["dependencies"]:
        if "ios" in entry["requires"]:
            assert version(platform) >= version(entry["requires"]["ios"]), entry["name"]


def test_onnx_runtime_is_bridged_as_its_documentation_says():
    try:
        import yaml
    except ImportError:
        missing("PyYAML (pip, the test extra)")
    spec = yaml.safe_load((IOS / "project.yml").read_text())
    header = spec["targets"]["FashionDemo"]["settings"]["base"]["SWIFT_OBJC_BRIDGING_HEADER"]
    assert "#import <onnxruntime.h>" in (IOS / header).read_text()
