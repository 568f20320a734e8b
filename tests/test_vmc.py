"""VMC: wave functions, the VMC_SR driver, checkpoints, the ``--task vmc`` CLI, comparison with ED."""

from __future__ import annotations

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import marshall_sign

from nqs_dilated.cli.main import fit_main as main
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.experiments.config import ConfigError
from nqs_dilated.experiments.resolve import resolve
from nqs_dilated.experiments.sign_source import SignQualityError, check_sign_fit, sign_from_source
from nqs_dilated.hamiltonian.bonds import heisenberg_bonds
from nqs_dilated.models.wavefunction import bit_codes
from nqs_dilated.symmetry import space_group
from nqs_dilated.training.callbacks import GUARD_MAX_REJECTIONS
from nqs_dilated.training.vmc import energy_report, optimise
from nqs_dilated.training.vmc_checkpoint import CheckpointError, checkpoint_seconds, load_checkpoint, save_checkpoint
from nqs_dilated.training.wavefunction import make_sign, make_state, make_wavefunction

SMALL = dict(channels=(4, 4), dilations=(1, 2))


@pytest.fixture(scope="module")
def gs0(cluster_4x4):
    return ground_state(cluster_4x4, 0.0)


@pytest.fixture(scope="module")
def ham0(cluster_4x4):
    return heisenberg_bonds(cluster_4x4, 0.0)


def test_sign_sources_agree_with_exact_and_marshall(cluster_4x4, gs0):
    configs, amps = gs0.enumerate()
    table = make_sign("exact", cluster_4x4, gs0)
    s = np.asarray(table.apply({}, jnp.asarray(configs)))
    np.testing.assert_array_equal(s, np.where(amps < 0, -1.0, 1.0))
    marsh = make_sign("marshall", cluster_4x4)
    m = np.asarray(marsh.apply({}, jnp.asarray(configs)))
    np.testing.assert_array_equal(m, marshall_sign(cluster_4x4, configs))
    # J2 = 0 is the bipartite square lattice: the exact sign is Marshall's up to a global sign
    assert abs(np.mean(s * m)) == 1.0
    codes = np.asarray(bit_codes(jnp.asarray(configs[:5])))
    assert codes.dtype == np.int64 and codes[0] == sum(1 << i for i in range(16) if configs[0, i] > 0)


