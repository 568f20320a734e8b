"""Where the runs of a sweep execute: parallel local processes, or jobs submitted with submitit.

Two pools with one interface (:class:`Pool`: ``capacity``, ``submit(config) -> handle``,
``shutdown()``; a handle has ``done()`` and ``result()``):

* :class:`LocalPool` (``executor = "local"``, the default): a ``ProcessPoolExecutor`` of
  ``spawn``-ed worker processes. The number of workers is bounded by the cores this process may
  use (its CPU affinity, e.g. ``taskset -c 1``) and by the available memory divided by an
  estimate of one run's memory (:func:`memory_per_run_gib`). Each worker is pinned to
  ``cores // workers`` of those cores (``sched_setaffinity``, which also sizes JAX's CPU thread
  pool) and gets ``OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS`` to match; a worker dies with its parent
  (``PR_SET_PDEATHSIG``), so a killed sweep leaves no run going on behind its back.
* :class:`SubmititPool` (``"slurm"``: one SLURM job per run with the resources of the
  :class:`~nqs_dilated.experiments.sweep_config.SweepConfig`; ``"submitit-local"``: submitit's local executor, the
  same submission path without a cluster, used by the tests). Job logs go to ``<sweep>/jobs/``.

Every run, whatever the pool, goes through :func:`execute_run`: it takes an exclusive lock on
``<run dir>/.lock`` (``fcntl.flock``; released by the kernel when the process dies), so two
processes never write one run directory, and then calls the run driver, which is a no-op for a
finished run (``summary.json`` present).

One VMC run over several devices and nodes (``slurm_nodes x slurm_tasks_per_node`` > 1 in the
:class:`~nqs_dilated.experiments.sweep_config.SweepConfig`): the job has one SLURM task (process) per device, each
running :func:`execute_run_distributed`, which joins them with ``jax.distributed.initialize``
(coordinator: the first host of the job, a port derived from the job id; rank and task count
from submitit's ``JobEnvironment``, i.e. ``SLURM_PROCID``/``SLURM_NTASKS``/``SLURM_LOCALID``)
*before* NetKet is imported, then runs the same VMC driver in every process: NetKet shards the
chains over all devices of all processes, process 0 takes the run lock and writes the run
directory. With GPUs, ask for ``slurm_gpus_per_node = slurm_tasks_per_node``; a process that sees
several GPUs uses the one of its local rank. By hand, without submitit::

    srun --nodes 2 --ntasks-per-node 4 --gpus-per-node 4 python -c "
    import jax; jax.distributed.initialize()  # JAX reads SLURM's variables
    from nqs_dilated.experiments.executors import execute_run
    execute_run({...RunSpec.to_json() with out...}, lock=jax.process_index() == 0)"

This module imports neither JAX nor NetKet at import time (a test checks it), so that a submitit
job can unpickle :func:`execute_run_distributed` before JAX starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import multiprocessing as mp
import os
import shutil
import signal
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psutil

if TYPE_CHECKING:  # config imports the lattice, hence NetKet: not before jax.distributed starts
    from .results import SignResult, VmcResult
    from .sweep_config import SweepConfig

__all__ = [
    "LocalPool",
    "Pool",
    "SubmititPool",
    "available_cores",
    "check_executor",
    "distributed_arguments",
    "execute_run",
    "execute_run_distributed",
    "make_pool",
    "memory_per_run_gib",
    "run_lock",
]

#: Environment variables that size the thread pools of NumPy/BLAS, OpenMP and numba.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
#: Fraction of the available memory the local pool plans to use.
MEMORY_FRACTION = 0.8


class Pool(Protocol):
    """What the sweep needs from a pool of workers."""

    capacity: int
    """Runs that may be in flight at once."""

    def submit(self, config: dict) -> Any:
        """Start :func:`execute_run` on ``config``; returns a handle with ``done()`` and ``result()``."""

    def shutdown(self, cancel: bool = False) -> None:
        """Release the workers; with ``cancel``, stop runs in flight where the pool can."""


@contextlib.contextmanager
def run_lock(path: str | os.PathLike):
    """Hold an exclusive ``flock`` on ``path/.lock`` (creating ``path``); blocks while another
    process holds it. The kernel releases the lock when the holder dies, even by SIGKILL."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def execute_run(config: dict, progress: bool = False, lock: bool = True) -> SignResult | VmcResult:
    """Run one configuration in this process, under the lock of its run directory.

    Args:
        config: A :class:`~nqs_dilated.experiments.specs.RunSpec` in its JSON form
            (:meth:`~nqs_dilated.experiments.specs.RunSpec.to_json`), with ``out`` set to the run
            directory (a dict crosses process boundaries as it is).
        progress: Show the run's own progress bar (stderr).
        lock: Take the run lock (False in the processes other than 0 of a distributed run).

    Returns:
        The run's result (``summary.json``; ``skipped`` if it was already finished).

    Raises:
        Whatever the run driver raises (bad input, MemoryError, ...).
    """
    from .specs import RunSpec

    spec = RunSpec.from_json(config)
    if spec.task == "vmc":
        from .vmc_run import run_vmc as run
    else:
        from .sign_run import run_sign_fit as run
    # NetKet prints its automatic choices ("Automatic SR implementation choice: ...") on stdout,
    # which belongs to the sweep's report: they go to stderr with the progress bars
    with run_lock(spec.output()) if lock else contextlib.nullcontext(), contextlib.redirect_stdout(sys.stderr):
        return run(spec, progress=progress)


