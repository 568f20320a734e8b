"""Helpers shared by the command-line front ends."""

from __future__ import annotations

import resource
import sys

import numpy as np


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB (``getrusage``; Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 2**20


def fail(message: str, code: int = 2) -> int:
    """Print ``error: message`` to stderr and return the exit status (2 for bad input)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def parse_values(text: str, name: str = "--j2") -> list[float]:
    """Parse one value, a comma list (``0,0.5,1.0``) or an inclusive range ``start:stop:step``
    (``0:1.4:0.1`` gives 15 values, rounded to 12 decimals so that 0.30000000000000004 is 0.3).

    Raises:
        ValueError: unparsable text, a non-positive step, or an empty range.
    """
    text = str(text).strip()
    try:
        if ":" in text:
            parts = [float(v) for v in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise ValueError
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            values = [round(start + k * step, 12) for k in range(n)]
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"{name} {text!r}: give a number, a comma list (0,0.5,1.0) or an inclusive range "
            "start:stop:step with a positive step (0:1.4:0.1)"
        ) from None
    if not values:
        raise ValueError(f"{name} {text!r} gives no values")
    return values
