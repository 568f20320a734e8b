"""End-to-end sign fitting through ``python -m nqs_dilated.fit`` on 4x4."""

import json
import time

import numpy as np
import pytest

from nqs_dilated.cli.main import fit_main as main

FAST = ["--lattice", "triangular-4x4", "--quiet"]
RUN_FILES = {"config.json", "provenance.json", "metrics.jsonl", "summary.json", "params.msgpack"}
SUMMARY_KEYS = {
    "lattice",
    "j2",
    "model",
    "n_params",
    "eps",
    "n_train",
    "test_accuracy",
    "test_weighted_accuracy",
    "test_overlap",
    "ed_energy",
    "seconds",
}


def test_defaults_learn_marshall_sign(tmp_path, capsys):
    """J2 = 0 with no training flag at all: the default dilated CNN (dilations clipped to the 4x4
    torus) learns the Marshall sign from eps = 0.05 to test accuracy >= 0.99 within 60 s of training."""
    t0 = time.perf_counter()
    out = tmp_path / "marshall"
    assert main(FAST + ["--j2", "0", "--eps", "0.05", "--out", str(out)]) == 0
    seconds = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.99, summary["metrics"]
    assert summary["test_overlap"] >= 0.99
    assert summary["train_seconds"] < 60, (summary["train_seconds"], seconds)
    assert summary["model_options"]["dilations"] == [1, 2, 2]
    assert summary["budget"]["batch_size"] == 32 and summary["budget"]["steps"] == 4000
    assert summary["marshall_test_overlap"] == 1.0  # the exact J2 = 0 state has the Marshall sign
    printed = capsys.readouterr().out
    assert printed.index("sign fit: triangular-4x4") < printed.index("exact ground state") < printed.index("Adam steps")
    assert "dilations 1,2,2" in printed and "Marshall sign rule" in printed


@pytest.mark.slow
def test_defaults_learn_4x6_j2_half(tmp_path):
    """J2/J1 = 0.5 on 24 sites, eps = 0.01, defaults only: dilated test overlap >= 0.95."""
    out = tmp_path / "j05"
    assert main(["--lattice", "triangular-4x6", "--quiet", "--j2", "0.5", "--eps", "0.01", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_overlap"] >= 0.95, summary["metrics"]


def test_killed_fit_resumes_and_ends_as_uninterrupted(tmp_path, capsys, monkeypatch):
    """A sign fit killed at its fourth validation, after logging it and before its checkpoint,
    resumes from the checkpoint of step 60 (and says so), drops the record of step 80 logged after
    it, and ends with the metrics of an uninterrupted run."""
    from nqs_dilated.experiments.rundir import RunDir

    args = FAST + ["--j2", "0.5", "--model", "dense", "--hidden", "8", "--steps", "200", "--eval-every", "20"]
    assert main(args + ["--out", str(tmp_path / "full")]) == 0
    full = json.loads((tmp_path / "full" / "summary.json").read_text())
    capsys.readouterr()

    log = RunDir.log
    calls = []

    def dying_log(self, record):
        calls.append(record["step"])
        log(self, record)
        if len(calls) == 4:  # step 80 is logged, its checkpoint not yet written: the process dies
            raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "log", dying_log)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        main(args + ["--out", str(out)])
    monkeypatch.setattr(RunDir, "log", log)
    assert (out / "checkpoint.msgpack").exists() and not (out / "summary.json").exists()
    assert main(args + ["--out", str(out)]) == 0
    assert "resuming from step 60" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from_step"] == 60 and not (out / "checkpoint.msgpack").exists()
    assert summary["metrics"] == full["metrics"] and summary["best_step"] == full["best_step"]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(20, 201, 20))