#: Ports the coordinator of a distributed run may listen on: ``PORT_BASE + crc32(job id) % PORT_RANGE``.
PORT_BASE, PORT_RANGE = 20000, 20000


def distributed_arguments(env=None, gpus: bool = False) -> dict:
    """The arguments of ``jax.distributed.initialize`` for this task of a submitit job.

    Args:
        env: A submitit ``JobEnvironment`` (default: this job's), or anything with ``job_id``,
            ``hostnames``, ``num_tasks``, ``global_rank`` and ``local_rank``.
        gpus: The job has GPUs; unless ``CUDA_VISIBLE_DEVICES`` already leaves this task one GPU,
            it takes the GPU of its local rank (``local_device_ids``), as JAX does under SLURM.

    Returns:
        ``coordinator_address`` (first host, port from the job id), ``num_processes``,
        ``process_id`` and ``local_device_ids`` (None: every local device).
    """
    if env is None:
        import submitit

        env = submitit.JobEnvironment()
    port = PORT_BASE + zlib.crc32(str(env.job_id).encode()) % PORT_RANGE
    visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return {
        "coordinator_address": f"{env.hostnames[0]}:{port}",
        "num_processes": int(env.num_tasks),
        "process_id": int(env.global_rank),
        "local_device_ids": [int(env.local_rank)] if gpus and len(visible) != 1 else None,
    }


def execute_run_distributed(config: dict, progress: bool = False, gpus: bool = False) -> SignResult | VmcResult:
    """One task of a VMC run spread over the tasks of a submitit job (module docstring).

    Starts ``jax.distributed`` from :func:`distributed_arguments` (nothing to start for a job of
    one task), then :func:`execute_run`, with the run lock in process 0 only.

    Returns:
        The run's summary (every process computes it; process 0 writes it).

    Raises:
        RuntimeError: JAX has already started in this process (too late to distribute it).
    """
    import jax

    args = distributed_arguments(gpus=gpus)
    if args["num_processes"] > 1:
        jax.distributed.initialize(**args)
    return execute_run(config, progress, lock=jax.process_index() == 0)


def available_cores() -> list[int]:
    """The CPU cores this process may run on (its affinity mask), sorted."""
    return sorted(os.sched_getaffinity(0))


def memory_per_run_gib(n_sites: int, task: str = "sign") -> float:
    """Rough peak memory of one run in GiB, for bounding the local workers.

    About 0.8 GiB of libraries and compiled code, plus the sign datasets (up to 24 sites the whole
    Sz = 0 space is the test set: ~200 bytes per configuration at the peak) or, at 36 sites, the
    ground state the datasets look amplitudes up in (~5 GiB). Measured: a 24-site sign run
    (CNN, eps = 0.01) peaks at 1.2 GiB RSS.
    """
    base = 0.8
    if task == "vmc":
        return base + (1.0 if n_sites <= 24 else 5.0)
    if n_sites <= 24:
        return base + math.comb(n_sites, n_sites // 2) * 200 / 2**30
    return base + 5.0


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: the run locks still keep runs apart
        pass


def _init_worker(cores_queue) -> None:
    _die_with_parent()
    cores = cores_queue.get()
    os.sched_setaffinity(0, cores)


@contextlib.contextmanager
def _thread_environment(threads: int):
    """Set the thread-count variables for child processes (restored on exit)."""
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: str(threads) for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class LocalPool:
    """Parallel worker processes on this machine (module docstring).

    Args:
        workers: Number of worker processes (>= 1).
        cores: Cores to share among them (default :func:`available_cores`); each worker gets
            ``len(cores) // workers`` of them.

    Raises:
        ValueError: ``workers`` < 1 or more workers than cores.
    """

    def __init__(self, workers: int, cores: list[int] | None = None):
        cores = list(cores or available_cores())
        if workers < 1 or workers > len(cores):
            raise ValueError(f"need 1 <= workers <= {len(cores)} cores, got {workers}")
        self.capacity = workers
        self.cores = cores
        per = len(cores) // workers
        self.core_sets = [cores[k * per : (k + 1) * per] for k in range(workers)]
        self._env = _thread_environment(per)
        self._env.__enter__()
        ctx = mp.get_context("spawn")
        self._queue = ctx.Queue()
        for core_set in self.core_sets:
            self._queue.put(core_set)
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(self._queue,)
        )

    def submit(self, config: dict):
        """Start :func:`execute_run` on ``config`` in a worker; returns a ``Future``."""
        return self._executor.submit(execute_run, config)

    def call(self, fn, *args):
        """Run any picklable ``fn(*args)`` in a worker; returns a ``Future``."""
        return self._executor.submit(fn, *args)

    def shutdown(self, cancel: bool = False) -> None:
        """Stop the workers; with ``cancel`` (an interrupted sweep) kill runs in flight, which
        start again from scratch (VMC: from the checkpoint) the next time."""
        try:
            if cancel:
                for proc in list((getattr(self._executor, "_processes", None) or {}).values()):
                    if proc.is_alive():
                        proc.kill()
            self._executor.shutdown(wait=True, cancel_futures=True)
        finally:
            self._queue.close()
            self._queue.join_thread()
            self._env.__exit__(None, None, None)


