"""The scripts kept under ``runs/results/`` (those that made the recorded results) use the public
API only: every ``nqs_dilated`` name they import exists and is public, and they reach into no
private attribute, so a change of the package's internals cannot leave them broken unnoticed."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "runs" / "results").rglob("*.py"))


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nqs_dilated":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if alias.name.startswith("_"):
                    out.append(f"imports the private name {node.module}.{alias.name}")
                elif not hasattr(module, alias.name):
                    try:  # a submodule
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ModuleNotFoundError:
                        out.append(f"imports {node.module}.{alias.name}, which does not exist")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nqs_dilated":
                    importlib.import_module(alias.name)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            out.append(f"line {node.lineno}: uses the private attribute .{node.attr}")
    return out


def test_there_are_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_result_script_uses_the_public_api(path):
    assert _problems(path) == []
