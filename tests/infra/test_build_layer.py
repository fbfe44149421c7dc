"""The layer build: exactly the locked versions, bytecode of the runtime's Python only, no test suites."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra import build_layer, constants

pytestmark = pytest.mark.infra

TAG = f"cpython-{constants.PYTHON_VERSION.replace('.', '')}"


def _project() -> dict[str, list[str]]:
    with (constants.REPO_ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    return {"runtime": project["dependencies"], "dev": project["optional-dependencies"]["dev"]}


def _pinned(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"pyproject.toml pins exactly: {line}"
        pins[build_layer.normalize(requirement.name)] = specifier.version
    return pins


def test_the_runtime_lock_pins_every_runtime_dependency_at_its_version() -> None:
    locked = build_layer.lock_pins(constants.RUNTIME_LOCK)

    for name, version in _pinned(_project()["runtime"]).items():
        assert locked.get(name) == version, f"{name}: run `make lock`"


def test_the_dev_lock_holds_the_runtime_lock_and_every_dev_dependency() -> None:
    locked = build_layer.lock_pins(constants.DEV_LOCK)
    project = _project()
    expected = build_layer.lock_pins(constants.RUNTIME_LOCK) | _pinned(project["dev"])

    assert {name: locked.get(name) for name in expected} == expected, "run `make lock`"


def test_stamp_changes_with_the_lock_or_the_python_version() -> None:
    lock = "pydantic==2.0.0 --hash=sha256:00"
    other_python = build_layer.Target("3.13", build_layer.LAMBDA.pip_args, ("python3.13",), compiles_at_mount=False)

    assert build_layer.stamp(lock) == build_layer.stamp("pydantic==2.0.0 --hash=sha256:00")
    assert build_layer.stamp(lock) != build_layer.stamp("pydantic==2.0.0 --hash=sha256:01")
    assert build_layer.stamp(lock) != build_layer.stamp(lock, other_python)


def test_the_layer_holds_exactly_the_locked_versions(layer: Path) -> None:
    installed = {}
    for dist_info in (layer / "python").glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").split("-")
        installed[build_layer.normalize(name)] = version

    assert installed == build_layer.lock_pins(constants.RUNTIME_LOCK)


def test_every_module_has_bytecode_of_the_runtime_python_only(layer: Path) -> None:
    site = layer / "python"
    sources = list(site.rglob("*.py"))
    missing = [s for s in sources if not (s.parent / "__pycache__" / f"{s.stem}.{TAG}.pyc").is_file()]
    bytecode = list(site.rglob("*.pyc"))
    headers = {pyc.read_bytes()[:8] for pyc in bytecode}

    assert sources and not missing, missing[:5]
    assert all(pyc.name.endswith(f".{TAG}.pyc") and pyc.parent.name == "__pycache__" for pyc in bytecode)
    assert len(bytecode) == len(sources)
    assert (site / "common" / "__pycache__" / f"__init__.{TAG}.pyc").is_file()
    # One interpreter's magic number; flags 0b01: hash-based and never checked against the source.
    (header,) = headers
    assert header[4:8] == (1).to_bytes(4, "little")


def test_no_test_suites_or_console_scripts_are_shipped(layer: Path) -> None:
    site = layer / "python"

    assert not [folder for folder in site.rglob("*") if folder.is_dir() and folder.name in build_layer.TEST_FOLDERS]
    assert not (site / "bin").exists()