def test_unknown_sign_source_and_bad_inputs(cluster_4x4, gs0, ham0, tmp_path):
    with pytest.raises(ValueError, match="unknown sign source"):
        make_sign("nonsense", cluster_4x4, gs0)
    with pytest.raises(ValueError, match="needs the exact ground state"):
        make_sign("exact", cluster_4x4)
    with pytest.raises(ValueError, match="unknown VMC mode"):
        make_wavefunction(cluster_4x4, "half", **SMALL)
    model = make_wavefunction(cluster_4x4, "full", **SMALL)
    with pytest.raises(ValueError, match="not a multiple of n_chains"):
        make_state(ham0, cluster_4x4, model, n_samples=100, n_chains=16)
    with pytest.raises(ConfigError, match="not a multiple of n_chains"):
        resolve({"task": "vmc", "n_samples": 100, "n_chains": 16})
    with pytest.raises(ConfigError, match="unknown sign source"):
        resolve({"task": "vmc", "mode": "fixed-sign", "sign_source": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="unknown mode"):
        resolve({"task": "vmc", "mode": "half"})
    assert resolve({"task": "vmc"}).vmc.lr == 0.02 and resolve({}).sign.lr == 1e-3
    with pytest.raises(ConfigError, match="lr_final must be >= 0"):
        resolve({"task": "vmc", "lr_final": -0.01})
    # a key added later is left out of config.json at its default: older run directories resume
    assert resolve({"task": "vmc", "lr_final": 0.002}).vmc.lr_final == 0.002


@pytest.mark.parametrize("mode", ["full", "fixed-sign"])
def test_energy_decreases_from_start(cluster_4x4, gs0, ham0, mode):
    sign = make_sign("exact", cluster_4x4, gs0) if mode == "fixed-sign" else None
    model = make_wavefunction(cluster_4x4, mode, sign, **SMALL)
    vs = make_state(ham0, cluster_4x4, model, exact=True, seed=1)
    e0 = energy_report(vs, ham0)["energy"]
    # far from the uniform (ferromagnetic, E = +32) state at the start
    assert e0 < 0
    optimise(ham0, vs, n_iter=5, lr=0.05, diag_shift=0.01)
    e5 = energy_report(vs, ham0, gs0)
    assert e5["energy"] < e0 - 1.0, (e0, e5["energy"])
    assert 0 < e5["fidelity"] <= 1 + 1e-9


def test_gcnn_amplitude_is_invariant_and_runs(cluster_4x4, gs0, ham0):
    model = make_wavefunction(
        cluster_4x4,
        "fixed-sign",
        make_sign("exact", cluster_4x4, gs0),
        model="gcnn",
        features=(4, 4),
        param_dtype=jnp.float32,
    )
    vs = make_state(ham0, cluster_4x4, model, n_samples=256, n_chains=16, seed=1, readout_scale=None)
    x = np.asarray(vs.hilbert.all_states()[::97])
    amp = lambda c: np.asarray(model.amplitude.apply({"params": vs.parameters["amplitude"]}, c))  # noqa: E731
    for perm in np.asarray(space_group(cluster_4x4).perms)[[1, 5, -1]]:
        np.testing.assert_allclose(amp(x[:, perm]), amp(x), rtol=1e-5, atol=1e-5)
    res = optimise(ham0, vs, n_iter=3, lr=0.05, diag_shift=0.01)
    assert res.steps == 3 and np.isfinite(energy_report(vs, ham0, gs0)["relative_error"])
    for bad in ({"mode": "full"}, {"mode": "fixed-sign", "symmetrize": True}):
        with pytest.raises(ValueError, match="G-CNN"):
            make_wavefunction(
                cluster_4x4,
                bad["mode"],
                make_sign("exact", cluster_4x4, gs0),
                model="gcnn",
                symmetrize=bad.get("symmetrize", False),
                sector="A1+",
            )
    with pytest.raises(ConfigError, match="G-CNN"):
        resolve({"task": "vmc", "model": "gcnn", "mode": "full"})


def test_sampled_state_and_report(cluster_4x4, gs0, ham0):
    model = make_wavefunction(cluster_4x4, "fixed-sign", make_sign("marshall", cluster_4x4), **SMALL)
    vs = make_state(ham0, cluster_4x4, model, n_samples=256, n_chains=16, seed=0)
    res = optimise(ham0, vs, n_iter=3, lr=0.05, diag_shift=0.01, diag_shift_final=0.001)
    assert res.steps == 3 and res.status == "finished"
    rep = energy_report(vs, ham0, gs0)
    for key in ("energy", "energy_error", "variance", "r_hat", "ed_energy", "relative_error", "fidelity"):
        assert np.isfinite(rep[key]), key
    assert rep["ed_energy"] == pytest.approx(gs0.energy)


def test_checkpoint_round_trip_and_mismatch(cluster_4x4, gs0, ham0, tmp_path):
    model = make_wavefunction(cluster_4x4, "full", **SMALL)
    vs = make_state(ham0, cluster_4x4, model, exact=True, seed=3)
    path = tmp_path / "ckpt.msgpack"
    optimise(ham0, vs, n_iter=2, lr=0.05, checkpoint=path, checkpoint_every=1, meta={"m": 1})
    vs2 = make_state(ham0, cluster_4x4, model, exact=True, seed=4)
    assert load_checkpoint(path, vs2, {"m": 1}) == 2
    x = jnp.asarray(gs0.enumerate()[0][:50])
    np.testing.assert_allclose(np.asarray(vs2.log_value(x)), np.asarray(vs.log_value(x)), rtol=1e-12)
    # resume continues the step count
    res = optimise(ham0, vs2, n_iter=3, lr=0.05, start_step=2, checkpoint=path, meta={"m": 1})
    assert res.steps == 3
    with pytest.raises(CheckpointError, match="different model"):
        load_checkpoint(path, vs2, {"m": 2})
    other = make_wavefunction(cluster_4x4, "full", channels=(6, 4), dilations=(1, 2))
    vs3 = make_state(ham0, cluster_4x4, other, exact=True)
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path, vs3, {"m": 1})
    save_checkpoint(path, vs3, 0, {"m": 1})
    assert load_checkpoint(path, vs3, {"m": 1}) == 0


