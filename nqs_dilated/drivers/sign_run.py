"""One supervised sign-fitting run, from a configuration to a finished run directory.

``config -> exact ground state (store) -> sign datasets -> model -> train_sign -> run directory``.
Used by ``python -m nqs_dilated.fit``; returns the summary and prints nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import flax.serialization
import jax

from ..config import FitConfig
from ..data import make_datasets
from ..ed.ground import ground_state
from ..lattice import load_lattice
from ..models import make_model, n_params
from ..rundir import RunDir
from ..symmetry import space_group
from .supervised import train_sign

__all__ = ["TRANSLATION_INVARIANT", "model_options", "run_sign_fit"]

#: Models exactly invariant under the translations of the cluster (see :mod:`nqs_dilated.models`):
#: their test set is evaluated once per translation orbit (``train_sign(invariant_perms=...)``).
TRANSLATION_INVARIANT = ("dilated", "cnn", "gcnn")


def model_options(cfg: FitConfig) -> dict:
    """The :func:`nqs_dilated.models.make_model` options a configuration implies (sign head).

    ``channels`` are the per-layer features of the G-CNN; ``hidden`` the dense layer sizes.
    """
    if cfg.model in ("dilated", "cnn"):
        opts = dict(channels=tuple(cfg.channels), kernel_size=cfg.kernel_size, residual=cfg.residual)
        if cfg.model == "dilated":
            opts["dilations"] = tuple(cfg.dilations)
        return opts
    if cfg.model == "dense":
        return dict(hidden=tuple(cfg.hidden))
    return dict(features=tuple(cfg.channels))


def run_sign_fit(cfg: FitConfig, *, progress: bool = True) -> dict:
    """Run (or skip, if already finished) the sign fit described by ``cfg``.

    Everything that can fail on bad input (cluster, model construction, output directory) is
    checked before anything is written.

    Returns:
        The summary dict written to ``summary.json`` (with ``"skipped": True`` and the stored
        summary when the run directory already holds the finished run).

    Raises:
        LatticeError, ValueError, RunDirError, MemoryError: bad input or an ED that does not fit.
    """
    import json

    out = Path(cfg.out or cfg.default_out())
    config = {**cfg.to_dict(), "out": str(out)}
    run = RunDir(out, config)
    if run.finished:
        return {**json.loads((out / "summary.json").read_text()), "skipped": True, "out": str(out)}
    cluster = load_lattice(cfg.lattice)
    model = make_model(cfg.model, cluster, **model_options(cfg))
    t0 = time.perf_counter()
    state = ground_state(cluster, cfg.j2, cfg.j1, method=cfg.ed_method, sector=cfg.sector)
    group = space_group(cluster)
    datasets = make_datasets(
        state, group, cfg.eps, seed=cfg.seed, n_test=cfg.n_test, eps_relative_to=cfg.eps_relative_to
    )

    run.start()
    result = train_sign(
        model,
        datasets,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        patience=cfg.patience if cfg.patience > 0 else None,
        seed=cfg.seed,
        progress=progress,
        callback=lambda record, params: run.log(record),
        invariant_perms=group.translations if cfg.model in TRANSLATION_INVARIANT else None,
    )
    run.write_bytes("params.msgpack", flax.serialization.to_bytes(jax.device_get(result.params)))
    metrics = {
        split: {**m, "size": len(ds)}
        for (split, m), ds in ((item, datasets.splits()[item[0]]) for item in result.metrics.items())
    }
    if "test" in metrics:  # the whole rest of the space: metrics as defined
        test = metrics["test"]
        test_acc, test_wacc, test_ovl = test["accuracy"], test["weighted_accuracy"], test["overlap"]
    else:  # sampled test sets: uniform sample for accuracy; on the |psi|^2 sample the plain
        # mean of s_pred s_exact estimates the weighted quantities (weighting again would count
        # |psi|^2 twice): weighted accuracy = accuracy there, overlap = 2 accuracy - 1.
        test_acc = metrics["test_uniform"]["accuracy"]
        test_wacc = metrics["test_weighted"]["accuracy"]
        test_ovl = 2 * test_wacc - 1
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
        "n_train": len(datasets.train),
        "n_val": len(datasets.val),
        "seed": cfg.seed,
        "test_accuracy": test_acc,
        "test_weighted_accuracy": test_wacc,
        "test_overlap": test_ovl,
        "metrics": metrics,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "evaluated_by_translation_orbits": result.orbit_splits,
        "ed_energy": state.energy,
        "ed_energy_per_site": state.energy / cluster.n_sites,
        "ed_method": state.info.method,
        "ed_sector": state.info.sector,
        "ed_residual": state.residual,
        "train_seconds": result.seconds,
        "seconds": time.perf_counter() - t0,
        "out": str(out),
    }
    run.write_json("summary.json", summary)
    return summary
