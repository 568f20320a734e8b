"""Run directories: what ran, with which code, and what came out.

A run directory holds ``config.json`` (the full resolved configuration), ``provenance.json``
(package versions, git revision, convention, start time), ``metrics.jsonl`` (one JSON object per
line, appended as the run goes), ``summary.json`` (written once at the end) and the trained
parameters. Every file is written to a temporary name and renamed, so a reader never sees half a
file; ``summary.json`` appears last and marks the run as finished.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..files import check_writable_dir, write_atomic
from ..hamiltonian import CONVENTION
from ..provenance import git_revision, package_versions

__all__ = ["CHECKPOINT", "CONFIG", "METRICS", "PARAMS", "PROVENANCE", "SUMMARY", "RunDirError", "RunDir"]


#: The files of a run directory (every module names them through these constants).
CONFIG = "config.json"
PROVENANCE = "provenance.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
PARAMS = "params.msgpack"
CHECKPOINT = "checkpoint.msgpack"


class RunDirError(ValueError):
    """The output directory exists and holds something else."""


class RunDir:
    """A run directory (see the module docstring).

    Args:
        path: The directory. It may not exist yet, or be empty, or hold a run with the same
            ``config.json`` (then :attr:`finished` says whether it completed).

    Raises:
        RunDirError: the directory holds files of another run or unrelated files.
        NotWritableError: (a ValueError) the directory cannot be created or written (a file in
            its path, a read-only file system).
    """

    def __init__(self, path: str | os.PathLike, config: dict[str, Any]):
        self.path = Path(path)
        self.config = config
        check_writable_dir(self.path, "output directory", "choose another --out")
        if self.path.exists():
            if not self.path.is_dir():
                raise RunDirError(f"output {self.path} exists and is not a directory; choose another --out")
            entries = [p for p in self.path.iterdir() if not p.name.startswith(".")]
            cfg = self.path / CONFIG
            if entries and not cfg.exists():
                raise RunDirError(f"output directory {self.path} is not empty and holds no run; choose another --out")
            if cfg.exists() and json.loads(cfg.read_text()) != json.loads(json.dumps(config)):
                raise RunDirError(
                    f"output directory {self.path} holds another run (different config.json); "
                    "choose another --out or remove it"
                )

    @property
    def finished(self) -> bool:
        """Whether ``summary.json`` exists (the run completed)."""
        return (self.path / SUMMARY).exists()

    def start(self) -> None:
        """Create the directory, write ``config.json`` and ``provenance.json``, truncate metrics."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / CONFIG, json.dumps(self.config, indent=2, sort_keys=True))
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
