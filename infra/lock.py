"""`make lock`: regenerate the hash-pinned locks from pyproject.toml with uv (from the dev lock itself).

The run-time lock is resolved for the Lambda target (the runtime's Python version, manylinux aarch64, wheels
only), so it holds exactly what the layer installs, with the hashes of every file of each pinned version.
The dev lock adds the dev extras on top, at the same run-time versions, for every platform the project's
Python range covers. Existing pins are kept unless pyproject.toml asks otherwise; `ARGS=--upgrade` moves
everything to the newest allowed versions.
"""

from __future__ import annotations

import subprocess
import sys

from infra.build_layer import PLATFORMS
from infra.constants import DEV_LOCK, PYTHON_VERSION, REPO_ROOT, RUNTIME_LOCK

ARCH = "aarch64"


def compile_lock(*args: str) -> None:
    command = [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "pyproject.toml", "--generate-hashes"]
    command += ["--custom-compile-command", "make lock", *args, *sys.argv[1:]]
    subprocess.run(command, cwd=REPO_ROOT, check=True)  # noqa: S603 - fixed arguments, no shell


def main() -> None:
    # The newest manylinux tag the layer accepts, in uv's spelling (aarch64-manylinux_2_34).
    platform = f"{ARCH}-{PLATFORMS[-1].removesuffix(f'_{ARCH}')}"
    runtime, dev = (str(lock.relative_to(REPO_ROOT)) for lock in (RUNTIME_LOCK, DEV_LOCK))
    compile_lock(
        "--python-version", PYTHON_VERSION, "--python-platform", platform, "--only-binary", ":all:", "-o", runtime
    )
    compile_lock("--extra", "dev", "--constraint", runtime, "--universal", "-o", dev)


if __name__ == "__main__":
    main()