class SubmititPool:
    """One submitit job per run (``"slurm"`` or ``"submitit-local"``; module docstring).

    Args:
        kind: ``"slurm"`` or ``"submitit-local"``.
        folder: Folder for submitit's pickles and job logs.
        sweep: Resources: ``slurm_time_min``, ``slurm_cpus`` (per task), ``slurm_mem_gib``,
            ``slurm_partition``, ``slurm_account``, ``slurm_nodes``, ``slurm_tasks_per_node``
            and ``slurm_gpus_per_node`` (several tasks: :func:`execute_run_distributed`, one
            process per device); ``workers`` bounds the local jobs in flight (default: the cores
            this process may use).

    Raises:
        ValueError: an unknown kind.
    """

    def __init__(self, kind: str, folder: str | os.PathLike, sweep: SweepConfig):
        import submitit

        clusters = {"slurm": "slurm", "submitit-local": "local"}
        if kind not in clusters:
            raise ValueError(f"unknown submitit executor {kind!r}; use one of {sorted(clusters)}")
        self.kind = kind
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=clusters[kind])
        params: dict[str, Any] = dict(
            name="nqs_dilated",
            timeout_min=sweep.slurm_time_min,
            cpus_per_task=sweep.slurm_cpus,
            mem_gb=sweep.slurm_mem_gib,
            nodes=sweep.slurm_nodes,
            tasks_per_node=sweep.slurm_tasks_per_node,
        )
        if sweep.slurm_gpus_per_node:
            params["gpus_per_node"] = sweep.slurm_gpus_per_node
        self.tasks = sweep.slurm_nodes * sweep.slurm_tasks_per_node
        self.gpus = sweep.slurm_gpus_per_node > 0
        if kind == "slurm":
            if sweep.slurm_partition:
                params["slurm_partition"] = sweep.slurm_partition
            if sweep.slurm_account:
                params["slurm_account"] = sweep.slurm_account
        self.executor.update_parameters(**params)
        # SLURM queues the jobs itself; local jobs all start at once, so bound them here
        self.capacity = 10**6 if kind == "slurm" else (sweep.workers or len(available_cores()))

    def submit(self, config: dict):
        """Submit one run: :func:`execute_run`, or :func:`execute_run_distributed` in every task
        of a job of several; the handle's ``result()`` is the summary (process 0's)."""
        if self.tasks > 1 or self.gpus:
            return _FirstTask(self.executor.submit(execute_run_distributed, config, False, self.gpus))
        return self.executor.submit(execute_run, config)

    def shutdown(self, cancel: bool = False) -> None:
        """Nothing to release: submitted jobs keep running (a restarted sweep skips what they
        finish; the run locks keep a resubmitted run from writing beside a running one)."""


class _FirstTask:
    """A submitit job of several tasks seen as one run: ``done()``, and ``result()`` of task 0."""

    def __init__(self, job):
        self.job = job

    def done(self) -> bool:
        return self.job.done()

    def result(self):
        return self.job.results()[0]


def check_executor(sweep: SweepConfig) -> None:
    """Fail early when the executor cannot work here.

    Raises:
        ValueError: ``slurm`` without the SLURM commands (``sbatch``, ``srun``) on the PATH.
    """
    if sweep.executor == "slurm":
        missing = [cmd for cmd in ("sbatch", "srun") if shutil.which(cmd) is None]
        if missing:
            raise ValueError(
                f"--executor slurm needs a SLURM cluster, but {' and '.join(missing)} is not on the PATH; "
                "run on the cluster's login node, or use --executor local"
            )


def make_pool(sweep: SweepConfig, directory: Path, n_pending: int, memory_gib: float) -> tuple[Pool, dict]:
    """The pool for ``sweep.executor`` and a description of it (for the log and the CLI).

    For the local executor, ``workers = min(requested or cores, cores, pending runs,
    MEMORY_FRACTION * available memory / memory_gib)``, at least 1.
    """
    if sweep.executor == "local":
        cores = available_cores()
        available = psutil.virtual_memory().available / 2**30
        by_memory = max(1, int(MEMORY_FRACTION * available // max(memory_gib, 1e-3)))
        workers = max(1, min(sweep.workers or len(cores), len(cores), max(n_pending, 1), by_memory))
        info = dict(
            executor="local",
            workers=workers,
            cores=cores,
            cores_per_worker=len(cores) // workers,
            memory_per_run_gib=memory_gib,
            available_gib=available,
        )
        return LocalPool(workers, cores), info
    pool = SubmititPool(sweep.executor, directory / "jobs", sweep)
    return pool, dict(executor=sweep.executor, in_flight=min(pool.capacity, max(n_pending, 1)))
