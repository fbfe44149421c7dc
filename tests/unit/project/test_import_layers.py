"""The domain core's imports point down: no cycles, and no package imports one above it.

Read from the source (nothing is imported), so a violation is named before anything runs.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from infra.constants import COMMON_PACKAGE_DIR, FUNCTIONS_DIR, IMPORT_ROOTS, REPO_ROOT

# Lowest first: a package may import its own modules and those of the packages before it.
LAYERS = ("platform", "orgs", "partners", "programme", "leads", "deals", "teams", "money", "integrations", "web")
# What the core must never import: the adapters, the deployment, the local stack, the operator's tools, the
# benchmarks.
OUTSIDE_THE_CORE = {
    "infra",
    "local",
    "ops",
    "bench",
    "tests",
    *(p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir()),
}

Graph = Mapping[str, set[str]]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(COMMON_PACKAGE_DIR.parent).with_suffix("").parts)


def imports_of(path: Path) -> set[str]:
    """The modules a file imports, wherever the import stands (a deferred import is a dependency too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: relative import (the core imports absolutely)")
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {str(node.module)}
    return found


def core_graph() -> dict[str, set[str]]:
    """Each module of the core and the core modules it imports (a `from package import module` counts as
    the module; importing a package's `__init__` is ignored, it holds only a docstring)."""
    files = [p for p in COMMON_PACKAGE_DIR.rglob("*.py") if p.name != "__init__.py"]
    modules = {module_name(p) for p in files}
    return {module_name(p): {i for i in imports_of(p) if i in modules} for p in files}


def package_of(module: str) -> str:
    return module.split(".")[1]


def upward_imports(graph: Graph, layers: Iterable[str]) -> list[str]:
    rank = {name: position for position, name in enumerate(layers)}
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if rank[package_of(target)] > rank[package_of(module)]
    )


def cycle_in(graph: Graph) -> list[str] | None:
    """One import cycle as the path that closes it, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_every_package_of_the_core_has_a_place_in_the_layers() -> None:
    packages = {p.parent.name for p in COMMON_PACKAGE_DIR.glob("*/__init__.py")}
    assert packages == set(LAYERS)
    assert not [p.name for p in COMMON_PACKAGE_DIR.glob("*.py") if p.name != "__init__.py"], "modules sit in packages"


def test_no_package_imports_one_above_it() -> None:
    assert upward_imports(core_graph(), LAYERS) == []


def test_the_core_has_no_import_cycle() -> None:
    assert cycle_in(core_graph()) is None


def test_the_core_imports_nothing_outside_it() -> None:
    outside = sorted(
        f"{module_name(p)} imports {name}"
        for p in COMMON_PACKAGE_DIR.rglob("*.py")
        for name in imports_of(p)
        if name.split(".")[0] in OUTSIDE_THE_CORE
    )
    assert outside == []


def test_a_package_init_holds_only_its_docstring() -> None:
    for init in COMMON_PACKAGE_DIR.rglob("__init__.py"):
        body = ast.parse(init.read_text()).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), init


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    graph = {
        "common.platform.db": {"common.orgs.access"},
        "common.orgs.access": {"common.platform.ids"},
        "common.platform.ids": {"common.platform.db"},
    }
    assert upward_imports(graph, LAYERS) == ["common.platform.db imports common.orgs.access"]
    assert cycle_in(graph) == ["common.orgs.access", "common.platform.ids", "common.platform.db", "common.orgs.access"]
    assert cycle_in({"common.web.a": {"common.platform.b"}, "common.platform.b": set()}) is None
    relative = tmp_path / "sample.py"
    relative.write_text("from . import db\n")
    with pytest.raises(AssertionError, match="relative import"):
        imports_of(relative)


def test_mypy_reads_the_import_roots_the_functions_have() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    mypy_roots = {(REPO_ROOT / p).resolve() for p in config["tool"]["mypy"]["mypy_path"]}
    assert mypy_roots == set(IMPORT_ROOTS)


# Table access: only the domain core reads and writes the table.
TABLE_ACCESS = ("common.platform.db", "common.platform.listings")


def adapter_table_access() -> list[str]:
    return sorted(
        f"{path.relative_to(REPO_ROOT)} imports {target}"
        for path in FUNCTIONS_DIR.rglob("*.py")
        for target in imports_of(path)
        if any(target == module or target.startswith(f"{module}.") for module in TABLE_ACCESS)
    )


def test_adapters_never_touch_the_table() -> None:
    assert adapter_table_access() == []
