"""The layer build: what it installs and when it skips pip."""

from __future__ import annotations

import tomllib

import pytest

from infra import build_layer, constants

pytestmark = pytest.mark.infra


def test_installs_exactly_the_run_time_dependencies() -> None:
    with (constants.REPO_ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]

    assert build_layer.runtime_dependencies() == project["dependencies"]


def test_stamp_changes_with_the_dependencies_or_the_python_version() -> None:
    dependencies = ["pydantic==2.0.0"]

    assert build_layer.stamp(dependencies) == build_layer.stamp(list(dependencies))
    assert build_layer.stamp(dependencies) != build_layer.stamp(["pydantic==2.0.1"])
    assert build_layer.stamp(dependencies, "3.13") != build_layer.stamp(dependencies, "3.14")
