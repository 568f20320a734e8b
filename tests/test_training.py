"""Training drivers in NetKet's style: the loop protocol (callbacks, loggers, StopRun), the amplitude
fit (VMC pretraining) with its bit-for-bit resume, and the named choices parsed once."""

import json

import flax.serialization
import jax
import netket as nk
import numpy as np
import pytest
from test_supervised import MLP

from nqs_dilated.data import make_datasets
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.models import FITTED_WITHOUT_NETWORK, MODELS, ModelName, make_model
from nqs_dilated.training.amplitude import AmplitudeFit
from nqs_dilated.training.callbacks import CheckpointCallback, PlateauEarlyStopping
from nqs_dilated.training.checkpoint import CheckpointError
from nqs_dilated.training.sign import SignFit, train_sign
from nqs_dilated.training.vmc import exact_fidelity
from nqs_dilated.training.wavefunction import SignSource, VmcMode, make_sign, make_state, make_wavefunction


@pytest.fixture(scope="module")
def sign_sets(group_4x4):
    return make_datasets(ground_state("triangular-4x4", 0.0), group_4x4, eps=0.1, seed=0)


def _same(a, b) -> bool:
    return all(jax.tree.leaves(jax.tree.map(lambda x, y: bool(np.array_equal(x, y)), a, b)))


def test_sign_fit_driver_is_train_sign(sign_sets):
    """The driver run block by block with NetKet's RuntimeLog equals train_sign's one call, and the
    logger receives every validation record."""
    kw = dict(steps=120, eval_every=20, batch_size=64, seed=3)
    fit = SignFit(MLP(hidden=8), sign_sets, **kw)
    log = nk.logging.RuntimeLog()
    fit.run(50, out=log)
    fit.run(70, out=log)  # 50 = 20 + 20 + 10, then 20 + 20 + 20 + 10
    assert fit.step_count == 120
    assert list(log.data["val_loss"].iters) == [20, 40, 50, 70, 90, 110, 120]
    assert list(log.data["val_loss"].values) == [r["val_loss"] for r in fit.history]
    one = train_sign(MLP(hidden=8), sign_sets, progress=False, **kw)  # validations at 20, 40, ..., 120
    by_step = {r["step"]: r["val_loss"] for r in fit.history}
    for r in one.history:
        if r["step"] in by_step:  # the same Adam steps, whatever the blocks between validations
            assert r["val_loss"] == pytest.approx(by_step[r["step"]], rel=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), one.params, fit.result().params)
    assert not fit.stopped_early


def test_callbacks_stop_the_run(sign_sets):
    """A legacy callback returning False and a NetKet callback raising StopRun both stop the run
    after the iteration they see; NetKet's own Timeout works on the fit."""
    fit = SignFit(MLP(hidden=8), sign_sets, steps=400, eval_every=10, batch_size=64)
    fit.run(400, callback=lambda step, log_data, driver: step < 30)
    assert fit.step_count == 30 and fit.stopped_early

    class StopAt50(nk.callbacks.AbstractCallback):
        def on_step_end(self, step, log_data, driver):
            if step >= 50:
                raise nk.callbacks.StopRun("enough")

    fit = SignFit(MLP(hidden=8), sign_sets, steps=400, eval_every=10, batch_size=64)
    fit.run(400, callback=StopAt50())
    assert fit.step_count == 50 and fit.stopped_early
    fit = SignFit(MLP(hidden=8), sign_sets, steps=400, eval_every=10, batch_size=64)
    fit.run(400, callback=nk.callbacks.Timeout(1e-6))
    assert fit.stopped_early and fit.step_count == 10


def test_plateau_early_stopping_waits_for_the_plateau(sign_sets):
    fit = SignFit(MLP(hidden=8), sign_sets, steps=300, eval_every=10, batch_size=64)
    fit.left_plateau_step = None  # a run that never leaves its plateau is never stopped
    fit._restored = lambda: None
    stopper = PlateauEarlyStopping(10)
    stopper.on_step_end(100, {}, fit)  # no exception: not off the plateau
    fit.left_plateau_step, fit.best_step = 20, 40
    with pytest.raises(nk.callbacks.StopRun):
        stopper.on_step_end(50, {}, fit)
    with pytest.raises(ValueError, match="patience"):
        PlateauEarlyStopping(0)


