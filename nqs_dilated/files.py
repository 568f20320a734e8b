"""Files written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["NotWritableError", "atomic_path", "check_writable_dir", "write_atomic"]


class NotWritableError(ValueError):
    """A directory a run must write to cannot be created or written."""


def check_writable_dir(path: str | os.PathLike, what: str, fix: str) -> None:
    """Check, before any work, that files can be written in the directory ``path`` (which need
    not exist yet): no part of it is a file, and its nearest existing ancestor accepts a new
    entry (probed with a temporary directory, created and removed at once: this sees read-only
    file systems and permissions as the process meets them, root included).

    Args:
        path: The directory.
        what: What it is, for the message (``"output directory"``).
        fix: How to fix it, for the message (``"choose another --out"``).

    Raises:
        NotWritableError: one line naming the path, the problem and ``fix``.
    """
    path = Path(path).absolute()
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise NotWritableError(f"{what} {path}: {existing} is a file, not a directory; {fix}")
    try:
        tempfile.TemporaryDirectory(prefix=".nqs-write-probe-", dir=existing).cleanup()
    except OSError as err:
        raise NotWritableError(f"{what} {path}: cannot write in {existing} ({err.strerror or err}); {fix}") from None


def _umask() -> int:
    """The process umask: from ``/proc/self/status`` on Linux, else by setting and restoring it
    (which other threads could observe for an instant)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces ``path`` when the ``with`` block succeeds.

    The temporary file is created empty in the same directory (so the final rename is atomic), with
    the permissions an ordinary new file gets (``0o666`` less the umask; :func:`tempfile.mkstemp`
    alone would leave ``0o600``, which hides results and stored states from the rest of a group).
    On any exception it is removed and ``path`` is left as it was.

    Yields:
        The temporary path; write it completely inside the block.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename
    (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            with open(tmp, "w") as f:  # text mode, as ``open(path, "w")``
                f.write(data)
