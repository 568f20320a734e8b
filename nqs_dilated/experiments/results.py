"""Typed results of the runs: what ``summary.json`` holds.

:class:`SignResult` (a sign fit, :func:`~nqs_dilated.experiments.sign_run.run_sign_fit`) and
:class:`VmcResult` (a VMC run, :func:`~nqs_dilated.experiments.vmc_run.run_vmc`) are dataclasses
with :meth:`~_Result.to_json` (the content of ``summary.json``; ``task`` names the class) and
:meth:`~_Result.from_json`. Energies are in the Pauli convention (``sigma . sigma``, 4x the
``S . S`` values), like every energy of the package. Per-split metrics stay dicts keyed by split
name (``"train"``, ``"val"``, ``"test"`` or ``"test_uniform"``/``"test_weighted"``), each holding the
fields of :meth:`~nqs_dilated.data.SignDataset.sign_metrics` and ``size``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["RESULT_TYPES", "SignResult", "VmcResult", "result_from_json"]


def _transient(default: Any) -> Any:
    """A field that describes this invocation only and is not written to ``summary.json``."""
    return field(default=default, metadata={"json": False})


@dataclass
class _Result:
    task: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The content of ``summary.json``: ``task`` and every field but the transient ones
        (``skipped``)."""
        out = {"task": self.task}
        for f in dataclasses.fields(self):
            if f.metadata.get("json", True):
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], **transient: Any):
        """The result written by :meth:`to_json` (``task`` checked). A field missing from a file
        of an earlier version gets its default (None for figures that version did not measure);
        keys this version does not know are ignored.

        Raises:
            ValueError: ``data`` is the result of another task, or lacks a required field.
        """
        task = data.get("task", cls.task)
        if task != cls.task:
            raise ValueError(f"summary of a {task!r} run, not of a {cls.task!r} run")
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names}, **transient)
        except TypeError as err:
            raise ValueError(f"not a {cls.__name__} summary: {err}") from None


@dataclass
class SignResult(_Result):
    """A finished sign fit (:func:`~nqs_dilated.experiments.sign_run.run_sign_fit`).

    Attributes:
        lattice, n_sites, j1, j2, seed: The problem (couplings in the Pauli convention).
        convention: The energy convention (:data:`nqs_dilated.hamiltonian.CONVENTION`).
        model, model_options, n_params: The network.
        eps, eps_relative_to, split: The training fraction, its reference dimension and the split.
        n_train, n_val: Training and validation set sizes.
        coverage: Orbit coverage of the sets (:func:`nqs_dilated.data.split_coverage`).
        test_accuracy, test_weighted_accuracy, test_overlap: Test figures
            (:func:`~nqs_dilated.experiments.sign_run.test_figures`), with standard errors
            ``test_accuracy_se``, ``test_overlap_se``.
        marshall_test_accuracy, marshall_test_weighted_accuracy, marshall_test_overlap: The same
            figures of the Marshall sign rule on the same test set.
        metrics, marshall_metrics: Per-split sign metrics of the fit and of the Marshall rule.
        lr, budget: Adam rate and the budget (:class:`~nqs_dilated.training.sign_steps.TrainingBudget`).
        steps_run, best_step, best_epoch, stopped_early, left_plateau_step, resumed_from_step:
            How the training went.
        evaluated_by_translation_orbits: The splits whose metrics were evaluated once per translation orbit.
        walsh: The transform fit of the Walsh series (model ``"walsh"``): ``n_terms``, ``n_orbits``,
            ``degrees`` (histogram of the kept monomials' degrees) and the ``candidates`` with their
            validation figures; None for a network.
        ed_energy, ed_energy_per_site, ed_method, ed_sector, ed_residual: The exact reference.
        train_seconds, seconds: Wall time of the training and of the whole run.
        out: The run directory.
        skipped: The run had finished before (this invocation did nothing; not written).
    """

    task: ClassVar[str] = "sign"
    lattice: str
    n_sites: int
    j1: float
    j2: float
    seed: int
    model: str
    eps: float
    test_accuracy: float
    test_weighted_accuracy: float
    test_overlap: float
    metrics: dict[str, dict[str, float]]
    ed_energy: float
    convention: str | None = None
    model_options: dict[str, Any] | None = None
    n_params: int | None = None
    eps_relative_to: str = "sz0"
    split: str = "configurations"
    n_train: int | None = None
    n_val: int | None = None
    coverage: dict[str, Any] | None = None
    test_accuracy_se: float | None = None
    test_overlap_se: float | None = None
    marshall_test_accuracy: float | None = None
    marshall_test_weighted_accuracy: float | None = None
    marshall_test_overlap: float | None = None
    marshall_metrics: dict[str, dict[str, float]] | None = None
    lr: float | None = None
    budget: dict[str, Any] | None = None
    steps_run: int | None = None
    best_step: int | None = None
    best_epoch: float | None = None
    stopped_early: bool | None = None
    left_plateau_step: int | None = None
    resumed_from_step: int | None = None
    evaluated_by_translation_orbits: bool | list | None = None
    walsh: dict[str, Any] | None = None
    ed_energy_per_site: float | None = None
    ed_method: str | None = None
    ed_sector: str | None = None
    ed_residual: float | None = None
    train_seconds: float | None = None
    seconds: float | None = None
    out: str | None = None
    skipped: bool = _transient(False)


