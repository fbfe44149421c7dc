"""Build the common Lambda layer into .build/layer/python without Docker.

pip resolves the run-time dependencies of pyproject.toml as manylinux aarch64 wheels for the Lambda
runtime's Python version, so the layer matches the arm64 functions whatever machine builds it. The
`common` package is copied in on every run; the pip step is skipped while the dependency list and the
Python version are unchanged.

Run with `python -m infra.build_layer` (or `make layer`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.constants import COMMON_PACKAGE_DIR, LAYER_DIR, PYTHON_VERSION, REPO_ROOT

PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
SITE_DIR = LAYER_DIR / "python"
# Kept outside the asset folder so it does not become part of the layer.
STAMP_FILE = LAYER_DIR.parent / "layer.stamp"


def runtime_dependencies(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    with pyproject.open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def stamp(dependencies: list[str], python_version: str = PYTHON_VERSION) -> str:
    payload = json.dumps({"dependencies": dependencies, "python": python_version, "platforms": PLATFORMS})
    return hashlib.sha256(payload.encode()).hexdigest()


def install_dependencies(dependencies: list[str], target: Path) -> None:
    platform_args = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # bytecode compiled here would be for the wrong Python version
        *platform_args,
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--target",
        str(target),
        *dependencies,
    ]
    subprocess.run(command, check=True)  # noqa: S603 - fixed arguments, no shell
    # Console scripts carry this machine's interpreter path and cannot run in Lambda.
    shutil.rmtree(target / "bin", ignore_errors=True)


def copy_common_package(target: Path) -> None:
    destination = target / COMMON_PACKAGE_DIR.name
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(COMMON_PACKAGE_DIR, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def build_layer() -> Path:
    dependencies = runtime_dependencies()
    wanted = stamp(dependencies)
    current = STAMP_FILE.read_text().strip() if STAMP_FILE.exists() else ""
    if wanted != current or not SITE_DIR.is_dir():
        print(f"building layer for Python {PYTHON_VERSION} (arm64) into {SITE_DIR.relative_to(REPO_ROOT)}")
        shutil.rmtree(LAYER_DIR, ignore_errors=True)
        SITE_DIR.mkdir(parents=True)
        STAMP_FILE.unlink(missing_ok=True)
        install_dependencies(dependencies, SITE_DIR)
        STAMP_FILE.write_text(wanted + "\n")
    else:
        print("layer dependencies unchanged; refreshing the common package")
    copy_common_package(SITE_DIR)
    return LAYER_DIR


if __name__ == "__main__":
    build_layer()
