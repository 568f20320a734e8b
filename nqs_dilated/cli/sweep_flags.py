"""The flags of ``nqs-dilated sweep`` and ``search``: the worker pool (executors, resources) and the
search space (:class:`~nqs_dilated.experiments.sweep_config.SweepConfig` fields)."""

from __future__ import annotations

import argparse

from ..experiments.sweep_config import EXECUTORS, SweepConfig
from .argtypes import csv_text, int_list, int_pair

__all__ = ["add_pool_flags", "add_search_flags"]


def add_pool_flags(p: argparse.ArgumentParser, sw: SweepConfig, seeds_default: str) -> None:
    g = p.add_argument_group("where the runs execute")
    g.add_argument("--seeds", type=int, help=f"seeds per point: SEED, SEED+1, ... (default {seeds_default})")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        help=f"local processes, SLURM jobs or submitit's local executor (default {sw.executor})",
    )
    g.add_argument("--workers", type=int, help="local runs in parallel (default 0: as many as cores and memory allow)")
    g.add_argument(
        "--memory-per-run",
        dest="memory_gib",
        type=float,
        help="GiB one run needs (default 0: estimated from the cluster)",
    )
    g.add_argument("--slurm-partition", help="SLURM partition (default: the cluster's)")
    g.add_argument("--slurm-account", help="SLURM account (default: the cluster's)")
    g.add_argument(
        "--slurm-time",
        dest="slurm_time_min",
        type=int,
        help=f"SLURM time limit per run, minutes (default {sw.slurm_time_min})",
    )
    g.add_argument("--slurm-cpus", type=int, help=f"CPUs per SLURM task (default {sw.slurm_cpus})")
    g.add_argument(
        "--slurm-mem",
        dest="slurm_mem_gib",
        type=float,
        help=f"memory per SLURM job, GiB (default {sw.slurm_mem_gib:g})",
    )
    g.add_argument("--slurm-nodes", type=int, help=f"VMC: nodes per run (default {sw.slurm_nodes})")
    g.add_argument(
        "--slurm-tasks-per-node",
        type=int,
        help=f"VMC: processes per node, one per device (default {sw.slurm_tasks_per_node})",
    )
    g.add_argument("--slurm-gpus-per-node", type=int, help=f"VMC: GPUs per node (default {sw.slurm_gpus_per_node})")


def add_search_flags(p: argparse.ArgumentParser, sw: SweepConfig) -> None:
    g = p.add_argument_group("search space and budget")
    g.add_argument(
        "--trials", type=int, help="budget: trials in the study, resumed ones included (default 20 without --minutes)"
    )
    g.add_argument("--minutes", type=float, help="budget: minutes of this invocation (default: none)")
    g.add_argument("--search-depth", type=int_pair, help=f"layers MIN,MAX (default {csv_text(sw.search_depth)})")
    g.add_argument("--search-kernel", type=int_pair, help=f"kernel size MIN,MAX (default {csv_text(sw.search_kernel)})")
    g.add_argument(
        "--search-max-dilation",
        type=int,
        help=f"largest dilation (default {sw.search_max_dilation}; the cluster may lower it)",
    )
    g.add_argument(
        "--search-channels",
        type=int_list,
        help=f"channel counts to choose from (default {csv_text(sw.search_channels)})",
    )