@dataclass
class VmcResult(_Result):
    """A VMC run (:func:`~nqs_dilated.experiments.vmc_run.run_vmc`).

    Attributes:
        lattice, n_sites, j1, j2: The problem (Pauli convention).
        convention: The energy convention.
        model, model_options, n_params: The network.
        mode, sign_source, sign_prior, symmetrize: The wave function
            (:class:`~nqs_dilated.experiments.specs.VmcSpec`).
        sign_fit: The chained sign fit's summary (``sign_source``/``sign_prior`` ``"fit"``), or None.
        sign_check: The quality check of a learned sign, or None.
        pretraining: The amplitude fit's figures (:class:`~nqs_dilated.training.amplitude.AmplitudeResult`
            without its history, plus ``eps``), or None.
        structure_factor: ``S(q)`` at the exact peak, variational vs exact
            (:func:`~nqs_dilated.observables.compare_peak`), or None.
        n_samples, exact, n_iter: Sampling and budget.
        steps_done, resumed_from, status, sr_mode, max_step, restored_step, rejected_steps: How
            the optimisation went (``status``: ``"finished"``, ``"timeout"``, ``"invalid_loss"``, ...).
        seconds_per_iter, optimisation_seconds_total, seconds: Wall times (the total over every
            invocation up to the final state; ``seconds`` this invocation).
        energy, energy_error, variance, r_hat, energy_per_site: The final energy (fresh samples).
        ed_energy, relative_error, fidelity: Against the exact ground state (``fidelity``: exact
            overlap where the space is enumerated, else None).
        devices, processes, platform, sharding: Where it ran.
        ed_method, ed_sector: The exact reference.
        out: The run directory.
        skipped: The run had finished before (not written).
    """

    task: ClassVar[str] = "vmc"
    lattice: str
    n_sites: int
    j1: float
    j2: float
    model: str
    mode: str
    energy: float
    status: str
    convention: str | None = None
    model_options: dict[str, Any] | None = None
    sign_source: str | None = None
    sign_prior: str | None = None
    symmetrize: bool = False
    sign_fit: dict[str, Any] | None = None
    sign_check: dict[str, Any] | None = None
    pretraining: dict[str, Any] | None = None
    structure_factor: dict[str, Any] | None = None
    n_params: int | None = None
    n_samples: int | None = None
    exact: bool = False
    n_iter: int | None = None
    steps_done: int | None = None
    resumed_from: int | None = None
    sr_mode: str | None = None
    max_step: float | None = None
    restored_step: int | None = None
    rejected_steps: int | None = None
    seconds_per_iter: float | None = None
    optimisation_seconds_total: float | None = None
    energy_error: float | None = None
    variance: float | None = None
    r_hat: float | None = None
    energy_per_site: float | None = None
    ed_energy: float | None = None
    relative_error: float | None = None
    fidelity: float | None = None
    devices: int | None = None
    processes: int | None = None
    platform: str | None = None
    sharding: bool | None = None
    ed_method: str | None = None
    ed_sector: str | None = None
    seconds: float | None = None
    out: str | None = None
    skipped: bool = _transient(False)


#: The result class of each task.
RESULT_TYPES = {SignResult.task: SignResult, VmcResult.task: VmcResult}


def result_from_json(data: dict[str, Any], **transient: Any) -> SignResult | VmcResult:
    """The typed result of a ``summary.json`` of either task (``task`` selects the class; a file
    without it is a sign fit's).

    Raises:
        ValueError: an unknown task, or a file that is no result.
    """
    task = data.get("task", SignResult.task)
    if task not in RESULT_TYPES:
        raise ValueError(f"summary of unknown task {task!r}; expected one of {sorted(RESULT_TYPES)}")
    return RESULT_TYPES[task].from_json(data, **transient)
