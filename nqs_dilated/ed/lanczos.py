"""Memory-lean Lanczos for the lowest eigenpair of a real symmetric operator given as a matvec.

Two-pass Lanczos (e.g. Y. Saad, *Numerical Methods for Large Eigenvalue Problems*, 2nd ed.,
SIAM 2011, ch. 6; C. Lanczos, J. Res. Natl. Bur. Stand. 45, 255 (1950)): only three Lanczos
vectors are kept.

* Pass 1 runs the three-term recurrence from a deterministic (seeded) start vector, stores the
  tridiagonal matrix ``T_m`` and stops when the Ritz residual estimate ``beta_m |s_m|`` of the
  lowest Ritz pair is below ``STOP_FRACTION * tol`` (or on an invariant subspace, or at ``max_iter``).
* The Ritz vector ``psi = sum_j s_j v_j`` (``s`` the lowest eigenvector of ``T_m``) is formed from
  the pass-1 Lanczos vectors when they were kept: in memory up to ``memory_budget`` bytes, then
  in an unnamed scratch file in ``scratch_dir`` (sequential writes and one sequential read,
  about ``n * 8`` bytes of disk per iteration, ``n * 4`` once the Ritz residual estimate is
  below :data:`SINGLE_BELOW` ``* tol``; at 36 sites 0.25 GB per iteration, written on a
  background thread while the next matvec runs, through the page cache while memory lasts and
  then by direct I/O, see :class:`_KeptVectors`). Otherwise pass 2 re-runs the
  same recurrence (same operations, so the same Lanczos vectors up to rounding) and accumulates
  ``psi``, doubling the matvecs.
* The explicit residual ``||H psi - E psi||`` (``E`` the Rayleigh quotient of the normalised
  ``psi``) is measured with one more matvec; while it exceeds ``tol`` the procedure restarts from
  ``psi`` (at most ``max_restarts`` times).

``tol`` is an absolute bound on the residual norm of the normalised vector, default ``1e-8``:
the energy is then accurate to about ``tol**2 / gap`` and amplitudes to about ``tol / gap``.
No re-orthogonalisation is done beyond the local one against the previous vector; the lowest
Ritz value is robust to the loss of orthogonality and the explicit residual check guards the
vector. Each step makes three fused passes over the vectors besides the matvec (see
:func:`_step`), so at 36 sites (252 MB vectors) the vector work is a small part of the step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numba as nb
import numpy as np
import psutil
from scipy.linalg import eigh_tridiagonal

__all__ = ["LanczosResult", "lanczos_ground_state"]


@dataclass
class LanczosResult:
    """Result of :func:`lanczos_ground_state`.

    Attributes:
        energy: Lowest eigenvalue (Rayleigh quotient of :attr:`vector` when it was built, else
            the lowest Ritz value).
        vector: Normalised float64 ``(n,)`` eigenvector, or ``None`` if not requested.
        residual: ``||H psi - E psi||`` (explicit if the vector was built, else the Ritz estimate).
        n_matvec: Number of matrix-vector products.
        n_iter: Lanczos iterations of the last pass 1.
        restarts: Number of restarts.
        second: Second-lowest Ritz value at the end of the last pass 1 (upper bound to the
            second eigenvalue reachable from the start vector), or ``None``.
        converged: Whether the residual reached ``tol``.
        ritz_from: How the last Ritz vector was formed: ``"kept"`` (from the stored pass-1
            vectors), ``"pass 2"`` (recomputed) or ``None`` (no vector requested).
        ritz_seconds: Wall time spent forming Ritz vectors (reading the kept vectors back, or
            pass 2), summed over restarts.
    """

    energy: float
    vector: np.ndarray | None
    residual: float
    n_matvec: int
    n_iter: int
    restarts: int
    second: float | None
    converged: bool
    ritz_from: str | None = None
    ritz_seconds: float = 0.0


#: Pass 1 stops when the Ritz residual estimate is below this fraction of ``tol``; the explicit
#: residual is then measured and a restart follows if it exceeds ``tol``. With the Ritz vector
#: formed from the kept pass-1 vectors the estimate and the explicit residual agree: to 1e-6
#: relative on 4x4 and 4x6 (every sector at 8 values of J2, vectors kept in float64), 2.21e-9
#: explicit for an estimate below 2.5e-9 at 36 sites. The float32 records of late vectors add at
#: most ``0.2 tol`` (:data:`SINGLE_BELOW`), so 0.75 leaves the explicit residual below ``tol``;
#: each halving of the fraction costs about 2 iterations at 36 sites (the residual falls ~20x
#: per 10 iterations).
STOP_FRACTION = 0.75

#: Free disk space left untouched when Lanczos vectors are written to ``scratch_dir`` (bytes).
DISK_MARGIN = 1 << 30

#: A pass-1 vector formed once the Ritz residual estimate is below ``SINGLE_BELOW * tol`` is kept
#: in float32 when it goes to a scratch file (half the bytes to write and read back). Its weight
#: in the Ritz vector is small: the sum of ``|s_k|`` over the vectors after iteration ``j`` was at
#: most 17.4 times the estimate at ``j`` (4x6 cluster, J2 = 0, 1, 1.3, two sectors each), so the
#: rounding (2^-24 relative) adds at most ``17.4 * 1e3 tol * 6e-8 * ||H - E||`` to the residual,
#: ``0.2 tol`` for ``||H - E|| <= 189`` (36 sites); the explicit residual check guards the rest.
#: At 36 sites the estimate falls below 1e-5 after about 60 of 84 iterations.
SINGLE_BELOW = 1e3

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
        """Keep ``v``; with ``single``, in float32 if it goes to a file (see :data:`SINGLE_BELOW`)."""
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


@nb.njit(parallel=True, cache=True, nogil=True)
def _dot(a, b):
    s = 0.0
    for i in nb.prange(a.shape[0]):
        s += a[i] * b[i]
    return s


@nb.njit(parallel=True, cache=True, nogil=True)
def _lanczos_update(w, v, vprev, alpha, beta_prev):
    """``w -= alpha v + beta_prev vprev`` and, in the same pass, ``(<v, w>, <w, w>)`` of the result."""
    vw = 0.0
    ww = 0.0
    for i in nb.prange(w.shape[0]):
        x = w[i] - alpha * v[i] - beta_prev * vprev[i]
        w[i] = x
        vw += v[i] * x
        ww += x * x
    return vw, ww


@nb.njit(parallel=True, cache=True, nogil=True)
def _lanczos_next(out, w, v, a2, inv_beta):
    """``out = (w - a2 v) * inv_beta``: the next Lanczos vector after the local
    re-orthogonalisation against ``v``."""
    for i in nb.prange(w.shape[0]):
        out[i] = (w[i] - a2 * v[i]) * inv_beta


def _step(matvec, v, vprev, w, beta_prev):
    """One Lanczos step into ``w``: returns ``(alpha, a2, beta)``; the next vector is
    ``(w - a2 v) / beta`` (:func:`_lanczos_next`). Three passes over memory besides the matvec:
    ``<v, Hv>``, the three-term update with both norms, and the next vector (the norm of
    ``w - a2 v`` is ``sqrt(<w, w> - a2^2)`` since ``||v|| = 1``)."""
    matvec(v, w)
    alpha = _dot(v, w)
    a2, ww = _lanczos_update(w, v, vprev, alpha, beta_prev)
    beta = float(np.sqrt(max(ww - a2 * a2, 0.0)))
    return alpha + a2, a2, beta


@nb.njit(parallel=True, cache=True, nogil=True)
def _axpy(y, a, x):
    """``y += a x``."""
    for i in nb.prange(y.shape[0]):
        y[i] += a * x[i]


@nb.njit(parallel=True, cache=True, nogil=True)
def _to_single(x, out):
    """``out = float32(x)``."""
    for i in nb.prange(x.shape[0]):
        out[i] = np.float32(x[i])


@nb.njit(parallel=True, cache=True, nogil=True)
def _scal(y, a):
    for i in nb.prange(y.shape[0]):
        y[i] *= a


@nb.njit(parallel=True, cache=True, nogil=True)
def _resid2(w, e, x):
    """``||w - e x||^2``."""
    s = 0.0
    for i in nb.prange(w.shape[0]):
        d = w[i] - e * x[i]
        s += d * d
    return s


def _lowest(alphas, betas):
    m = len(alphas)
    if m == 1:
        return np.array([alphas[0]]), np.ones((1, 1))
    sel = (0, min(1, m - 1))
    return eigh_tridiagonal(np.asarray(alphas), np.asarray(betas[: m - 1]), select="i", select_range=sel)


def lanczos_ground_state(
    matvec: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n: int,
    *,
    v0: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    seed: int = 0,
    tol: float = 1e-8,
    max_iter: int = 2000,
    max_restarts: int = 5,
    want_vector: bool = True,
    progress: Callable[[int, float, float], None] | None = None,
    memory_budget: int = 256 << 20,
    scratch_dir: str | os.PathLike | None = None,
) -> LanczosResult:
    """Lowest eigenpair of a real symmetric operator.

    Args:
        matvec: ``matvec(x, out) -> out`` computing ``H x`` into ``out`` (float64 ``(n,)``).
        n: Vector length.
        v0: Start vector (float64 ``(n,)``); default a seeded standard-normal vector.
        mask: Optional bool ``(n,)``; the random start vector is zeroed outside it (the
            operator must keep that subspace, e.g. excluded representatives of a sector).
        seed: Seed of the start vector.
        tol: Absolute tolerance on ``||H psi - E psi||`` of the normalised vector.
        max_iter: Maximum Lanczos iterations per pass.
        max_restarts: Maximum restarts from the Ritz vector.
        want_vector: Build the eigenvector (pass 2); if False only the energy is computed
            (stopping on the Ritz residual estimate) and ``vector`` is ``None``.
        progress: Optional ``callback(iteration, lowest_ritz_value, residual_estimate)`` called
            every pass-1 iteration.
        memory_budget: Bytes of memory for keeping pass-1 Lanczos vectors (default 256 MiB).
        scratch_dir: Directory for the pass-1 vectors beyond ``memory_budget`` (an unnamed
            temporary file, gone when the run ends, written and read with direct I/O where the
            file system allows it). Must be on disk, not a RAM file system. If ``None``, or when
            free space falls under the next vector plus 1 GiB, the vectors are not kept and
            pass 2 recomputes them (same result, twice the matvecs).

    Returns:
        A :class:`LanczosResult`.

    Raises:
        ValueError: a zero start vector (e.g. an empty mask).
    """
    if v0 is None:
        rng = np.random.default_rng(seed)
        v0 = rng.standard_normal(n)
        if mask is not None:
            v0[~mask] = 0.0
    else:
        v0 = np.array(v0, dtype=np.float64, copy=True)
    nrm = np.sqrt(_dot(v0, v0))
    if nrm == 0.0:
        raise ValueError("the Lanczos start vector is zero (empty sector?)")
    n_matvec = 0
    restarts = 0
    ritz_seconds = 0.0
    start = v0
    start /= nrm
    del v0
    while True:
        # ---------------- pass 1: tridiagonal matrix
        v = _aligned_empty(n)  # aligned for the direct I/O of the kept vectors
        v[:] = start
        vprev = _aligned_empty(n)
        vprev[:] = 0.0
        w = _aligned_empty(n)
        alphas, betas = [], []
        kept = _KeptVectors(n, memory_budget, scratch_dir) if want_vector else None
        if kept is not None:
            kept.append(v)
        beta_prev = 0.0
        theta, second, est = np.inf, None, np.inf
        s = np.ones(1)
        for it in range(max_iter):
            # local re-orthogonalisation against v (a2: cheap, stabilising) inside _step
            alpha, a2, beta = _step(matvec, v, vprev, w, beta_prev)
            n_matvec += 1
            alphas.append(alpha)
            betas.append(beta)
            vals, vecs = _lowest(alphas, betas)
            theta = float(vals[0])
            second = float(vals[1]) if len(vals) > 1 else None
            s = vecs[:, 0]
            est = abs(beta * s[-1])
            if progress:
                progress(it + 1, theta, est)
            scale = max(1.0, abs(theta))
            if est < STOP_FRACTION * tol or beta < 1e-13 * scale:
                break
            _lanczos_next(vprev, w, v, a2, 1.0 / beta)  # the old vprev is no longer needed
            vprev, v = v, vprev
            beta_prev = beta
            if kept is not None:
                kept.append(v, single=est < SINGLE_BELOW * tol)
        m = len(alphas)
        if not want_vector:
            return LanczosResult(theta, None, est, n_matvec, m, restarts, second, est <= tol)
        t_ritz = time.perf_counter()
        if kept.ok and len(kept) == m:
            del vprev
            psi = kept.ritz(s, v, w)  # psi reuses v's memory
            kept.drop()
            del v
            ritz_from = "kept"
        else:
            kept.drop()
            psi = _pass2(matvec, start, s, m, v, vprev, w)
            n_matvec += m - 1
            del vprev, v
            ritz_from = "pass 2"
        ritz_seconds += time.perf_counter() - t_ritz
        _scal(psi, 1.0 / np.sqrt(_dot(psi, psi)))
        matvec(psi, w)
        n_matvec += 1
        energy = _dot(psi, w)
        residual = float(np.sqrt(max(_resid2(w, energy, psi), 0.0)))
        del w
        if residual <= tol or restarts >= max_restarts:
            return LanczosResult(
                float(energy),
                psi,
                residual,
                n_matvec,
                m,
                restarts,
                second,
                residual <= tol,
                ritz_from,
                ritz_seconds,
            )
        restarts += 1
        start = psi


def _pass2(matvec, start, s, m, v, vprev, w):
    """Pass 2: the Ritz vector ``sum_j s_j v_j`` with the Lanczos vectors recomputed
    (``m - 1`` matvecs); ``v``, ``vprev``, ``w`` are ``(n,)`` work arrays."""
    psi = np.zeros(start.shape[0])
    v[:] = start
    vprev[:] = 0.0
    _axpy(psi, s[0], v)
    beta_prev = 0.0
    for j in range(m - 1):
        # the same operations as pass 1 (alpha, beta recomputed, not taken from pass 1: a
        # recurrence driven by stored coefficients amplifies rounding exponentially)
        _, a2, beta = _step(matvec, v, vprev, w, beta_prev)
        _lanczos_next(vprev, w, v, a2, 1.0 / beta)
        vprev, v = v, vprev
        beta_prev = beta
        _axpy(psi, s[j + 1], v)
    return psi
