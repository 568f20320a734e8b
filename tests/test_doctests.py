"""Docstring examples run as doctests: every module of the package with a ``>>>`` line.

Examples must stay cheap (tiny clusters, no training, no 36-site ED): the whole file runs in
seconds. A module is found by its source text, so a new example is tested without listing it here.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

import nqs_dilated

PACKAGE = Path(nqs_dilated.__file__).parent
EXAMPLE = re.compile(r"^\s*>>> ", re.MULTILINE)


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if EXAMPLE.search(path.read_text(encoding="utf-8")):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_examples_found():
    assert MODULES, "no docstring example found: the scan is broken"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False, report=True)
    assert result.attempted > 0, f"{name}: examples found in the source but none collected"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
