"""Helpers shared by the command-line front ends."""

from __future__ import annotations

import contextlib
import re
import resource
import sys
import warnings

#: A command-line token that is a negative number, range or list (``-0.5``, ``-0.5:0:0.5``).
_NEGATIVE = re.compile(r"^-(\d|\.\d)")


def attach_negative_values(argv: list[str]) -> list[str]:
    """``--opt -0.5:0:0.5`` as ``--opt=-0.5:0:0.5``: argparse takes a token that starts with ``-``
    for an option unless it is a plain number, so a negative range or list would otherwise need
    the ``=`` form. No option of ours is named like a number, so this changes nothing else."""
    out: list[str] = []
    for token in argv:
        if out and _NEGATIVE.match(token) and out[-1].startswith("--") and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB (``getrusage``; Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 2**20


def fail(message: str, code: int = 2) -> int:
    """Print ``error: message`` to stderr and return the exit status (2 for bad input)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def format_warning(message, category, filename=None, lineno=None, line=None) -> str:
    """One line per warning: ``warning: <message>``, with the category when it is not a plain
    ``UserWarning`` subclass of ours (``warning (DeprecationWarning): ...``); no file, line or
    source text. Newlines in the message become ``; ``."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    ours = getattr(category, "__module__", "").startswith("nqs_dilated")
    return f"warning: {text}\n" if ours else f"warning ({category.__name__}): {text}\n"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    stream = file if file is not None else sys.stderr
    try:
        stream.write(format_warning(message, category))
        stream.flush()
    except (OSError, ValueError):  # stderr closed: nothing to report to
        pass


@contextlib.contextmanager
def one_line_warnings():
    """Within the block, show warnings in :func:`format_warning`'s one-line form on stderr.

    The command-line entry points wrap their work in it; library users keep Python's own
    warning display."""
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = previous