def _killed_before_summary(monkeypatch, args):
    """Run the CLI and kill it after its last checkpoint and ``params.msgpack``, before
    ``summary.json``: an interrupted run directory that still holds its checkpoint."""
    from nqs_dilated.experiments import vmc_run

    def killed(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(vmc_run, "plot_vmc_run", killed)
        with pytest.raises(KeyboardInterrupt):
            main(args)


def test_cli_writes_run_dir_and_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    args = [
        "--task",
        "vmc",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0",
        "--mode",
        "fixed-sign",
        "--sign-source",
        "marshall",
        "--channels",
        "4,4",
        "--dilations",
        "1,2",
        "--n-iter",
        "3",
        "--n-samples",
        "128",
        "--n-chains",
        "8",
        "--checkpoint-every",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "lattice",
        "j2",
        "model",
        "mode",
        "n_params",
        "n_samples",
        "n_iter",
        "energy",
        "energy_error",
        "variance",
        "ed_energy",
        "relative_error",
        "seconds",
        "fidelity",
        "r_hat",
    ):
        assert key in summary, key
    assert summary["steps_done"] == 3 and summary["convention"] == "pauli"
    assert summary["devices"] == jax.device_count() and summary["sharding"] == (jax.device_count() > 1)
    for name in ("config.json", "provenance.json", "metrics.jsonl", "vmc.log", "params.msgpack", "plots/energy.png"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoint.msgpack").exists()  # a finished run drops its checkpoint
    assert "relative error" in capsys.readouterr().out
    assert main(args) == 0  # finished: no-op
    assert "already finished" in capsys.readouterr().out
    # an interrupted run (no summary) resumes from its checkpoint
    killed = tmp_path / "killed"
    args_k = args[:-1] + [str(killed), "--lr-final", "0.005"]
    _killed_before_summary(monkeypatch, args_k)
    assert (killed / "checkpoint.msgpack").is_file() and not (killed / "summary.json").exists()
    first = checkpoint_seconds(killed / "checkpoint.msgpack")
    assert first > 0
    assert main(args_k) == 0
    resumed = json.loads((killed / "summary.json").read_text())
    assert resumed["resumed_from"] == 3
    assert json.loads((killed / "config.json").read_text())["vmc"]["lr_final"] == 0.005
    # the time of the 3 steps of the first invocation is carried in the checkpoint (the resumed
    # invocation has no step left, so its total is the first one's)
    assert resumed["optimisation_seconds_total"] == pytest.approx(first, rel=0.2, abs=0.5)
    assert main(args[:-1] + [str(tmp_path / "bad"), "--n-samples", "100"]) == 2
    assert "not a multiple" in capsys.readouterr().err


@pytest.mark.slow
def test_fixed_exact_sign_reaches_1e3_at_j2_0(cluster_4x4, gs0, ham0):
    import time

    t0 = time.perf_counter()
    model = make_wavefunction(
        cluster_4x4, "fixed-sign", make_sign("exact", cluster_4x4, gs0), channels=(16, 16), dilations=(1, 2)
    )
    vs = make_state(ham0, cluster_4x4, model, n_samples=1024, n_chains=16, seed=0)
    res = optimise(ham0, vs, n_iter=300, lr=0.01, diag_shift=0.01, diag_shift_final=0.01)
    rep = energy_report(vs, ham0, gs0)
    print(
        f"\nfixed exact sign, J2 = 0, 300 iterations: E = {rep['energy']:.5f} +- {rep['energy_error']:.5f} "
        f"(variance {rep['variance']:.3g}, E_ED = {rep['ed_energy']:.5f}), relative error {rep['relative_error']:.3e}, "
        f"fidelity {rep['fidelity']:.6f}, {res.seconds_per_iter:.3f} s/it, {time.perf_counter() - t0:.0f} s"
    )
    assert rep["relative_error"] < 1e-3, rep


@pytest.fixture(scope="module")
def sign_run(tmp_path_factory):
    """A small finished sign fit on 4x4, J2 = 0 (dilated CNN 8,8; 1500 Adam steps at the default batch)."""
    out = tmp_path_factory.mktemp("sign") / "run"
    args = [
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0",
        "--channels",
        "8,8",
        "--dilations",
        "1,2",
        "--eps",
        "0.05",
        "--steps",
        "1500",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    return out


def _predicted_signs(run_dir, cluster, configs):
    """Signs a sign-fit run directory predicts, read straight from its files (argmax of the logits)."""
    import flax.serialization

    from nqs_dilated.models import make_model

    summary = json.loads((run_dir / "summary.json").read_text())
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in summary["model_options"].items()}
    net = make_model(summary["model"], cluster, **opts)
    variables = flax.serialization.msgpack_restore((run_dir / "params.msgpack").read_bytes())
    logits = np.asarray(net.apply(variables, jnp.asarray(configs)))
    return np.where(np.argmax(logits, axis=-1) == 1, -1.0, 1.0)  # class 1 = sign -1 (data.SIGN_CLASSES)


def test_sign_network_from_run_dir(sign_run, cluster_4x4, gs0, tmp_path, capsys):
    """--sign-source RUN_DIR: fixed-sign VMC whose sign is the trained network's prediction."""
    import flax.serialization

    configs = gs0.enumerate()[0]
    pred = _predicted_signs(sign_run, cluster_4x4, configs)
    assert 0.05 < np.mean(pred < 0) < 0.95  # the network predicts both signs (a test that can fail)
    sign = sign_from_source(str(sign_run), cluster_4x4, force=True)  # the mechanics, whatever the fit's quality
    np.testing.assert_array_equal(np.asarray(sign.apply({}, jnp.asarray(configs))), pred)

    out = tmp_path / "vmc"
    args = [
        "--task",
        "vmc",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0",
        "--mode",
        "fixed-sign",
        "--sign-source",
        str(sign_run),
        "--channels",
        "4,4",
        "--dilations",
        "1,2",
        "--n-iter",
        "4",
        "--n-samples",
        "128",
        "--n-chains",
        "8",
        "--quiet",
        "--force-sign",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sign_source"] == str(sign_run) and summary["steps_done"] == 4
    assert np.isfinite(summary["energy"]) and 0 <= summary["fidelity"] <= 1 + 1e-9
    # the trained wave function: its phase is pi exactly where the network predicts sign -1
    model = make_wavefunction(
        cluster_4x4,
        "fixed-sign",
        sign_from_source(str(sign_run), cluster_4x4, force=True),
        channels=(4, 4),
        dilations=(1, 2),
        param_dtype=jnp.float64,
    )
    variables = flax.serialization.msgpack_restore((out / "params.msgpack").read_bytes())
    logpsi = np.asarray(model.apply(variables, jnp.asarray(configs)))
    np.testing.assert_allclose(np.cos(logpsi.imag), pred, atol=1e-12)
    assert np.all(np.isfinite(logpsi.real)) and np.ptp(logpsi.real) > 0


@pytest.mark.parametrize(
    "overlap,marshall,refused",
    [
        (0.90, 0.95, "the Marshall sign rule's 0.950"),  # worse than the rule on the same test set
        (0.945, 0.95, None),  # within the margin
        (0.40, -0.01, "the minimum 0.5"),  # the rule fails, but the fit is poor too
        (-0.02, 0.54, "the Marshall sign rule's 0.540"),
    ],
)
def test_a_poor_learned_sign_is_refused_unless_forced(
    sign_run, cluster_4x4, tmp_path, capsys, overlap, marshall, refused
):
    import shutil

    fit = tmp_path / "fit"
    shutil.copytree(sign_run, fit)
    summary = json.loads((fit / "summary.json").read_text())
    (fit / "summary.json").write_text(
        json.dumps({**summary, "test_overlap": overlap, "marshall_test_overlap": marshall})
    )
    if refused is None:
        assert check_sign_fit(fit) == {
            "test_overlap": overlap,
            "marshall_test_overlap": marshall,
            "split": summary["split"],
            "forced": False,
        }
        return
    with pytest.raises(SignQualityError, match="below " + re.escape(refused)):
        sign_from_source(str(fit), cluster_4x4)
    assert check_sign_fit(fit, force=True)["forced"] is True
    out = tmp_path / "vmc"
    args = [
        "vmc",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0",
        "--mode",
        "fixed-sign",
        "--sign-source",
        str(fit),
        "--channels",
        "4,4",
        "--dilations",
        "1,2",
        "--n-iter",
        "2",
        "--n-samples",
        "64",
        "--n-chains",
        "8",
        "--quiet",
        "--out",
        str(out),
    ]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--force-sign" in err and refused in err
    assert not out.exists()  # refused before any work
    assert main(args + ["--force-sign"]) == 0
    check = json.loads((out / "summary.json").read_text())["sign_check"]
    assert check["forced"] is True and check["test_overlap"] == overlap


def test_bad_sign_run_dirs(sign_run, cluster_4x4, cluster_4x6, tmp_path):
    import shutil

    # another cluster
    other = tmp_path / "other"
    shutil.copytree(sign_run, other)
    cfg = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "problem": {**cfg["problem"], "lattice": "triangular-4x6"}}))
    with pytest.raises(ValueError, match="fitted on triangular-4x6"):
        sign_from_source(str(other), cluster_4x4)
    # parameters of another model
    (other / "config.json").write_text(json.dumps({**cfg, "model": {**cfg["model"], "channels": [6, 4]}}))
    with pytest.raises(ValueError, match="does not match the model"):
        sign_from_source(str(other), cluster_4x4)
    # a VMC run is not a sign fit
    (other / "config.json").write_text(json.dumps(resolve({"task": "vmc", "lattice": "triangular-4x4"}).to_json()))
    with pytest.raises(ValueError, match="not a sign fit"):
        sign_from_source(str(other), cluster_4x4)
    # an unfinished sign fit (no summary.json)
    (other / "config.json").write_text(json.dumps(cfg))
    (other / "summary.json").unlink()
    with pytest.raises(ValueError, match="not finished"):
        sign_from_source(str(other), cluster_4x4)
    # a directory without parameters
    with pytest.raises(ValueError, match="unknown sign source"):
        sign_from_source(str(tmp_path), cluster_4x4)


