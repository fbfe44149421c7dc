"""Build the common Lambda layer into .build/layer/python without Docker.

pip installs exactly the hash-pinned run-time lock (requirements/runtime.txt) as manylinux aarch64 wheels for
the Lambda runtime's Python version, so the layer matches the arm64 functions whatever machine builds it.
Test suites and console scripts are left out, and every module is compiled to bytecode by CPython of the
runtime's version (infra/runtime_python.mjs): Lambda mounts layers read-only, so bytecode that is missing
or stale would be compiled again on every cold start. The `common` package is copied in and compiled on
every run; pip is skipped while the lock, the target and this module are unchanged.

Run with `python -m infra.build_layer` (or `make layer`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.constants import COMMON_PACKAGE_DIR, LAYER_DIR, PYTHON_VERSION, REPO_ROOT, RUNTIME_LOCK

PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
# Where Lambda-bound bytecode is compiled (inside the runtime interpreter's own file system); the import
# system records the real location when it loads a module, so the name only has to be stable.
COMPILE_MOUNT = "/layer/python"
# Hash-based and never checked against the source: the layer is immutable once deployed, and a zip keeps
# modification times only to two seconds, which would make timestamp-checked bytecode look stale.
COMPILEALL = ("-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash")
TEST_FOLDERS = ("tests", "test")


@dataclass(frozen=True)
class Target:
    """Where a layer runs: the wheels pip picks and the interpreter that compiles the bytecode."""

    python_version: str
    pip_args: tuple[str, ...]
    # The command of the compiling interpreter, and where it sees the site folder given as its argument.
    compiler: tuple[str, ...]
    compiles_at_mount: bool

    def compile_command(self, site: Path, subfolder: str = "") -> list[str]:
        if self.compiles_at_mount:
            return [*self.compiler, str(site), COMPILE_MOUNT, *COMPILEALL, f"{COMPILE_MOUNT}/{subfolder}".rstrip("/")]
        return [*self.compiler, *COMPILEALL, str(site / subfolder)]


LAMBDA = Target(
    python_version=PYTHON_VERSION,
    pip_args=(
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
    ),
    # `node` is the project's own (the Makefile puts node_modules/.bin first on PATH).
    compiler=("node", str(REPO_ROOT / "infra" / "runtime_python.mjs")),
    compiles_at_mount=True,
)


def host_target() -> Target:
    """A twin of the layer for this machine and its Python: the same lock and the same compile step, for
    measuring cold starts where the aarch64 extensions cannot load (bench/cold_init.py)."""
    return Target(
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        pip_args=(),
        compiler=(sys.executable,),
        compiles_at_mount=False,
    )


def lock_pins(lock: Path = RUNTIME_LOCK) -> dict[str, str]:
    """Normalized project name -> version of every `name==version` line of a lock."""
    pins = {}
    for line in lock.read_text().splitlines():
        requirement = line.split(";")[0].split("\\")[0].strip()
        if "==" in requirement and not requirement.startswith(("#", "-")):
            name, version = requirement.split("==")
            pins[normalize(name)] = version.strip()
    return pins


def normalize(name: str) -> str:
    """PEP 503 project name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def stamp(lock_text: str, target: Target = LAMBDA) -> str:
    """What the installed part of a layer depends on: the lock, the target and this build's own steps."""
    steps = Path(__file__).read_text()
    payload = json.dumps({"lock": lock_text, "python": target.python_version, "pip": target.pip_args, "steps": steps})
    return hashlib.sha256(payload.encode()).hexdigest()


def install_dependencies(target: Target, site: Path, lock: Path = RUNTIME_LOCK) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # compiled below, by the target's interpreter
        "--require-hashes",
        "--only-binary=:all:",
        *target.pip_args,
        "--target",
        str(site),
        "-r",
        str(lock),
    ]
    subprocess.run(command, check=True)  # noqa: S603 - fixed arguments, no shell


def strip(site: Path) -> None:
    """Leave out what never runs in Lambda: console scripts (they carry this machine's interpreter path),
    test suites and any bytecode a wheel brought along; and their lines in the install records, so the
    layer is the same whichever machine builds it."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for folder in sorted(site.rglob("*"), reverse=True):
        if folder.is_dir() and folder.name in (*TEST_FOLDERS, "__pycache__"):
            shutil.rmtree(folder)
    for record in site.glob("*.dist-info/RECORD"):
        with record.open(newline="") as file:
            rows = [row for row in csv.reader(file) if (site / row[0]).is_file()]
        with record.open("w", newline="") as file:
            csv.writer(file).writerows(rows)  # pip's own dialect


def copy_common_package(site: Path) -> None:
    destination = site / COMMON_PACKAGE_DIR.name
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(COMMON_PACKAGE_DIR, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def compile_bytecode(target: Target, site: Path, subfolder: str = "") -> None:
    subprocess.run(target.compile_command(site, subfolder), check=True)  # noqa: S603 - fixed arguments


def build_layer(layer_dir: Path = LAYER_DIR, target: Target = LAMBDA, lock: Path = RUNTIME_LOCK) -> Path:
    site = layer_dir / "python"
    # Kept outside the asset folder so it does not become part of the layer.
    stamp_file = layer_dir.with_name(f"{layer_dir.name}.stamp")
    wanted = stamp(lock.read_text(), target)
    current = stamp_file.read_text().strip() if stamp_file.exists() else ""
    rebuild = wanted != current or not site.is_dir()
    if rebuild:
        print(f"building layer for Python {target.python_version} into {layer_dir}")
        shutil.rmtree(layer_dir, ignore_errors=True)
        site.mkdir(parents=True)
        stamp_file.unlink(missing_ok=True)
        install_dependencies(target, site, lock)
        strip(site)
    else:
        print("layer dependencies unchanged; refreshing the common package")
    copy_common_package(site)
    compile_bytecode(target, site, "" if rebuild else COMMON_PACKAGE_DIR.name)
    stamp_file.write_text(wanted + "\n")
    return layer_dir


if __name__ == "__main__":
    build_layer()
