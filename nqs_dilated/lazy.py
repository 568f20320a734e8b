"""Lazy public names of a package: imported from their defining module on first access (PEP 562).

``import nqs_dilated`` then loads neither NetKet nor JAX, and ``nqs_dilated.ed.store`` can be
imported without the ED engine.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def attach(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: The package's ``__name__``.
        exports: Public name -> the module defining it (imported on first access of the name).

    Returns:
        ``(__getattr__, __dir__)``; assign both in the package's ``__init__``. A name, once
        imported, is stored in the package's namespace, so later look-ups skip ``__getattr__``.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