def test_cli_refuses_checkpoint_of_another_model(tmp_path, capsys, monkeypatch):
    base = [
        "--task",
        "vmc",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0",
        "--mode",
        "fixed-sign",
        "--sign-source",
        "marshall",
        "--dilations",
        "1,2",
        "--n-iter",
        "1",
        "--n-samples",
        "64",
        "--n-chains",
        "8",
        "--quiet",
    ]
    a, b = tmp_path / "a", tmp_path / "b"
    _killed_before_summary(monkeypatch, base + ["--channels", "4,4", "--out", str(a)])
    _killed_before_summary(monkeypatch, base + ["--channels", "6,4", "--out", str(b)])
    # unfinished run b, holding the checkpoint of run a
    (b / "checkpoint.msgpack").write_bytes((a / "checkpoint.msgpack").read_bytes())
    capsys.readouterr()
    assert main(base + ["--channels", "6,4", "--out", str(b)]) == 2
    err = capsys.readouterr().err
    assert "different model" in err and "model_options" in err
    (b / "checkpoint.msgpack").write_bytes(b"not a checkpoint")
    assert main(base + ["--channels", "6,4", "--out", str(b)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


# ---------------------------------------------------------------- step control (issue 5: J2 = 1 NaN / freeze)


@pytest.fixture(scope="module")
def gs1(cluster_4x4):
    return ground_state(cluster_4x4, 1.0)


def _j2_1_state(cluster, gs1, mode):
    """Float32, 128 samples < 198 parameters (minSR/NTK path), as in the 4x6 table runs."""
    sign = make_sign("exact", cluster, gs1) if mode == "fixed-sign" else None
    model = make_wavefunction(cluster, mode, sign, param_dtype=jnp.float32, **SMALL)
    ham = heisenberg_bonds(cluster, 1.0)
    return ham, make_state(ham, cluster, model, n_samples=128, n_chains=16, seed=0)


@pytest.mark.parametrize("mode", ["fixed-sign", "full"])
def test_step_bound_keeps_j2_1_finite_and_moving(cluster_4x4, gs1, mode):
    """A small diagonal shift at J2 = 1 once gave NaN energies (fixed exact sign) and a state
    frozen on single configurations (full mode; E = -24 on 4x6, zero variance). Without the step
    bound both happen here within 15 steps; with the default bound neither does."""
    ham, vs = _j2_1_state(cluster_4x4, gs1, mode)
    e0 = energy_report(vs, ham)["energy"]
    res = optimise(ham, vs, n_iter=15, lr=0.05, diag_shift=1e-3)
    rep = energy_report(vs, ham, gs1)
    assert res.status == "finished" and res.restored_step is None
    assert np.isfinite(rep["energy"]) and rep["variance"] > 1.0, rep  # not frozen
    assert rep["energy"] < e0 - 5.0 and rep["fidelity"] > 0.2, (e0, rep)

    ham, vs = _j2_1_state(cluster_4x4, gs1, mode)
    res = optimise(ham, vs, n_iter=15, lr=0.05, diag_shift=1e-3, max_step=None, guard_steps=False)
    rep = energy_report(vs, ham, gs1)
    failed = res.status == "invalid_loss" or rep["variance"] < 1e-3 or rep["fidelity"] < 0.05
    assert failed, (res, rep)  # the failure still reproduces without the bound and the guard


def test_max_step_bounds_the_parameter_change(cluster_4x4, gs1):
    from jax.flatten_util import ravel_pytree

    ham, vs = _j2_1_state(cluster_4x4, gs1, "fixed-sign")
    before = ravel_pytree(vs.parameters)[0]
    optimise(ham, vs, n_iter=1, lr=0.05, diag_shift=1e-3, max_step=0.01)
    assert float(jnp.linalg.norm(ravel_pytree(vs.parameters)[0] - before)) <= 0.01 * (1 + 1e-4)
    with pytest.raises(ValueError, match="max_step"):
        optimise(ham, vs, n_iter=2, lr=0.05, max_step=0.0)


def test_non_finite_energy_restores_last_finite_parameters(cluster_4x4, gs1, monkeypatch):
    """When the energy turns non-finite (here forced at step 3), the run stops with status
    invalid_loss and the state is reset to the parameters whose energy was last finite (step 2),
    so the report is not NaN."""
    from nqs_dilated.training.minsr import VMC_MinSR

    ham, vs = _j2_1_state(cluster_4x4, gs1, "fixed-sign")
    seen = {}
    original = VMC_MinSR.compute_loss_and_update

    def nan_at_step_3(self):
        seen[self.step_count] = self.state.parameters
        stats, dp = original(self)
        return (stats.replace(mean=jnp.nan) if self.step_count == 3 else stats), dp

    monkeypatch.setattr(VMC_MinSR, "compute_loss_and_update", nan_at_step_3)
    res = optimise(ham, vs, n_iter=10, lr=0.05, diag_shift=1e-3)
    # the guard first retries step 3 from the parameters of step 2, then gives up
    assert res.status == "invalid_loss" and res.steps == 3 and res.restored_step == 2, res
    assert res.rejected_steps == GUARD_MAX_REJECTIONS
    for a, b in zip(jax.tree_util.tree_leaves(vs.parameters), jax.tree_util.tree_leaves(seen[2])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.isfinite(energy_report(vs, ham, gs1)["energy"])


def test_step_guard_undoes_a_blow_up_and_retries_smaller(cluster_4x4, gs1, monkeypatch):
    """A step after which the variance explodes (forced once, at step 3) is undone: the update is
    recomputed from the parameters of step 2 and applied at a quarter of its size, then half."""
    from jax.flatten_util import ravel_pytree

    from nqs_dilated.training.minsr import VMC_MinSR

    ham, vs = _j2_1_state(cluster_4x4, gs1, "fixed-sign")
    seen, calls = {}, []
    original = VMC_MinSR.compute_loss_and_update

    def blow_up_once_at_3(self):
        seen.setdefault(self.step_count, []).append(self.state.parameters)
        stats, dp = original(self)
        calls.append(self.step_count)
        if self.step_count == 3 and calls.count(3) == 1:
            stats = stats.replace(variance=1e6 * stats.variance)
        return stats, dp

    monkeypatch.setattr(VMC_MinSR, "compute_loss_and_update", blow_up_once_at_3)
    res = optimise(ham, vs, n_iter=6, lr=0.05, diag_shift=1e-3)
    assert res.status == "finished" and res.steps == 6 and res.rejected_steps == 1, res
    assert calls == [0, 1, 2, 3, 3, 4, 5]
    flat = lambda p: np.asarray(ravel_pytree(p)[0])  # noqa: E731
    np.testing.assert_array_equal(flat(seen[3][1]), flat(seen[2][0]))  # step 3 retried from step 2's parameters
    step2 = np.linalg.norm(flat(seen[3][0]) - flat(seen[2][0]))  # a full step
    retried = np.linalg.norm(flat(seen[4][0]) - flat(seen[3][1]))  # a quarter step
    assert retried < 0.5 * step2, (retried, step2)


# ---------------------------------------------------------------- resume after a crash, plots (issues 19, 20)


def _vmc_iters(run_dir):
    return json.loads((run_dir / "vmc.log").read_text())["Energy"]["iters"]


def test_resume_after_a_crash_logs_each_iteration_once(tmp_path, monkeypatch):
    """A run killed between checkpoints has logged iterations past its last checkpoint; resuming
    logged them again (``..., 2, 3, 2, 3, ...``). Now vmc.log is cut back to the checkpoint."""
    from nqs_dilated.experiments.vmc_run import run_vmc
    from nqs_dilated.training.minsr import VMC_MinSR

    out = tmp_path / "run"
    cfg = resolve(
        {
            "task": "vmc",
            "lattice": "triangular-4x4",
            "j2": 0.0,
            "mode": "fixed-sign",
            "sign_source": "marshall",
            "channels": [4, 4],
            "dilations": [1, 2],
            "n_iter": 6,
            "n_samples": 128,
            "n_chains": 8,
            "checkpoint_every": 2,
            "out": str(out),
        }
    )
    original = VMC_MinSR.compute_loss_and_update

    def crash_at_step_3(self):
        if self.step_count == 3:
            raise RuntimeError("killed")
        return original(self)

    monkeypatch.setattr(VMC_MinSR, "compute_loss_and_update", crash_at_step_3)
    with pytest.raises(RuntimeError, match="killed"):
        run_vmc(cfg, progress=False)
    assert _vmc_iters(out) == [0, 1, 2]  # step 2 logged, the checkpoint holds 2 completed steps
    monkeypatch.setattr(VMC_MinSR, "compute_loss_and_update", original)
    lines = []
    summary = run_vmc(cfg, progress=False, report=lines.append)
    assert "resuming from step 2" in "\n".join(lines), lines
    assert summary.resumed_from == 2 and summary.steps_done == 6
    iters = _vmc_iters(out)
    assert iters == list(range(6)), iters
    log = json.loads((out / "vmc.log").read_text())
    assert len(log["Energy"]["Mean"]["real"]) == 6 and len(log["acceptance"]["value"]) == 6
    # the per-run plot is drawn from the whole log
    png = out / "plots" / "energy.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / "plots" / "energy.pdf").is_file()


def test_a_resumed_run_repeats_the_uninterrupted_one(tmp_path, monkeypatch, capsys):
    """The checkpoint holds the chains, the sampler's RNG key and the step guard's state: a run
    killed at step 5 of 8 and resumed from its checkpoint at step 4 ends with the parameters
    and energies of the run that was never interrupted."""
    import flax.serialization

    from nqs_dilated.experiments.vmc_run import run_vmc
    from nqs_dilated.training.minsr import VMC_MinSR

    def config(out):
        return resolve(
            {
                "task": "vmc",
                "lattice": "triangular-4x4",
                "j2": 0.5,
                "mode": "full",
                "channels": [4, 4],
                "dilations": [1, 2],
                "n_iter": 8,
                "lr": 0.02,
                "lr_final": 0.01,
                "n_samples": 128,
                "n_chains": 8,
                "checkpoint_every": 4,
                "out": str(out),
            }
        )

    whole = run_vmc(config(tmp_path / "whole"), progress=False)
    original = VMC_MinSR.compute_loss_and_update

    def crash_at_step_5(self):
        if self.step_count == 5:
            raise RuntimeError("killed")
        return original(self)

    monkeypatch.setattr(VMC_MinSR, "compute_loss_and_update", crash_at_step_5)
    with pytest.raises(RuntimeError, match="killed"):
        run_vmc(config(tmp_path / "cut"), progress=False)
    monkeypatch.setattr(VMC_MinSR, "compute_loss_and_update", original)
    capsys.readouterr()
    resumed = run_vmc(config(tmp_path / "cut"), progress=True)
    assert resumed.resumed_from == 4 and resumed.steps_done == whole.steps_done == 8
    bar = capsys.readouterr().err
    assert "4/8" in bar and "8/8" in bar and "0/4" not in bar  # the bar continues at the resumed step

    def params(name):
        return jax.tree_util.tree_leaves(
            flax.serialization.msgpack_restore((tmp_path / name / "params.msgpack").read_bytes())
        )

    for a, b in zip(params("whole"), params("cut"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    energies = [json.loads((tmp_path / n / "vmc.log").read_text())["Energy"]["Mean"]["real"] for n in ("whole", "cut")]
    np.testing.assert_allclose(energies[0], energies[1], rtol=1e-10)
    assert resumed.energy == pytest.approx(whole.energy, rel=1e-10)


def test_truncate_json_log_keeps_iterations_before_the_step(tmp_path):
    from nqs_dilated.training.vmc_checkpoint import truncate_json_log

    log = {
        "Energy": {
            "iters": [0, 1, 2, 3, 2, 3],
            "Mean": {"real": [5, 4, 3, 2, 3, 2], "imag": [0] * 6},
            "Sigma": [1] * 6,
        },
        "info": {"solver_fallback": {"iters": [0, 1, 2, 3, 2, 3], "value": [False] * 6}},
        "note": [9, 9],
    }
    path = tmp_path / "vmc.log"
    path.write_text(json.dumps(log))
    assert truncate_json_log(path, 2) == 8
    cut = json.loads(path.read_text())
    assert cut["Energy"] == {"iters": [0, 1], "Mean": {"real": [5, 4], "imag": [0, 0]}, "Sigma": [1, 1]}
    assert cut["info"]["solver_fallback"] == {"iters": [0, 1], "value": [False, False]} and cut["note"] == [9, 9]
    assert truncate_json_log(path, 2) == 0 and truncate_json_log(tmp_path / "none.log", 2) == 0
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a NetKet JSON log"):
        truncate_json_log(path, 1)


def test_energy_plot_data_and_file(tmp_path):
    from matplotlib.image import imread

    from nqs_dilated.experiments.plots import energy_figure, plot_vmc_run, vmc_energy_series

    n, ed = 7, -44.9
    log = {
        "Energy": {
            "iters": list(range(n)),
            "Mean": {"real": [-40.0 - k for k in range(n)], "imag": [0.0] * n},
            "Sigma": [0.1 * (k + 1) for k in range(n)],
        }
    }
    series = vmc_energy_series(log)
    np.testing.assert_array_equal(series["iters"], np.arange(n))
    fig = energy_figure(series, ed)
    ax, rel = fig.axes
    line = ax.containers[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(n))
    np.testing.assert_allclose(line.get_ydata(), -40.0 - np.arange(n))
    assert any(np.allclose(h.get_ydata(), ed) for h in ax.get_lines() if h is not line)  # the ED line
    np.testing.assert_allclose(rel.get_lines()[0].get_ydata(), np.abs(-40.0 - np.arange(n) - ed) / abs(ed))
    run = tmp_path / "run"
    run.mkdir()
    (run / "vmc.log").write_text(json.dumps(log))
    (run / "metrics.jsonl").write_text(json.dumps({"stage": "start", "ed_energy": ed}) + "\n")
    paths = plot_vmc_run(run, title="test")
    assert {p.name for p in paths} == {"energy.png", "energy.pdf"}
    image = imread(run / "plots" / "energy.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 200
    with pytest.raises(ValueError, match="no Energy history"):
        vmc_energy_series({"acceptance": {"iters": [0], "value": [1.0]}})


def test_sweep_vmc_error_figure_one_line_per_mode_and_sign():
    import pandas as pd

    from nqs_dilated.experiments.plots import vmc_error_figure

    rows = []
    for mode, sign in (("full", None), ("fixed-sign", "marshall"), ("fixed-sign", "/runs/sign_fit")):
        for j2 in (0.0, 0.5, 1.0):
            for seed in range(2):
                rows.append(
                    {
                        "variant": "dilated-1-2",
                        "mode": mode,
                        "sign_source": sign,
                        "j2": j2,
                        "seed": seed,
                        "relative_error": 1e-3 * (1 + seed) * (1 + j2) * (3 if mode == "full" else 1),
                    }
                )
    fig = vmc_error_figure(pd.DataFrame(rows))
    (ax,) = fig.axes
    assert len(ax.containers) == 3
    labels = [t.get_text() for t in fig.legends[0].get_texts()]  # beside the axes
    assert labels == ["dilated-1-2, full", "dilated-1-2, fixed sign (marshall)", "dilated-1-2, fixed sign (sign_fit)"]
    for container in ax.containers:
        assert len(container.lines[0].get_xdata()) == 3  # one point per J2, seeds averaged
    full = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(full, [4.5e-3, 6.75e-3, 9e-3])  # mean of seeds 1x and 2x
    # error bars: sample standard deviation over the two seeds
    segments = ax.containers[0].lines[2][0].get_segments()
    np.testing.assert_allclose(
        [s[1][1] - s[0][1] for s in segments], 2 * np.std([3e-3, 6e-3], ddof=1) * np.array([1, 1.5, 2])
    )


def test_lr_schedule_decays_the_step_and_continues_on_resume(cluster_4x4, gs1):
    """``lr_final``: step k takes ``lr (lr_final / lr)^(k / n_iter)``, also after a resume (the
    full-sum state makes each SR direction a deterministic function of the parameters)."""
    from jax.flatten_util import ravel_pytree

    ham = heisenberg_bonds(cluster_4x4, 1.0)
    model = make_wavefunction(cluster_4x4, "fixed-sign", make_sign("exact", cluster_4x4, gs1), **SMALL)
    kw = dict(diag_shift=0.01, max_step=None, guard_steps=False)

    def state(params=None):
        vs = make_state(ham, cluster_4x4, model, exact=True, seed=5)
        if params is not None:
            vs.parameters = params
        return vs

    flat = lambda vs: np.asarray(ravel_pytree(vs.parameters)[0])  # noqa: E731
    decayed = state()
    p0 = decayed.parameters
    optimise(ham, decayed, n_iter=2, lr=0.05, lr_final=0.005, **kw)
    first = state(p0)
    optimise(ham, first, n_iter=1, lr=0.05, **kw)
    p1 = first.parameters
    by_hand = state(p1)  # the second step by hand: lr(1) = 0.05 * 0.1^(1/2)
    optimise(ham, by_hand, n_iter=2, start_step=1, lr=0.05 * 0.1**0.5, **kw)
    resumed = state(p1)
    optimise(ham, resumed, n_iter=2, start_step=1, lr=0.05, lr_final=0.005, **kw)
    constant = state(p1)
    optimise(ham, constant, n_iter=2, start_step=1, lr=0.05, **kw)
    step = np.linalg.norm(flat(decayed) - flat(first))
    assert step > 0
    np.testing.assert_allclose(flat(decayed), flat(by_hand), atol=1e-6 * step)
    np.testing.assert_allclose(flat(resumed), flat(by_hand), atol=1e-6 * step)
    assert np.linalg.norm(flat(constant) - flat(first)) == pytest.approx(step / 0.1**0.5, rel=1e-5)
    with pytest.raises(ValueError, match="lr must be positive"):
        optimise(ham, constant, n_iter=2, lr=0.05, lr_final=0.0)
