"""Cold init as Lambda runs it: a fresh interpreter imports the handler module (Lambda's init phase) from the
built layer and the function's folder, both read-only, with the function's environment; and, the same way
and from the same layer, the bare libraries that handler is built on. Once with the layer's bytecode and
once from a copy without it: what a layer without bytecode costs where nothing can be written.

The deployed layer is built for arm64; where its extensions cannot load, this module builds the layer's
twin for this machine's Python (the same lock, the same strip and compile step) into .build/layer-host.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra import build_layer
from infra.constants import FUNCTIONS_DIR, LAYER_DIR

HOST_LAYER_DIR = LAYER_DIR.with_name("layer-host")
TREES_DIR = LAYER_DIR.with_name("cold-init")


def host_layer() -> Path:
    """The layer's `python/` folder for this machine, built (or refreshed) from the run-time lock."""
    return build_layer.build_layer(HOST_LAYER_DIR, build_layer.host_target()) / "python"


@contextmanager
def read_only_trees(site: Path, scratch: Path = TREES_DIR) -> Iterator[dict[str, Path]]:
    """Two read-only copies of the layer's `python/` and of functions/ (whose assets carry no bytecode):
    "pyc" with the layer's bytecode, "source" without it. Made afresh under `scratch`, which also clears
    what an interrupted run left there."""
    _remove(scratch)
    trees = {}
    for variant, ignore in (("pyc", None), ("source", shutil.ignore_patterns("__pycache__"))):
        tree = scratch / variant
        shutil.copytree(site, tree / "python", ignore=ignore)
        shutil.copytree(FUNCTIONS_DIR, tree / "functions", ignore=shutil.ignore_patterns("__pycache__"))
        _set_writable(tree, False)
        trees[variant] = tree
    try:
        yield trees
    finally:
        _remove(scratch)


def _remove(scratch: Path) -> None:
    if scratch.exists():
        _set_writable(scratch, True)  # or a user other than root cannot remove it
        shutil.rmtree(scratch)


def _set_writable(tree: Path, writable: bool) -> None:
    for path in [tree, *tree.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def init_seconds(tree: Path, statement: str, environment: dict[str, str]) -> float:
    """Seconds a fresh interpreter spends running `statement` with only the function's folder and the layer
    on its path, in Lambda's order. Isolated (-I) and without site-packages (-S), so nothing else is found;
    -B: nothing is written, even where the read-only bits do not stop the user (root)."""
    paths = [str(tree / "functions"), str(tree / "python")]
    code = f"import sys, time; sys.path[:0] = {paths!r}; t = time.perf_counter(); {statement}; "
    code += "print(time.perf_counter() - t)"
    env = {"PATH": os.environ.get("PATH", ""), **environment}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code], env=env, cwd=tree, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def size_mb(folder: Path) -> float:
    """Unzipped size, as Lambda counts it against 250 MB for a function and its layers."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def report(result: dict[str, Any]) -> str:
    if not result["rows"]:
        return "\nCold init: skipped (BENCH_COLD_INIT_RUNS=0).\n"
    layer = "not built" if result["layer_mb"] is None else f"{result['layer_mb']:.0f} MB"
    lines = [
        "",
        f"Cold init: each handler module imported by a fresh Python {result['python']} process from a read-only "
        f"copy of the layer's host twin ({result['host_twin_mb']:.0f} MB unzipped; the arm64 layer: {layer}) and "
        "the function's folder, next to the bare libraries it is built on imported the same way; "
        f"{result['runs']} runs each, p50 / p90 ms. Target ratio <= 1.15.",
        "",
        "| handler module | init | bare libraries | ratio | init without bytecode | bare libraries without "
        "| ratio without | bytecode saves (init p50) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        pyc, source = r["pyc"], r["source"]
        cells = [
            f"{side['handler_p50_ms']:.0f} / {side['handler_p90_ms']:.0f} | {side['libraries_p50_ms']:.0f} / "
            f"{side['libraries_p90_ms']:.0f} | {side['ratio_p50']:.2f}"
            for side in (pyc, source)
        ]
        saved = 1 - pyc["handler_p50_ms"] / source["handler_p50_ms"]
        lines.append(f"| {r['module']} | {cells[0]} | {cells[1]} | {saved:.0%} |")
    return "\n".join(lines) + "\n"
