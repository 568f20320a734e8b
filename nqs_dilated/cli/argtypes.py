"""Argument types of the command line: integer lists and pairs, and their display in ``--help``."""

from __future__ import annotations

import argparse

__all__ = ["csv_text", "int_list", "int_pair"]


def int_list(text: str) -> list[int]:
    """``"1,2,3"`` (or spaces) as ``[1, 2, 3]``; an argparse error otherwise."""
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def int_pair(text: str) -> list[int]:
    """``"MIN,MAX"`` as two integers; an argparse error otherwise."""
    values = int_list(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two comma-separated integers MIN,MAX, got {text!r}")
    return values


def csv_text(values) -> str:
    """``[1, 2, 3]`` as ``"1,2,3"`` (defaults in ``--help``)."""
    return ",".join(str(v) for v in values)
