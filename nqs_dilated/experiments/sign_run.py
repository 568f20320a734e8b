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

import json
import time
from collections.abc import Callable
from pathlib import Path

import flax.serialization
import jax
import numpy as np

from ..data import SignDatasets, make_datasets
from ..ed.ground import ground_state
from ..lattice import load_lattice
from ..models import TRANSLATION_INVARIANT, make_model, n_params
from ..models.wavefunction import MarshallSign
from ..symmetry import space_group
from ..training.sign import train_sign
from ..training.sign_steps import training_budget
from .config import FitConfig
from .options import budget_options, model_options
from .rundir import CHECKPOINT, CONFIG, PARAMS, SUMMARY, RunDir

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


def run_sign_fit(cfg: FitConfig, *, progress: bool = True, report: Callable[[str], None] | None = None) -> dict:
    """Run (or resume, or skip if already finished) the sign fit described by ``cfg``.

    Everything that can fail on bad input (cluster, model construction, output directory) is
    checked before anything is written. An unfinished run directory of the same configuration
    holding ``checkpoint.msgpack`` is resumed from it (same final metrics as an uninterrupted run).

    Args:
        cfg: The resolved configuration.
        progress: Show the tqdm bar of the training (stderr).
        report: Called with one line of text at each stage (ground state, data, resume, training).

    Returns:
        The summary dict written to ``summary.json`` (with ``"skipped": True`` and the stored
        summary when the run directory already holds the finished run).

    Raises:
        LatticeError, ValueError, RunDirError, MemoryError: bad input or an ED that does not fit.
    """
    say = report or (lambda line: None)
    out = Path(cfg.out or cfg.default_out())
    config = {**cfg.to_dict(), "out": str(out)}
    run = RunDir(out, config)
    if run.finished:
        return {**json.loads((out / SUMMARY).read_text()), "skipped": True, "out": str(out)}
    cluster = load_lattice(cfg.lattice)
    model = make_model(cfg.model, cluster, **model_options(cfg))
    t0 = time.perf_counter()
    say(f"exact ground state of {cluster.name} at J2/J1 = {cfg.j2:g} (sector {cfg.sector}, store or ED) ...")
    state = ground_state(cluster, cfg.j2, cfg.j1, method=cfg.ed_method, sector=cfg.sector)
    say(
        f"E0 = {state.energy:.10f} (Pauli) in sector {state.info.sector}"
        f" ({'loaded from the store' if getattr(state, 'loaded', False) else f'{time.perf_counter() - t0:.1f} s'})"
    )
    group = space_group(cluster)
    datasets = make_datasets(
        state,
        group,
        cfg.eps,
        seed=cfg.seed,
        n_test=cfg.n_test,
        eps_relative_to=cfg.eps_relative_to,
        split=cfg.split,
    )
    coverage = datasets.info["coverage"]
    say(
        f"split {cfg.split}: {coverage['n_train_orbits']:,} training orbits hold "
        f"{coverage['train_orbit_weight']:.4f} of |psi|^2"
    )
    resume = _read_checkpoint(run)
    if resume is None:
        run.start()
    else:
        run.truncate_log(lambda record: record.get("step", 0) <= resume[1])
    budget = training_budget(len(datasets.train), **budget_options(cfg))
    say(
        f"n_train = {len(datasets.train):,}, n_val = {len(datasets.val):,}; {budget.steps:,} Adam steps of "
        f"batch {budget.batch_size:,} ({budget.epochs:.1f} epochs), validation every {budget.eval_every} steps, "
        f"patience {budget.patience or 'off'}"
    )
    if resume is not None:
        say(f"resuming from step {resume[1]} ({run.path / CHECKPOINT})")
    result = train_sign(
        model,
        datasets,
        lr=cfg.lr,
        **budget_options(cfg),
        seed=cfg.seed,
        progress=progress,
        callback=lambda record, params: run.log(record),
        invariant_perms=group.translations if cfg.model in TRANSLATION_INVARIANT else None,
        resume=None if resume is None else resume[0],
        on_checkpoint=lambda ck: run.write_bytes(CHECKPOINT, ck.to_bytes()),
    )
    run.write_bytes(PARAMS, flax.serialization.to_bytes(jax.device_get(result.params)))
    splits = datasets.splits()
    metrics = {split: {**m, "size": len(splits[split])} for split, m in result.metrics.items()}
    test_acc, test_wacc, test_ovl = test_figures(metrics)
    test_acc_se, _, test_ovl_se = test_figures(metrics, "_se")
    marshall = marshall_metrics(datasets, cluster)
    m_acc, m_wacc, m_ovl = test_figures(marshall)
    summary = {
        "task": "sign",
        "lattice": cluster.name,
        "n_sites": cluster.n_sites,
        "j1": cfg.j1,
        "j2": cfg.j2,
        "convention": state.info.convention,
        "model": cfg.model,
        "model_options": {k: list(v) if isinstance(v, tuple) else v for k, v in model_options(cfg).items()},
        "n_params": n_params(result.params),
        "eps": cfg.eps,
        "eps_relative_to": datasets.info.get("eps_relative_to", "sz0"),
        "split": cfg.split,
        "n_train": len(datasets.train),
        "n_val": len(datasets.val),
        "coverage": coverage,
        "seed": cfg.seed,
        "test_accuracy": test_acc,
        "test_accuracy_se": test_acc_se,
        "test_weighted_accuracy": test_wacc,
        "test_overlap": test_ovl,
        "test_overlap_se": test_ovl_se,
        "marshall_test_accuracy": m_acc,
        "marshall_test_weighted_accuracy": m_wacc,
        "marshall_test_overlap": m_ovl,
        "metrics": metrics,
        "marshall_metrics": marshall,
        "lr": cfg.lr,
        "budget": budget.to_dict(),
        "steps_run": result.history[-1]["step"] if result.history else 0,
        "best_step": result.best_step,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "left_plateau_step": result.left_plateau_step,
        "resumed_from_step": result.resumed_from,
        "evaluated_by_translation_orbits": result.orbit_splits,
        "ed_energy": state.energy,
        "ed_energy_per_site": state.energy / cluster.n_sites,
        "ed_method": state.info.method,
        "ed_sector": state.info.sector,
        "ed_residual": state.residual,
        "train_seconds": result.history[-1]["seconds"] if result.history else 0.0,
        "seconds": time.perf_counter() - t0,
        "out": str(out),
    }
    from .plots import plot_training

    plot_training(
        result.history,
        out / "plots",
        marshall_overlap=marshall["val"]["overlap"] if "val" in marshall else None,
        title=f"{cluster.name}  J2/J1 = {cfg.j2:g}  {cfg.model}  eps = {cfg.eps:g}",
    )
    run.write_json(SUMMARY, summary)
    (run.path / CHECKPOINT).unlink(missing_ok=True)
    return summary


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
    from .config import ConfigError
    from .resolve import resolve

    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no config.json: not a run directory")
    values = json.loads(path.read_text())
    if values.get("task", "sign") != "sign":
        raise ConfigError(f"{run_dir} is a {values['task']} run; the split report needs a sign fit")
    values.setdefault("split", "configurations")
    cfg = resolve({k: v for k, v in values.items() if k != "out"})
    cluster = load_lattice(cfg.lattice)
    state = ground_state(cluster, cfg.j2, cfg.j1, method=cfg.ed_method, sector=cfg.sector)
    datasets = make_datasets(
        state,
        space_group(cluster),
        cfg.eps,
        seed=cfg.seed,
        n_test=cfg.n_test,
        eps_relative_to=cfg.eps_relative_to,
        split=cfg.split,
    )
    sizes = {name: len(ds) for name, ds in datasets.splits().items() if name.startswith("test")}
    return {
        "run": str(run_dir),
        "split": cfg.split,
        "n_train": len(datasets.train),
        "n_val": len(datasets.val),
        "test_sizes": sizes,
        **datasets.info["coverage"],
    }
