"""Where a result came from: package versions and the git revision of the checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["git_revision", "package_versions"]


def git_revision() -> str:
    """``git describe --always --dirty`` of the package's checkout, or ``"unknown"``."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of this package and the numerical stack."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("nqs_dilated", "netket", "jax", "flax", "optax", "numpy", "scipy", "numba"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out
