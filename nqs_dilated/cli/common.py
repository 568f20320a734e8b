"""Helpers shared by the command-line front ends."""

from __future__ import annotations

import resource
import sys


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB (``getrusage``; Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 2**20


def fail(message: str, code: int = 2) -> int:
    """Print ``error: message`` to stderr and return the exit status (2 for bad input)."""
    print(f"error: {message}", file=sys.stderr)
    return code

