"""`make dev ARGS=--keep-data`: a second start finds the table's items and the user pool's users of the first
(each start in a process of its own, as two `make dev` runs are), and does not replay the kept stream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.constants import REPO_ROOT


def run(folder: Path, step: str) -> dict[str, object]:
    done = subprocess.run(  # noqa: S603 - this interpreter running the project's own module
        [sys.executable, "-m", "tests.integration.support.kept_data_run", str(folder), step],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_second_start_finds_what_the_first_kept(tmp_path: Path) -> None:
    first = run(tmp_path, "write")
    second = run(tmp_path, "read")

    assert first["restored"] is False and first["user_id"]
    assert second == {"restored": True, "token": True, "item": True, "dispatched": 0}
