"""The chain sign fit -> VMC in one command (``--sign-source fit``, ``--sign-prior fit``)."""

from __future__ import annotations

import json

import flax.serialization
import jax.numpy as jnp
import numpy as np

from nqs_dilated.cli.main import fit_main as main
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.experiments.config import FitConfig
from nqs_dilated.experiments.config_file import config_values, load_toml
from nqs_dilated.experiments.resolve import resolve
from nqs_dilated.experiments.sign_source import sign_from_source
from nqs_dilated.experiments.vmc_run import sign_fit_spec
from nqs_dilated.training.wavefunction import make_wavefunction

NET = ["--channels", "8,8", "--dilations", "1,2"]
VMC = ["--n-iter", "3", "--n-samples", "128", "--n-chains", "8", "--quiet"]


def test_fit_then_fixed_sign_vmc_in_one_command(tmp_path, cluster_4x4, capsys):
    out = tmp_path / "chain"
    args = [
        "vmc",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0",
        "--mode",
        "fixed-sign",
        "--sign-source",
        "fit",
        "--eps",
        "0.05",
        "--steps",
        "1500",
        *VMC,
        "--out",
        str(out),
    ]
    # at J2 = 0 the Marshall rule is exact; the fit on the unseen orbits (0.854) is below it: refused
    # after the fit, with one line; rerun in the same directory with --force-sign, the fit is reused
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "sign fit at eps = 0.05" in captured.out and "sign fit done: test accuracy" in captured.out
    assert "below the Marshall sign rule's 1.000" in captured.err and "--force-sign" in captured.err
    assert (out / "sign-fit" / "summary.json").is_file() and not (out / "summary.json").exists()
    args.append("--force-sign")
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "sign fit reused" in text and "below the quality bounds" in text
    summary = json.loads((out / "summary.json").read_text())
    fit = summary["sign_fit"]
    assert fit["out"] == str(out / "sign-fit") and (out / "sign-fit" / "summary.json").is_file()
    # the fitted sign at J2 = 0 (Marshall's) is learned (default network, 32,32,32 and dilations
    # 1,2,2 on 4x4, also the VMC amplitude's; on the unseen orbits, which hold only the small-|psi|
    # tail of 16 sites at eps = 0.05: 0.854 measured, a random sign gives ~0), and the VMC used
    # that network
    assert fit["test_overlap"] > 0.7 and summary["steps_done"] == 3
    fit_cfg = json.loads((out / "sign-fit" / "config.json").read_text())
    sign_table = fit_cfg["sign"]
    assert fit_cfg["task"] == "sign" and fit_cfg["schema"] == 2 and fit_cfg["vmc"] is None
    assert (sign_table["eps"], sign_table["steps"], sign_table["lr"]) == (0.05, 1500, 1e-3)
    gs = ground_state(cluster_4x4, 0.0)
    configs = gs.enumerate()[0]
    sign = sign_from_source(str(out / "sign-fit"), cluster_4x4, force=True)
    model = make_wavefunction(cluster_4x4, "fixed-sign", sign, dilations=(1, 2, 2), param_dtype=jnp.float64)
    variables = flax.serialization.msgpack_restore((out / "params.msgpack").read_bytes())
    logpsi = np.asarray(model.apply(variables, jnp.asarray(configs)))
    np.testing.assert_array_equal(np.cos(logpsi.imag), np.asarray(sign.apply({}, jnp.asarray(configs))))
    # the same command again: finished, nothing rerun
    assert main(args) == 0
    assert "already finished" in capsys.readouterr().out


def test_full_mode_with_the_fitted_sign_as_prior_reads_the_sign_table(tmp_path, cluster_4x4):
    config = tmp_path / "chain.toml"
    config.write_text(
        'lattice = "triangular-4x4"\nj2 = 0.0\nchannels = [8, 8]\ndilations = [1, 2]\n'
        "[sign]\neps = 0.05\nsteps = 600\nlr = 0.002\n"
        '[vmc]\nmode = "full"\nsign_prior = "fit"\nsymmetrize = true\nn_iter = 2\nn_samples = 128\nn_chains = 8\n'
    )
    values, _ = config_values(load_toml(config), "vmc")
    cfg = resolve(values)
    assert cfg.sign.lr == 0.002 and cfg.sign.steps == 600 and cfg.vmc.symmetrize
    assert "prior-fit-eps=0.05_sym" in cfg.default_out()
    fit_cfg = sign_fit_spec(cfg, tmp_path / "x")
    assert fit_cfg.task == "sign" and fit_cfg.sign.lr == 0.002 and fit_cfg.out == str(tmp_path / "x" / "sign-fit")
    assert (fit_cfg.problem, fit_cfg.model, fit_cfg.seed) == (cfg.problem, cfg.model, cfg.seed)
    out = tmp_path / "full"
    assert main(["vmc", str(config), "--quiet", "--force-sign", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sign_prior"] == "fit" and summary["symmetrize"] is True and summary["steps_done"] == 2
    assert summary["sign_fit"]["n_train"] > 0 and np.isfinite(summary["energy"])
    # defaults of a plain VMC run are untouched by the chain keys
    assert FitConfig().sign_lr == 1e-3 and not FitConfig().symmetrize