@pytest.fixture(scope="module")
def fixed_sign_4x4(cluster_4x4):
    gs = ground_state(cluster_4x4, 1.0)
    model = make_wavefunction(
        cluster_4x4, "fixed-sign", make_sign("exact", cluster_4x4, gs), channels=(8, 8), dilations=(1, 2)
    )
    vstate = make_state(heisenberg_bonds(cluster_4x4, 1.0), cluster_4x4, model, n_samples=256, n_chains=16, seed=0)
    return gs, vstate


def test_amplitude_fit_raises_the_fidelity(fixed_sign_4x4, group_4x4):
    """Pretraining on 30 % of the 4x4 basis (|psi|^2 draws): the validation variance of
    log|psi_theta| - log|psi_ED| falls and the exact fidelity of the state rises well above the random
    start's; the fitted entry is the amplitude network only (the sign is not a parameter)."""
    gs, vstate = fixed_sign_4x4
    sets = make_datasets(gs, group_4x4, eps=0.3, seed=0, n_test=500, split="configurations")
    before = exact_fidelity(vstate, gs)
    fit = AmplitudeFit(vstate.model, vstate.parameters, sets, lr=3e-3, batch_size=128, eval_every=100)
    start = fit.deviation_variance(fit.params, sets.val)
    fit.run(600)
    result = fit.result()
    assert result.infidelity_estimate < 0.7 * start, (start, result.history)
    assert result.infidelity_estimate == min(r["val_loss"] for r in result.history)
    assert set(result.params) == set(vstate.parameters)
    vstate.parameters = result.params
    after = exact_fidelity(vstate, gs)
    assert after > before + 0.2, (before, after, result.infidelity_estimate)
    assert 1 - after == pytest.approx(result.infidelity_estimate, abs=0.15)  # Var d estimates 1 - F


def test_amplitude_fit_resumes_bit_for_bit(fixed_sign_4x4, group_4x4):
    gs, vstate = fixed_sign_4x4
    sets = make_datasets(gs, group_4x4, eps=0.1, seed=1, n_test=500)
    make = lambda: AmplitudeFit(vstate.model, vstate.parameters, sets, batch_size=64, eval_every=20, seed=5)  # noqa: E731
    full = make()
    full.run(100)
    saved = []
    part = make()
    part.run(
        100, callback=[CheckpointCallback(lambda d: saved.append(d.checkpoint().to_bytes())), lambda s, l, d: s < 60]
    )
    resumed = make()
    resumed.restore(saved[-1])
    assert resumed.step_count == 60 and resumed.resumed_from == 60
    resumed.run(40)
    assert _same(resumed.params, full.params) and _same(resumed.best_params, full.best_params)
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in full.history]
    cluster = gs.cluster
    narrow = make_wavefunction(cluster, "fixed-sign", make_sign("marshall", cluster), channels=(4,), dilations=(1,))
    narrow_state = make_state(heisenberg_bonds(cluster, 1.0), cluster, narrow, n_samples=64, n_chains=16)
    other = AmplitudeFit(narrow, narrow_state.parameters, sets)
    with pytest.raises(CheckpointError, match="does not match"):
        other.restore(saved[-1])


def test_amplitude_fit_refuses_empty_sets(fixed_sign_4x4, group_4x4):
    gs, vstate = fixed_sign_4x4
    sets = make_datasets(gs, group_4x4, eps=0.1, seed=1, n_test=500)
    with pytest.raises(ValueError, match="lr > 0"):
        AmplitudeFit(vstate.model, vstate.parameters, sets, lr=0.0)


