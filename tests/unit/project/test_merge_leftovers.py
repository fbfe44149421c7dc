"""No tracked text file keeps a merge's conflict markers: a conflicted passage committed by mistake reads as
prose in a document and nowhere fails a build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# A marker is a whole line: seven of the character, then a space and a label (or nothing, for the middle).
MARKER = re.compile(r"^(<{7} \S|>{7} \S|={7}$)", re.MULTILINE)
TEXT_SUFFIXES = {".py", ".md", ".json", ".toml", ".txt", ".yaml", ".yml", ".cfg", ".ini", ".sh", ".html", ".js"}


def leftovers(text: str) -> list[str]:
    return [match.group(0) for match in MARKER.finditer(text)]


def test_no_tracked_file_has_conflict_markers() -> None:
    git = shutil.which("git")
    assert git, "git lists the tracked files"
    listed = subprocess.run([git, "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603 - git on this checkout
    tracked = listed.stdout
    found: dict[str, list[str]] = {}
    for name in tracked.splitlines():
        path = ROOT / name
        if path.suffix in TEXT_SUFFIXES or path.name in {"Makefile", "README"}:
            markers = leftovers(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else []
            if markers:
                found[name] = markers
    assert found == {}


def test_the_check_finds_each_marker_and_not_rules_of_prose() -> None:
    conflicted = "a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> main\n"
    assert leftovers(conflicted) == ["<<<<<<< H", "=======", ">>>>>>> m"]
    assert leftovers("Title\n========\n\n=======x\n") == []
