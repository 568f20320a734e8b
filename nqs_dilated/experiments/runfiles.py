"""The file names of a run directory (:mod:`nqs_dilated.experiments.rundir`), in one place."""

from __future__ import annotations

__all__ = ["CHECKPOINT", "CONFIG", "METRICS", "PARAMS", "PROVENANCE", "SUMMARY"]

#: The run's spec (:meth:`~nqs_dilated.experiments.specs.RunSpec.to_json`).
CONFIG = "config.json"
#: Package versions, git revision, energy convention, start time.
PROVENANCE = "provenance.json"
#: One JSON object per line, appended as the run goes.
METRICS = "metrics.jsonl"
#: The result, written last (:mod:`nqs_dilated.experiments.results`).
SUMMARY = "summary.json"
#: The final (sign fit: best) parameters, flax msgpack.
PARAMS = "params.msgpack"
#: The training state of an unfinished run (:mod:`nqs_dilated.training.checkpoint`).
CHECKPOINT = "checkpoint.msgpack"
