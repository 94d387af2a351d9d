"""The shape of the code, checked from the source: no import cycle, the layering rule, no
project import hidden in a function, no module over 400 lines, every package installed.

Layers, lowest first (docs/architecture.md):

    kit     recsys.* outside the two below, recsys.expectations, recsys.sql
    stages  recsys.tasks.*
    flows   recsys.flows.*
    entry   recsys.cli, recsys.__main__, recsys.entry

A module imports only from its own layer or lower ones. Only the entry layer may import
project modules inside a function (the CLI defers the flows until it has set up the
environment Prefect reads); everywhere else a project import is at the top of the module.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MAX_LINES = 400
LAYERS = ("kit", "stages", "flows", "entry")
# The Great Expectations worker is the entry point of its own process (it imports GX late).
ENTRY = {"recsys.cli", "recsys.entry", "recsys.__main__", "recsys.expectations.worker"}


def package_dirs() -> dict[str, Path]:
    """Installed package name -> its folder in the checkout (pyproject's package-dir)."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    mapped = {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}
    out = {}
    for package in setuptools["packages"]:
        parent = max((n for n in mapped if package == n or package.startswith(n + ".")), key=len)
        out[package] = mapped[parent].joinpath(*package[len(parent) :].split(".")[1:])
    return out


def modules() -> dict[str, Path]:
    """Every project module by its installed name."""
    out = {}
    for package, folder in package_dirs().items():
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            out[name] = path
    return out


def layer(module: str) -> int:
    if module in ENTRY:
        return LAYERS.index("entry")
    if module == "recsys.flows" or module.startswith("recsys.flows."):
        return LAYERS.index("flows")
    if module == "recsys.tasks" or module.startswith("recsys.tasks."):
        return LAYERS.index("stages")
    return LAYERS.index("kit")


def imports(
    module: str, source: str, known: Iterable[str], packages: Iterable[str] = ()
) -> list[tuple[str, bool, int]]:
    """(imported project module, at module level?, line) for every import in `source`."""
    known = set(known)
    package = module if module in set(packages) else module.rpartition(".")[0]
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}
    out = []

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            resolved = resolve(target) if target.startswith("recsys") else None
            if resolved and resolved != module:
                out.append((resolved, id(node) in top, node.lineno))
    return out


def graph(
    sources: dict[str, str], packages: Iterable[str] = ()
) -> dict[str, list[tuple[str, bool, int]]]:
    packages = set(packages)
    return {name: imports(name, text, sources, packages) for name, text in sources.items()}


def cycles(edges: dict[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, or with a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def layering_violations(found: dict[str, list[tuple[str, bool, int]]]) -> list[str]:
    return [
        f"{module}:{line} ({LAYERS[layer(module)]}) imports {target} ({LAYERS[layer(target)]})"
        for module, targets in found.items()
        for target, _, line in targets
        if layer(target) > layer(module)
    ]


def hidden_imports(found: dict[str, list[tuple[str, bool, int]]]) -> list[str]:
    return [
        f"{module}:{line} imports {target} inside a function"
        for module, targets in found.items()
        if module not in ENTRY
        for target, at_top, line in targets
        if not at_top
    ]


@pytest.fixture(scope="module")
def project() -> dict[str, list[tuple[str, bool, int]]]:
    found = modules()
    packages = {name for name, path in found.items() if path.name == "__init__.py"}
    return graph({name: path.read_text() for name, path in found.items()}, packages)


def test_no_import_cycle(project):
    edges = {module: {target for target, _, _ in targets} for module, targets in project.items()}
    assert cycles(edges) == []


def test_each_layer_imports_only_its_own_or_lower_layers(project):
    assert layering_violations(project) == []


def test_project_imports_are_at_module_level_outside_the_entry_points(project):
    assert hidden_imports(project) == []


def test_no_module_over_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_every_package_folder_is_installed_with_its_sql():
    listed = set(package_dirs().values())
    for root in {
        ROOT / folder for folder in PYPROJECT["tool"]["setuptools"]["package-dir"].values()
    }:
        for init in root.rglob("__init__.py"):
            assert init.parent in listed, f"{init.parent} is a package missing from pyproject"
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["recsys.sql"]
    sql = package_dirs()["recsys.sql"]
    unshipped = [
        str(path.relative_to(sql))
        for path in sql.rglob("*.sql")
        if not any(path.relative_to(sql).match(pattern) for pattern in globs)
    ]
    assert unshipped == []


def test_every_sql_name_in_the_code_is_a_file():
    sql = package_dirs()["recsys.sql"]
    folders = {p.name for p in sql.iterdir() if p.is_dir() and not p.name.startswith("_")}
    named = set()
    for path in modules().values():
        nodes = list(ast.walk(ast.parse(path.read_text())))
        # pieces of an f-string (f"export/{kind}_recs") are completed at run time
        pieces = {id(v) for n in nodes if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in nodes:
            if isinstance(node, ast.Constant) and id(node) not in pieces:
                text = node.value
                if isinstance(text, str) and "/" in text and text.split("/")[0] in folders:
                    named.add(text)
    missing = sorted(n for n in named if not (sql / f"{n}.sql").is_file())
    assert named and missing == []


# --- the checks themselves catch what they are for ---


def test_a_cycle_hidden_in_a_function_is_found():
    sources = {
        "recsys.tasks.a": "from recsys.tasks.b import x\n",
        "recsys.tasks.b": "def f():\n    from recsys.tasks.a import y\n",
    }
    found = graph(sources)
    edges = {m: {t for t, _, _ in ts} for m, ts in found.items()}
    assert cycles(edges) == [["recsys.tasks.a", "recsys.tasks.b"]]
    assert hidden_imports(found) == ["recsys.tasks.b:2 imports recsys.tasks.a inside a function"]


def test_an_import_up_the_layers_is_found():
    sources = {
        "recsys.model.store": "from recsys.tasks.train import fit\n",
        "recsys.tasks.train": "from recsys.flows.pipeline import run_stages\n",
        "recsys.flows.pipeline": "from recsys.model import store\n",
        "recsys.model": "",
        "recsys.cli": "def run():\n    from recsys.flows.pipeline import run_stages\n",
    }
    assert layering_violations(graph(sources)) == [
        "recsys.model.store:1 (kit) imports recsys.tasks.train (stages)",
        "recsys.tasks.train:1 (stages) imports recsys.flows.pipeline (flows)",
    ]
    assert hidden_imports(graph(sources)) == []  # the entry layer may defer its imports
