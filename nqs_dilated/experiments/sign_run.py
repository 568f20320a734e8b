"""One supervised sign-fitting run, from a configuration to a finished run directory.

``config -> exact ground state (store) -> sign datasets -> model -> train_sign -> run directory``.
Used by ``python -m nqs_dilated.fit``; returns the summary and prints nothing (progress lines go
to the ``report`` callback).

Run directory (:mod:`nqs_dilated.experiments.rundir`): ``config.json``, ``provenance.json``, ``metrics.jsonl``
(one record per validation), ``checkpoint.msgpack`` (the training state at the last validation,
written atomically; a rerun of an unfinished run resumes from it and ends with the metrics of an
uninterrupted run), ``params.msgpack`` (the best parameters), ``summary.json`` and
``plots/training.png`` (training and validation loss, validation overlap against the step, with
the Marshall-sign overlap of the exact state as a baseline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import flax.serialization
import jax
import numpy as np

from ..data import SignDatasets, make_datasets
from ..ed.ground import ground_state
from ..lattice import load_lattice
from ..models import FITTED_WITHOUT_NETWORK, TRANSLATION_INVARIANT, make_model, n_params
from ..models.wavefunction import MarshallSign
from ..symmetry import space_group
from ..training.sign import train_sign
from ..training.sign_steps import training_budget
from ..training.walsh import check_size as check_walsh_size
from ..training.walsh import fit_walsh_series
from .config import ConfigError
from .results import SignResult
from .rundir import CHECKPOINT, PARAMS, SUMMARY, RunDir, read_spec, read_summary
from .specs import RunSpec

__all__ = ["marshall_metrics", "run_sign_fit", "split_report", "test_figures"]


def test_figures(metrics: dict[str, dict], suffix: str = "") -> tuple[float, float, float]:
    """``(accuracy, weighted accuracy, overlap)`` on the test set from per-split sign metrics
    (with ``suffix="_se"``: their standard errors).

    On the exhaustive test set (``"test"``, <= 24 sites) the metrics as defined. On the sampled
    sets (36 sites): accuracy on the uniform sample, weighted accuracy and overlap on the
    ``|psi|^2`` sample (there the plain means, see :meth:`~nqs_dilated.data.SignDataset.sign_metrics`).
    """
    if "test" in metrics:
        t = metrics["test"]
        return t["accuracy" + suffix], t["weighted_accuracy" + suffix], t["overlap" + suffix]
    weighted = metrics["test_weighted"]
    return (
        metrics["test_uniform"]["accuracy" + suffix],
        weighted["weighted_accuracy" + suffix],
        weighted["overlap" + suffix],
    )


def marshall_metrics(datasets: SignDatasets, cluster) -> dict[str, dict[str, float]]:
    """The sign metrics of the Marshall sign rule (:class:`~nqs_dilated.models.wavefunction.MarshallSign`)
    on every split of ``datasets``: the baseline a learned sign has to beat (exact at J2 = 0)."""
    rule = MarshallSign.from_grid(cluster.grid)
    out = {}
    for name, ds in datasets.splits().items():
        if len(ds):
            pred = np.asarray(rule.apply({}, ds.configs)).astype(np.int8)
            out[name] = ds.sign_metrics(pred)
    return out


def _read_checkpoint(run: RunDir) -> tuple[bytes, int] | None:
    path = run.path / CHECKPOINT
    if not path.is_file():
        return None
    data = path.read_bytes()
    return data, int(flax.serialization.msgpack_restore(data)["step"])


def run_sign_fit(spec: RunSpec, *, progress: bool = True, report: Callable[[str], None] | None = None) -> SignResult:
    """Run (or resume, or skip if already finished) the sign fit described by ``spec``.

    Everything that can fail on bad input (cluster, model construction, output directory) is
    checked before anything is written. An unfinished run directory of the same configuration
    holding ``checkpoint.msgpack`` is resumed from it (same final metrics as an uninterrupted run).

    Args:
        spec: The run (task ``"sign"``; :func:`~nqs_dilated.experiments.resolve.resolve`).
        progress: Show the tqdm bar of the training (stderr).
        report: Called with one line of text at each stage (ground state, data, resume, training).

    Returns:
        The result written to ``summary.json`` (the stored one, with ``skipped`` true, when the
        run directory already holds the finished run).

    Raises:
        LatticeError, ValueError, RunDirError, MemoryError: bad input or an ED that does not fit.
    """
    say = report or (lambda line: None)
    problem, sign = spec.problem, spec.sign
    out = spec.output()
    run = RunDir(out, spec)
    if run.finished:
        return SignResult.from_json({**read_summary(out), "out": str(out)}, skipped=True)
    cluster = load_lattice(problem.lattice)
    if spec.model.name in FITTED_WITHOUT_NETWORK:
        model = None
        check_walsh_size(cluster.n_sites)  # before the ED and the data
    else:
        model = make_model(spec.model.name, cluster, **spec.model.options())
    t0 = time.perf_counter()
    say(f"exact ground state of {cluster.name} at J2/J1 = {problem.j2:g} (sector {problem.sector}, store or ED) ...")
    state = ground_state(cluster, problem.j2, problem.j1, method=problem.ed_method, sector=problem.sector)
    say(
        f"E0 = {state.energy:.10f} (Pauli) in sector {state.info.sector}"
        f" ({'loaded from the store' if getattr(state, 'loaded', False) else f'{time.perf_counter() - t0:.1f} s'})"
    )
    group = space_group(cluster)
    datasets = _datasets(spec, state, group)
    coverage = datasets.info["coverage"]
    say(
        f"split {sign.split}: {coverage['n_train_orbits']:,} training orbits hold "
        f"{coverage['train_orbit_weight']:.4f} of |psi|^2"
    )
    if model is None:
        fitted, training, history = _fit_walsh(run, datasets, group, say)
    else:
        fitted, training, history = _train_network(spec, model, run, datasets, group, progress, say)
    splits = datasets.splits()
    metrics = {split: {**m, "size": len(splits[split])} for split, m in fitted.items()}
    test_acc, test_wacc, test_ovl = test_figures(metrics)
    test_acc_se, _, test_ovl_se = test_figures(metrics, "_se")
    marshall = marshall_metrics(datasets, cluster)
    m_acc, m_wacc, m_ovl = test_figures(marshall)
    result = SignResult(
        lattice=cluster.name,
        n_sites=cluster.n_sites,
        j1=problem.j1,
        j2=problem.j2,
        seed=spec.seed,
        convention=state.info.convention,
        model=spec.model.name,
        model_options={k: list(v) if isinstance(v, tuple) else v for k, v in spec.model.options().items()},
        eps=sign.eps,
        eps_relative_to=datasets.info.get("eps_relative_to", "sz0"),
        split=sign.split,
        n_train=len(datasets.train),
        n_val=len(datasets.val),
        coverage=coverage,
        test_accuracy=test_acc,
        test_accuracy_se=test_acc_se,
        test_weighted_accuracy=test_wacc,
        test_overlap=test_ovl,
        test_overlap_se=test_ovl_se,
        marshall_test_accuracy=m_acc,
        marshall_test_weighted_accuracy=m_wacc,
        marshall_test_overlap=m_ovl,
        metrics=metrics,
        marshall_metrics=marshall,
        **training,
        ed_energy=state.energy,
        ed_energy_per_site=state.energy / cluster.n_sites,
        ed_method=state.info.method,
        ed_sector=state.info.sector,
        ed_residual=state.residual,
        seconds=time.perf_counter() - t0,
        out=str(out),
    )
    if history:
        from .plots import plot_training

        plot_training(
            history,
            out / "plots",
            marshall_overlap=marshall["val"]["overlap"] if "val" in marshall else None,
            title=f"{cluster.name}  J2/J1 = {problem.j2:g}  {spec.model.name}  eps = {sign.eps:g}",
        )
    run.write_json(SUMMARY, result.to_json())
    (run.path / CHECKPOINT).unlink(missing_ok=True)
    return result


def _train_network(spec: RunSpec, model, run: RunDir, datasets: SignDatasets, group, progress, say):
    """Train a sign network (:func:`~nqs_dilated.training.sign.train_sign`), resuming from the
    run's checkpoint; ``(metrics per split, the result's training fields, history)``."""
    sign = spec.sign
    resume = _read_checkpoint(run)
    if resume is None:
        run.start()
    else:
        run.truncate_log(lambda record: record.get("step", 0) <= resume[1])
    budget = training_budget(len(datasets.train), **sign.budget_options())
    say(
        f"n_train = {len(datasets.train):,}, n_val = {len(datasets.val):,}; {budget.steps:,} Adam steps of "
        f"batch {budget.batch_size:,} ({budget.epochs:.1f} epochs), validation every {budget.eval_every} steps, "
        f"patience {budget.patience or 'off'}"
    )
    if resume is not None:
        say(f"resuming from step {resume[1]} ({run.path / CHECKPOINT})")
    fit = train_sign(
        model,
        datasets,
        lr=sign.lr,
        **sign.budget_options(),
        seed=spec.seed,
        progress=progress,
        callback=lambda record, params: run.log(record),
        invariant_perms=group.translations if spec.model.name in TRANSLATION_INVARIANT else None,
        resume=None if resume is None else resume[0],
        on_checkpoint=lambda ck: run.write_bytes(CHECKPOINT, ck.to_bytes()),
    )
    run.write_bytes(PARAMS, flax.serialization.to_bytes(jax.device_get(fit.params)))
    training = {
        "n_params": n_params(fit.params),
        "lr": sign.lr,
        "budget": budget.to_dict(),
        "steps_run": fit.history[-1]["step"] if fit.history else 0,
        "best_step": fit.best_step,
        "best_epoch": fit.best_epoch,
        "stopped_early": fit.stopped_early,
        "left_plateau_step": fit.left_plateau_step,
        "resumed_from_step": fit.resumed_from,
        "evaluated_by_translation_orbits": fit.orbit_splits,
        "train_seconds": fit.history[-1]["seconds"] if fit.history else 0.0,
    }
    return fit.metrics, training, fit.history


def _fit_walsh(run: RunDir, datasets: SignDatasets, group, say):
    """Fit the truncated Walsh series by the transform of the training labels
    (:func:`~nqs_dilated.training.walsh.fit_walsh_series`); ``(metrics, training fields, no history)``.
    ``params.msgpack`` holds the kept monomials (bit masks) and their coefficients."""
    run.start()
    say(f"n_train = {len(datasets.train):,}, n_val = {len(datasets.val):,}; Walsh transform of the training labels")
    fit = fit_walsh_series(datasets, group.translations)
    for c in fit.candidates:
        run.log({"stage": "walsh", **c})
    run.write_bytes(PARAMS, flax.serialization.to_bytes({"masks": fit.masks, "coefficients": fit.coefficients}))
    say(f"kept {fit.n_terms:,} monomials ({fit.n_orbits:,} translation orbits), chosen on the validation overlap")
    training = {
        "n_params": fit.n_terms,
        "walsh": {
            "n_terms": fit.n_terms,
            "n_orbits": fit.n_orbits,
            "degrees": fit.degrees,
            "candidates": fit.candidates,
        },
        "evaluated_by_translation_orbits": [],
        "train_seconds": fit.seconds,
    }
    return fit.metrics, training, []


def _datasets(spec: RunSpec, state, group) -> SignDatasets:
    """The sign datasets of a sign-fit spec (:func:`nqs_dilated.data.make_datasets`)."""
    sign = spec.sign
    return make_datasets(
        state,
        group,
        sign.eps,
        seed=spec.seed,
        n_test=sign.n_test,
        eps_relative_to=sign.eps_relative_to,
        split=sign.split,
    )


def split_report(run_dir: str | Path) -> dict:
    """The orbit coverage and leakage of the sets a sign-fit run directory was trained and tested on.

    The sets are drawn again from the run's ``config.json`` (the draw is deterministic given the
    seed; the exact state comes from the store, or the ED); a ``config.json`` without ``split``
    is a run of the ``"configurations"`` split of earlier versions. Use it to see how much of an
    old run's test weight lay in training orbits, where an invariant network gives the training
    output by construction.

    Returns:
        ``{"run", "split", "n_train", "n_val", "test_sizes", **coverage}`` with the coverage of
        :func:`nqs_dilated.data.split_coverage`.

    Raises:
        FileNotFoundError: no ``config.json`` in ``run_dir``.
        ConfigError: the directory is not a sign-fit run, or its config is invalid.
    """
    spec = read_spec(run_dir)
    if spec.task != "sign":
        raise ConfigError(f"{run_dir} is a {spec.task} run; the split report needs a sign fit")
    problem = spec.problem
    cluster = load_lattice(problem.lattice)
    state = ground_state(cluster, problem.j2, problem.j1, method=problem.ed_method, sector=problem.sector)
    datasets = _datasets(spec, state, space_group(cluster))
    sizes = {name: len(ds) for name, ds in datasets.splits().items() if name.startswith("test")}
    return {
        "run": str(run_dir),
        "split": spec.sign.split,
        "n_train": len(datasets.train),
        "n_val": len(datasets.val),
        "test_sizes": sizes,
        **datasets.info["coverage"],
    }
