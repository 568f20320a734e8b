"""Run directories: what ran, with which code, and what came out.

A run directory holds ``config.json`` (the run's :class:`~nqs_dilated.experiments.specs.RunSpec`,
with its identity), ``provenance.json``
(package versions, git revision, convention, start time), ``metrics.jsonl`` (one JSON object per
line, appended as the run goes), ``summary.json`` (written once at the end) and the trained
parameters. Every file is written to a temporary name and renamed, so a reader never sees half a
file; ``summary.json`` appears last and marks the run as finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

from ..files import check_writable_dir, write_atomic
from ..hamiltonian import CONVENTION
from ..provenance import git_revision, package_versions
from .resolve import spec_from_json
from .runfiles import CHECKPOINT, CONFIG, METRICS, PARAMS, PROVENANCE, SUMMARY
from .specs import RunSpec

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "PARAMS",
    "PROVENANCE",
    "SUMMARY",
    "RunDir",
    "RunDirError",
    "read_spec",
    "read_summary",
]


def read_spec(run_dir: str | os.PathLike) -> RunSpec:
    """The :class:`~nqs_dilated.experiments.specs.RunSpec` recorded in ``run_dir/config.json``
    (either schema, :func:`~nqs_dilated.experiments.resolve.spec_from_json`).

    Raises:
        FileNotFoundError: no ``config.json`` in ``run_dir``.
        ValueError: the file holds no readable spec.
    """
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no {CONFIG}: not a run directory")
    return spec_from_json(json.loads(path.read_text()))


def read_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``summary.json`` of a finished run directory as a dict (the JSON form of a
    :class:`~nqs_dilated.experiments.results.SignResult` or
    :class:`~nqs_dilated.experiments.results.VmcResult`).

    Raises:
        FileNotFoundError: no ``summary.json`` (the run has not finished).
    """
    path = Path(run_dir) / SUMMARY
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no {SUMMARY}: the run has not finished")
    return json.loads(path.read_text())


class RunDirError(ValueError):
    """The output directory exists and holds something else."""


class RunDir:
    """A run directory (see the module docstring).

    Args:
        path: The directory. It may not exist yet, or be empty, or hold a run of the same identity
            (:meth:`~nqs_dilated.experiments.specs.RunSpec.identity`; then :attr:`finished` says
            whether it completed).
        spec: The run. Its ``out`` is set to ``path`` in ``config.json``.

    Raises:
        RunDirError: the directory holds files of another run or unrelated files.
        NotWritableError: (a ValueError) the directory cannot be created or written (a file in
            its path, a read-only file system).
    """

    def __init__(self, path: str | os.PathLike, spec: RunSpec):
        self.path = Path(path)
        self.spec = dataclasses.replace(spec, out=str(self.path))
        check_writable_dir(self.path, "output directory", "choose another --out")
        if self.path.exists():
            if not self.path.is_dir():
                raise RunDirError(f"output {self.path} exists and is not a directory; choose another --out")
            entries = [p for p in self.path.iterdir() if not p.name.startswith(".")]
            cfg = self.path / CONFIG
            if entries and not cfg.exists():
                raise RunDirError(f"output directory {self.path} is not empty and holds no run; choose another --out")
            if cfg.exists():
                try:
                    recorded = read_spec(self.path).identity()
                except ValueError as err:
                    raise RunDirError(f"output directory {self.path} holds an unreadable config.json ({err})") from None
                if recorded != self.spec.identity():
                    raise RunDirError(
                        f"output directory {self.path} holds another run (identity {recorded} in config.json, "
                        f"this run is {self.spec.identity()}); choose another --out or remove it"
                    )

    @property
    def finished(self) -> bool:
        """Whether ``summary.json`` exists (the run completed)."""
        return (self.path / SUMMARY).exists()

    def start(self) -> None:
        """Create the directory, write ``config.json`` and ``provenance.json``, truncate metrics."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / CONFIG, json.dumps(self.spec.to_json(), indent=2, sort_keys=True))
        provenance = {
            "versions": package_versions(),
            "git_revision": git_revision(),
            "convention": CONVENTION,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_atomic(self.path / PROVENANCE, json.dumps(provenance, indent=2))
        write_atomic(self.path / METRICS, "")

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl``."""
        with open(self.path / METRICS, "a") as f:
            f.write(json.dumps(record) + "\n")

    def truncate_log(self, keep) -> int:
        """Keep only the ``metrics.jsonl`` records for which ``keep(record)`` is true (a resumed
        run drops what it logged after its checkpoint); rewritten atomically. Returns the count kept."""
        path = self.path / METRICS
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [line for line in lines if line.strip() and keep(json.loads(line))]
        write_atomic(path, "".join(line + "\n" for line in kept))
        return len(kept)

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as JSON to ``name`` in the directory, atomically."""
        path = self.path / name
        write_atomic(path, json.dumps(obj, indent=2, sort_keys=True))
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write raw bytes (e.g. serialized parameters) atomically."""
        path = self.path / name
        write_atomic(path, data)
        return path
