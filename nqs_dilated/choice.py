"""Named choices (model names, VMC modes, sign sources) as string enums, parsed once where they enter."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["Choice"]


class Choice(enum.StrEnum):
    """A string enum whose :meth:`parse` raises one clear error naming the accepted values.

    Members compare equal to their strings (``ModelName.DILATED == "dilated"``), so configuration
    files, JSON and command lines keep plain strings. A subclass names what it is in ``_what``
    (``enum.nonmember``).
    """

    @classmethod
    def parse(cls, value: Any):
        """The member whose value is ``value``.

        Raises:
            ValueError: ``value`` is none of the members' values.
        """
        try:
            return cls(value)
        except ValueError:
            what = getattr(cls, "_what", cls.__name__)
            raise ValueError(f"unknown {what} {value!r}; use one of {[m.value for m in cls]}") from None
