"""One-way imports: no module of the package imports from a layer above its own (STYLE.md, "The house")."""

from __future__ import annotations

import ast
from pathlib import Path

import nqs_dilated

ROOT = Path(nqs_dilated.__file__).parent

#: Layer of each top-level module or subpackage (lower = further upstream). Entry points
#: (:data:`ENTRY_POINTS`) only forward to ``cli`` and are not checked for layers;
#: :func:`test_entry_points_only_forward_to_cli` checks that they do nothing else.
LAYERS = {
    "lattice": 0,
    "provenance": 0,
    "metrics": 0,
    "files": 0,
    "lazy": 0,
    "choice": 0,
    "symmetry": 1,
    "hamiltonian": 1,
    "ed": 2,
    "models": 2,
    "data": 3,
    "observables": 3,
    "training": 4,
    "experiments": 5,
    "cli": 6,
}
#: The ``python -m`` entry points, by path in the package (not by file name: any other
#: ``__main__.py`` is checked like every module).
ENTRY_POINTS = {Path("__main__.py"), Path("fit.py"), Path("ed/__main__.py")}


def _imported_tops(path: Path) -> set[str]:
    """Top-level package members that ``path`` imports (absolute or relative)."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = list(rel[:-1])  # the package holding the file
    tops = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                names = target or [a.name for a in node.names]  # "from . import x" at the top
                tops.add(names[0])
            elif node.module and node.module.split(".")[0] == "nqs_dilated":
                parts = node.module.split(".")[1:] or [a.name for a in node.names]
                tops.add(parts[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "nqs_dilated" and len(parts) > 1:
                    tops.add(parts[1])
    return tops


def test_every_module_has_a_layer():
    tops = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.rglob("*.py")}
    tops -= {"__init__"} | {p.stem for p in ENTRY_POINTS if len(p.parts) == 1}  # __main__, fit
    assert tops <= set(LAYERS), f"modules without a layer in LAYERS: {sorted(tops - set(LAYERS))}"


def test_no_upward_imports():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.relative_to(ROOT) in ENTRY_POINTS or path.relative_to(ROOT) == Path("__init__.py"):
            continue
        own = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for top in _imported_tops(path) - {own}:
            if LAYERS.get(top, -1) >= LAYERS[own]:
                upward.append(f"{path.relative_to(ROOT)} imports {top} (layer {LAYERS.get(top)} >= {LAYERS[own]})")
    assert not upward, "\n".join(upward)


def test_entry_points_only_forward_to_cli():
    """An entry point is a docstring, ``import sys``, one ``from ..cli.X import main`` (or
    ``fit_main``, the ``python -m nqs_dilated.fit`` alias of :mod:`nqs_dilated.cli.main`) and
    ``sys.exit(main())`` under ``if __name__ == "__main__"``: nothing that could hide an upward import."""
    for rel in sorted(ENTRY_POINTS):
        path = ROOT / rel
        assert path.exists(), rel
        tree = ast.parse(path.read_text())
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
        rest = [n for n in body if n not in imports]
        assert all(
            isinstance(n, ast.Import)
            and [a.name for a in n.names] == ["sys"]
            or isinstance(n, ast.ImportFrom)
            and _imported_tops_of(n, rel) == {"cli"}
            and [a.name for a in n.names] in (["main"], ["fit_main"])
            for n in imports
        ), f"{rel}: imports other than sys and cli.*.main"
        assert len(rest) == 1 and isinstance(rest[0], ast.If) and "__main__" in ast.unparse(rest[0].test), (
            f"{rel}: everything but the imports must sit under if __name__ == '__main__'"
        )


def _imported_tops_of(node: ast.ImportFrom, rel: Path) -> set[str]:
    package = list(rel.parts[:-1])
    if node.level:
        base = package[: len(package) - (node.level - 1)]
        return {(base + node.module.split("."))[0]}
    return {node.module.split(".")[1]} if node.module.startswith("nqs_dilated.") else {node.module}


def _module_graph() -> dict[str, set[str]]:
    """Module -> package modules it imports (anywhere in the file, lazy imports included)."""
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        package = (m if path.name == "__init__.py" else m.rpartition(".")[0]).split(".")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nqs_dilated":
                target = node.module
            elif isinstance(node, ast.Import):
                graph[m] |= {a.name for a in node.names if a.name in mods} - {m}
                continue
            else:
                continue
            for a in node.names:  # "from pkg import submodule" imports the submodule
                graph[m].add(f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target)
            graph[m] -= {m}
    return graph


def test_no_import_cycles():
    """No module imports, directly or through others (lazy imports included), a module that
    imports it back: e.g. ``cli.main`` runs ``cli.fit`` and not the other way round."""
    graph = _module_graph()
    assert "nqs_dilated.cli.main" in graph["nqs_dilated.fit"]
    state: dict[str, int] = {}
    cycles = []

    def visit(m, path):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n) :] + [n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