def test_choices_are_parsed_once():
    """One enum per choice; members are their strings (files and JSON keep plain strings) and a bad
    value gets one error naming the accepted ones."""
    assert ModelName.parse("dilated") is ModelName.DILATED and ModelName.DILATED == "dilated"
    assert set(MODELS) | set(FITTED_WITHOUT_NETWORK) == set(ModelName) and not set(MODELS) & set(FITTED_WITHOUT_NETWORK)
    assert VmcMode.parse("fixed-sign") is VmcMode.FIXED_SIGN and SignSource.parse("fit") == "fit"
    with pytest.raises(
        ValueError,
        match=r"unknown model 'resnet'; use one of \['dilated', 'cnn', 'dense', 'gcnn', 'walsh-local', 'walsh'\]",
    ):
        make_model("resnet", None)
    with pytest.raises(ValueError, match="not a network"):
        make_model("walsh", None)
    with pytest.raises(ValueError, match="unknown VMC mode 'both'"):
        VmcMode.parse("both")
    with pytest.raises(ValueError, match="unknown sign source"):
        make_sign("fit", None)


def test_vmc_cli_pretrains(tmp_path):
    """``nqs-dilated vmc --pretrain-eps``: the amplitude fit runs before VMC, its figures are in the
    summary and its records in metrics.jsonl, and the VMC start is far closer to the ground state
    than the random start of the same network (4x4, J2/J1 = 1, exact sign)."""
    from nqs_dilated.cli.main import main

    common = ["vmc", "--lattice", "triangular-4x4", "--j2", "1", "--mode", "fixed-sign", "--sign-source", "exact"]
    common += ["--channels", "8,8", "--dilations", "1,2", "--n-iter", "2", "--quiet"]
    starts = {}
    for name, extra in (("plain", []), ("pre", ["--pretrain-eps", "0.3", "--pretrain-steps", "600"])):
        assert main([*common, *extra, "--out", str(tmp_path / name)]) == 0
        records = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        starts[name] = next(r for r in records if r.get("stage") == "start")["relative_error"]
        summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert [r["step"] for r in records if r.get("stage") == "pretrain"] == [100, 200, 300, 400, 500, 600]
    assert summary["pretraining"]["n_train"] == round(0.3 * 12870) and summary["pretraining"]["eps"] == 0.3
    assert not (tmp_path / "pre" / "pretrain-checkpoint.msgpack").exists()  # removed with the finished run
    assert starts["pre"] < 0.6 * starts["plain"], starts
    # the summary has S(q) at the exact peak, variational next to exact, and the run directory
    # gives its final state back
    from nqs_dilated.experiments.vmc_run import load_vmc_state
    from nqs_dilated.observables import correlations, structure_factor

    cfg, ground, vstate = load_vmc_state(tmp_path / "pre")
    exact = structure_factor(correlations(ground), ground.cluster)
    sq = summary["structure_factor"]
    assert sq["exact"] == pytest.approx(float(exact.s[exact.peak])) and sq["m"] == list(exact.m[exact.peak])
    assert sq["error"] > 0 and abs(sq["variational"] - sq["exact"]) < 3.0
    assert cfg.vmc.pretrain.eps == 0.3
    stored = flax.serialization.msgpack_restore((tmp_path / "pre" / "params.msgpack").read_bytes())
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(vstate.variables["params"]), stored["params"])


def test_pretraining_keeps_its_eps_reference(monkeypatch):
    """A VMC run without a chained sign fit has no sign spec; the reference of eps goes to the
    pretraining spec (pretrain_eps is a fraction of it); a training set that would not fit in
    memory is refused before any draw."""
    import psutil

    from nqs_dilated.experiments.resolve import resolve

    base = {"task": "vmc", "lattice": "triangular-4x4", "mode": "fixed-sign", "eps_relative_to": "representatives"}
    assert resolve({**base, "pretrain_eps": 0.01}).vmc.pretrain.eps_relative_to == "representatives"
    assert resolve(base).vmc.pretrain is None and resolve(base).sign is None

    class Tiny:
        available = 1 << 20

    state = ground_state("triangular-4x4", 1.0)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tiny())
    with pytest.raises(MemoryError, match="eps = 0.5 of the sz0 reference is 8,043 training and validation"):
        make_datasets(state, eps=0.5)
