"""`make help` names every target a person may run (internal building blocks aside)."""

from __future__ import annotations

import re
import subprocess

from infra.constants import REPO_ROOT

INTERNAL = {"help", "stage-named"}


def test_make_help_lists_every_target() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE)) - INTERNAL
    shown = subprocess.run(
        ["make", "-s", "help"],  # noqa: S607 - make from PATH, as a person runs it
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert targets, "no target found: the pattern is broken"
    assert {target for target in targets if not re.search(rf"\bmake {target}\b|/ {target}\b", shown)} == set()
