"""Storage of the pass-1 Lanczos vectors of :func:`~nqs_dilated.ed.lanczos.lanczos_ground_state`.

:class:`_KeptVectors` keeps the vectors in memory up to a budget, then in unnamed scratch files
(a page-cache stage, then direct ``O_DIRECT`` I/O where the file system allows it), written on a
background thread and read back in order to form the Ritz vector. Also here: the aligned
buffers and block-padded reads and writes that direct I/O needs, and the disk, memory and
alignment margins (:data:`DISK_MARGIN`, :data:`CACHE_MARGIN`, :data:`DIRECT_ALIGN`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import psutil

from ._vecops import _axpy, _to_single

__all__ = ["CACHE_MARGIN", "DIRECT_ALIGN", "DISK_MARGIN"]


#: Free disk space left untouched when Lanczos vectors are written to ``scratch_dir`` (bytes).
DISK_MARGIN = 1 << 30

#: Available memory left out of the page-cache stage of the kept vectors (bytes).
CACHE_MARGIN = 2 << 30


#: Alignment in bytes of buffers, lengths and file offsets for direct (``O_DIRECT``) I/O.
DIRECT_ALIGN = 4096


def _aligned_empty(n: int) -> np.ndarray:
    """Uninitialised float64 ``(n,)`` array whose data start on a :data:`DIRECT_ALIGN` boundary."""
    raw = np.empty(n + DIRECT_ALIGN // 8, dtype=np.float64)
    off = (-raw.ctypes.data % DIRECT_ALIGN) // 8
    return raw[off : off + n]


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while len(data):
        k = os.pwrite(fd, data, offset)
        data, offset = data[k:], offset + k


def _pread_all(fd: int, data: memoryview, offset: int) -> None:
    while len(data):
        k = os.preadv(fd, [data], offset)
        if k == 0:
            raise OSError("short read of the Lanczos vectors from the scratch file")
        data, offset = data[k:], offset + k


def _write(fd: int, v: np.ndarray, offset: int, tail: np.ndarray) -> None:
    """Write ``v`` at ``offset``: its whole :data:`DIRECT_ALIGN` blocks straight from ``v``, the
    rest through the block ``tail`` (zero-padded). Releases the GIL (``os.pwrite``)."""
    b = memoryview(v).cast("B")
    head = len(b) // DIRECT_ALIGN * DIRECT_ALIGN
    _pwrite_all(fd, b[:head], offset)
    if head < len(b):
        tail[:] = 0
        tail[: len(b) - head] = b[head:]
        _pwrite_all(fd, memoryview(tail), offset + head)


def _read(fd: int, v: np.ndarray, offset: int, tail: np.ndarray) -> None:
    """Inverse of :func:`_write`."""
    b = memoryview(v).cast("B")
    head = len(b) // DIRECT_ALIGN * DIRECT_ALIGN
    _pread_all(fd, b[:head], offset)
    if head < len(b):
        _pread_all(fd, memoryview(tail), offset + head)
        b[head:] = tail[: len(b) - head]


def _open_scratch(directory: str, direct: bool) -> tuple[int, bool]:
    """An unnamed file in ``directory`` (gone when closed, even if the process is killed):
    ``(fd, direct)``, opened with ``O_DIRECT`` when asked for and the file system supports it."""
    if direct and hasattr(os, "O_DIRECT") and hasattr(os, "O_TMPFILE"):
        try:
            return os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_DIRECT, 0o600), True
        except OSError:
            pass  # e.g. tmpfs: no direct I/O; the buffered file below holds the same data
    if hasattr(os, "O_TMPFILE"):
        try:
            return os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600), False
        except OSError:
            pass
    fd, path = tempfile.mkstemp(dir=directory, prefix="lanczos-")
    os.unlink(path)
    return fd, False


class _KeptVectors:
    """Pass-1 Lanczos vectors: in memory up to ``memory_budget`` bytes, then in unnamed scratch
    files in ``scratch_dir``. :attr:`ok` turns False (and everything is dropped) when neither has
    room, and the caller falls back to pass 2.

    The file part has two stages, read back in order:

    1. Up to ``cache_budget`` bytes (default: the memory available when the first vector goes to
       disk, less :data:`CACHE_MARGIN`) are written to a buffered file, whose pages stay in the
       page cache (not the process's RSS) and come back at memory speed. Once read back, each
       vector's pages are dropped (:func:`_forget`).
    2. The rest goes to a second file by direct I/O (``O_DIRECT``) where the file system allows
       it: from the vector to the disk by DMA, without a copy into a full page cache and the
       reclaim of older cached pages (stage 1's vectors) that this copy would force, which took
       0.38 s of CPU per 252 MB vector from the matvec threads (``benchmarks/lanczos_scratch_io.py``);
       read back at the disk's speed (at 36 sites 160 MB/s on this VM, against GB/s for data
       the host still caches). Vectors must then start on a :data:`DIRECT_ALIGN` boundary
       (:func:`_aligned_empty`); each takes ``ceil(8 n / DIRECT_ALIGN)`` blocks of the file.
       Without direct I/O (``direct=False``, or e.g. tmpfs) this file is buffered too.

    File writes run on a background thread, overlapping the next matvec (the kernels release the
    GIL); at most one write is outstanding. A vector handed to :meth:`append` must therefore stay
    unmodified until the next :meth:`append`, :meth:`ritz` or :meth:`drop`, which wait for it.
    The Lanczos loop satisfies this: the buffer of ``v_k`` is next written when ``v_{k+2}`` is
    formed, after ``v_{k+1}`` has been appended."""

    def __init__(
        self,
        n: int,
        memory_budget: int,
        scratch_dir: str | os.PathLike | None,
        direct: bool = True,
        cache_budget: int | None = None,
    ):
        self.n = n
        self.nbytes = 8 * n
        self.record = -(-self.nbytes // DIRECT_ALIGN) * DIRECT_ALIGN
        self.record_single = -(-4 * n // DIRECT_ALIGN) * DIRECT_ALIGN
        self.memory_budget = memory_budget
        self.cache_budget = cache_budget
        self.scratch_dir = None if scratch_dir is None else os.fspath(scratch_dir)
        self.want_direct = direct
        self.direct = False  # whether stage 2 uses direct I/O
        self.mem: list[np.ndarray] = []
        self.fds: list[int | None] = [None, None]  # stage 1 (page cache), stage 2 (direct)
        self.sizes = [0, 0]  # bytes written per stage
        self.records: list[tuple[int, int, int, bool]] = []  # (stage, offset, bytes, single) per file vector
        self.ok = True
        self._tail = _aligned_empty(DIRECT_ALIGN // 8).view(np.uint8)
        self._single: np.ndarray | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    @property
    def n_file(self) -> int:
        """Vectors in the scratch files."""
        return len(self.records)

    @property
    def counts(self) -> list[int]:
        """Vectors in each stage's file."""
        return [sum(1 for r in self.records if r[0] == stage) for stage in (0, 1)]

    def _wait(self) -> None:
        """Wait for the outstanding write; its error (e.g. a full disk) is raised here."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _stage_fd(self, record: int) -> tuple[int, int]:
        """``(stage, fd)`` for the next vector (``record`` bytes), opening the file on first use."""
        if self._writer is None:
            os.makedirs(self.scratch_dir, exist_ok=True)
            if self.cache_budget is None:
                self.cache_budget = max(0, int(psutil.virtual_memory().available) - CACHE_MARGIN)
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="lanczos-writer")
        stage = 0 if self.sizes[0] + record <= self.cache_budget and self.sizes[1] == 0 else 1
        if self.fds[stage] is None:
            self.fds[stage], direct = _open_scratch(self.scratch_dir, self.want_direct and stage == 1)
            if stage == 1:
                self.direct = direct
        return stage, self.fds[stage]

    def append(self, v: np.ndarray, single: bool = False) -> None:
        """Keep ``v``; with ``single``, in float32 if it goes to a file (see
        :data:`~nqs_dilated.ed.lanczos.SINGLE_BELOW`)."""
        if not self.ok:
            return
        if self._writer is None and (len(self.mem) + 1) * self.nbytes <= self.memory_budget:
            self.mem.append(v.copy())
            return
        if self.scratch_dir is None:
            return self.drop()
        record = self.record_single if single else self.record
        stage, fd = self._stage_fd(record)
        self._wait()
        if shutil.disk_usage(self.scratch_dir).free < record + DISK_MARGIN:
            return self.drop()
        if single:
            if self._single is None:
                self._single = _aligned_empty(-(-self.n // 2)).view(np.float32)[: self.n]
            _to_single(v, self._single)  # the buffer's previous write has finished (_wait)
            v = self._single
        if stage == 1 and self.direct and v.ctypes.data % DIRECT_ALIGN:
            raise ValueError("direct I/O needs vectors aligned to DIRECT_ALIGN bytes (use _aligned_empty)")
        self._pending = self._writer.submit(_write, fd, v, self.sizes[stage], self._tail)
        self.records.append((stage, self.sizes[stage], record, single))
        self.sizes[stage] += record

    def ritz(self, s: np.ndarray, out: np.ndarray, buf: np.ndarray) -> np.ndarray:
        """``out = sum_j s_j v_j`` over the kept vectors, oldest first (``buf`` is an ``(n,)``
        work array, aligned as :meth:`append` requires)."""
        self._wait()
        out[:] = 0.0
        for j, v in enumerate(self.mem):
            _axpy(out, s[j], v)
        single = buf.view(np.float32)[: self.n]  # aligned like buf
        for j, (stage, offset, length, is_single) in enumerate(self.records, start=len(self.mem)):
            fd = self.fds[stage]
            x = single if is_single else buf
            _read(fd, x, offset, self._tail)
            _axpy(out, s[j], x)
            if stage == 0 or not self.direct:
                _forget(fd, offset, length)
        return out

    def __len__(self) -> int:
        return len(self.mem) + self.n_file

    def drop(self) -> None:
        self.ok = False
        self.mem = []
        try:
            self._wait()
        except OSError:
            pass  # the vectors are being discarded anyway
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        for stage, fd in enumerate(self.fds):
            if fd is not None:
                os.close(fd)
            self.fds[stage] = None
        self.records = []
        self.sizes = [0, 0]
        self._single = None


def _forget(fd: int, offset: int, length: int) -> None:
    """Drop a vector's pages from the page cache once it has been read back
    (``POSIX_FADV_DONTNEED``): it is not read again, and the memory goes back to the caller
    instead of staying cached until the file is closed."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