@pytest.mark.parametrize("model", ["dilated", "cnn", "dense", "gcnn"])
def test_pipeline_writes_every_file(tmp_path, model):
    out = tmp_path / model
    extra = ["--channels", "4,4"] + (["--dilations", "1,2"] if model == "dilated" else [])
    assert main(FAST + ["--j2", "0.5", "--model", model, "--epochs", "2", "--out", str(out)] + extra) == 0
    assert RUN_FILES <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["convention"] == "pauli" and summary["model"] == model
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == summary["steps_run"] and all("val_loss" in json.loads(l) for l in lines)
    assert (out / "plots" / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert -1 <= summary["marshall_test_overlap"] <= 1 and 2 <= summary["budget"]["epochs"] < 2.5
    config = json.loads((out / "config.json").read_text())
    assert config["problem"]["j2"] == 0.5 and config["model"]["name"] == model and config["schema"] == 2
    provenance = json.loads((out / "provenance.json").read_text())
    assert {"versions", "git_revision", "convention"} <= set(provenance)
    # metrics are fractions, overlap within [-1, 1]
    assert 0 <= summary["test_accuracy"] <= 1 and -1 <= summary["test_overlap"] <= 1
    # parameters round-trip
    import flax.serialization

    params = flax.serialization.msgpack_restore((out / "params.msgpack").read_bytes())
    assert sum(np.size(x) for x in __import__("jax").tree_util.tree_leaves(params)) == summary["n_params"]


def test_rerun_same_config_is_skipped_and_other_config_refused(tmp_path, capsys):
    out = tmp_path / "run"
    base = FAST + ["--j2", "0.5", "--model", "dense", "--hidden", "8", "--epochs", "1", "--out", str(out)]
    assert main(base) == 0
    before = (out / "summary.json").read_text()
    assert main(base) == 0
    assert "already finished" in capsys.readouterr().out
    assert (out / "summary.json").read_text() == before
    assert main(base[:-2] + ["--seed", "3", "--out", str(out)]) == 2
    assert "holds another run" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,match",
    [
        (["--model", "transformer"], "unknown model"),
        (["--eps", "0"], "eps must lie in"),
        (["--eps", "1.5"], "eps must lie in"),
        (["--epochs", "-1"], "epochs must be"),
        (["--lattice", "nope"], "unknown lattice"),
        (["--dilations", "1,9,1"], "dilation 9"),
        (["--eps-relative-to", "orbits"], "unknown eps_relative_to"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, match):
    out = tmp_path / "bad"
    assert main(FAST + args + ["--out", str(out)]) == 2
    assert match in capsys.readouterr().err
    assert not out.exists()


def test_config_file_and_flag_override(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('lattice = "triangular-4x4"\nj2 = 1.0\nmodel = "dense"\nhidden = [8]\n[sign]\nepochs = 1\n')
    out = tmp_path / "run"
    assert main([str(cfg), "--j2", "0.5", "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["j2"] == 0.5 and summary["model"] == "dense"
    bad = tmp_path / "bad.toml"
    bad.write_text("epochz = 3\n")
    assert main([str(bad), "--out", str(tmp_path / "x")]) == 2


def test_eps_relative_to_representatives(tmp_path):
    """``--eps-relative-to representatives``: n_train = eps * (number of orbit representatives of
    the symmetric ED basis), counted here independently by NetKet's space-group orbits."""
    import netket as nk

    from nqs_dilated.ed.bits import configs_to_codes
    from nqs_dilated.lattice import load_lattice
    from nqs_dilated.symmetry import space_group

    cluster = load_lattice("triangular-4x4")
    codes = configs_to_codes(np.asarray(nk.hilbert.Spin(0.5, 16, total_sz=0).all_states()))
    bits = ((codes[:, None] >> np.arange(16, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    perms = space_group(cluster).perms
    images = bits[:, perms]  # (D, |G|, N): every group image of every configuration
    images = np.concatenate([images, 1 - images], axis=1)  # and their spin inversions
    smallest = (images << np.arange(16)).sum(axis=2).min(axis=1)
    orbits = np.unique(smallest)
    out = tmp_path / "reps"
    args = FAST + [
        "--j2",
        "0.5",
        "--model",
        "dense",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--eps",
        "0.5",
        "--eps-relative-to",
        "representatives",
        "--sector",
        "A1+",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["eps_relative_to"] == "representatives"
    assert summary["n_train"] == round(0.5 * len(orbits))
