"""Sweeps over J2/J1: configuration, tables, plots, executors, kill-and-resume, the dilation search."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import submitit  # noqa: F401  (imported before any capsys: its logger keeps the first stderr it sees)

import nqs_dilated
from nqs_dilated.cli.main import fit_main as main
from nqs_dilated.cli.parser import build_parser, values_from_args
from nqs_dilated.experiments import tables
from nqs_dilated.experiments.config import ConfigError
from nqs_dilated.experiments.plots import frustrated_region
from nqs_dilated.experiments.resolve import j2_values
from nqs_dilated.experiments.sweep_config import SweepConfig, is_sweep, resolve_sweep

REPO = Path(nqs_dilated.__file__).resolve().parent.parent
# 3 J2 x 2 models x 2 seeds on 4x4, tiny networks: about a second per run
SWEEP = [
    "--lattice",
    "triangular-4x4",
    "--j2",
    "0,0.5,1",
    "--model",
    "dilated,cnn",
    "--dilations",
    "1,2,1",
    "--channels",
    "4,4,4",
    "--epochs",
    "3",
    "--seeds",
    "2",
    "--workers",
    "1",
]
N_RUNS = 12
PLOTS = {f"{name}.{ext}" for name in ("overlap_vs_j2", "accuracy_vs_j2", "ed_energy_vs_j2") for ext in ("png", "pdf")}


def _fit(args: list[str], **kw) -> subprocess.Popen:
    """``python -m nqs_dilated.fit ARGS`` (the alias of ``nqs-dilated``) in a subprocess, importing this checkout."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "nqs_dilated.fit", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _finished(directory: Path) -> int:
    return len(list((directory / "runs").glob("*/summary.json")))


def _comparable(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).drop(columns=list(tables.WALL_TIME_COLUMNS), errors="ignore")


@pytest.fixture(scope="module")
def full_sweep(tmp_path_factory) -> Path:
    """The 4x4 test sweep, uninterrupted, in a subprocess."""
    out = tmp_path_factory.mktemp("sweeps") / "full"
    proc = _fit(["sweep"] + SWEEP + ["--out", str(out)])
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert "runs finished" in stdout and "overlap mean" in stdout
    return out


# --- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0:1.4:0.2", (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4)),
        ("0:1.4:0.1", tuple(round(0.1 * k, 12) for k in range(15))),
        ("0:1:0.3", (0.0, 0.3, 0.6, 0.9)),
        ("0,0.5,1.0,1.3", (0.0, 0.5, 1.0, 1.3)),
        ("0.5,", (0.5,)),
        ("1.3", 1.3),
        (0.7, 0.7),
        ([0, 1], (0.0, 1.0)),
    ],
)
def test_j2_values(text, expected):
    assert j2_values(text) == expected


@pytest.mark.parametrize("text", ["0:1", "0:1:0", "1:0:0.1", "a,b", "x", "0:1:-0.1", ""])
def test_j2_values_rejects(text):
    with pytest.raises(ConfigError):
        j2_values(text)


@pytest.mark.parametrize(
    "values,sweep,match",
    [
        ({"j2": "0,1", "model": "dense"}, {"search": "dilations"}, "one J2 and one eps"),
        ({"j2": "0,0"}, {}, "must not repeat"),
        ({"j2": "0,1", "task": "vmc", "model": "dilated,dense"}, {}, "supports the models"),
        ({"j2": "0,1"}, {"executor": "cloud"}, "unknown executor"),
        ({"j2": "0,1"}, {"seeds": -1}, "seeds"),
        ({"j2": 1.0}, {"search": "dilations", "search_depth": (3, 2)}, "search depth"),
    ],
)
def test_resolve_sweep_rejects(values, sweep, match):
    with pytest.raises(ConfigError, match=match):
        resolve_sweep(values, sweep)


def test_resolve_sweep_axes_and_toml(tmp_path):
    base, sweep = resolve_sweep(
        {
            "j2": "0:1:0.5",
            "model": "dilated,cnn",
            "dilations": [[1, 1], [1, 2]],
            "channels": [4, 4],
            "lattice": "triangular-4x4",
        },
        {"seeds": 2, "workers": 1},
    )
    assert sweep.j2 == (0.0, 0.5, 1.0) and sweep.models == ("dilated", "cnn")
    assert sweep.dilations == ((1, 1), (1, 2)) and sweep.n_seeds == 2 and "j2" not in base
    assert SweepConfig(search="dilations").n_seeds == 3
    # a config file with the axes in its [sweep] table; flags override it
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(
        'lattice = "triangular-4x4"\nmodel = "dense"\nhidden = [4]\n[sign]\nepochs = 1\n'
        '[sweep]\nj2 = [0.0, 1.0]\nseeds = 2\nworkers = 1\nexecutor = "slurm"\nslurm_partition = "short"\n'
    )
    values, sweep_values = values_from_args(build_parser("sweep").parse_args([str(cfg), "--seeds", "3"]), "sweep")
    assert is_sweep(values, sweep_values)
    base, sweep = resolve_sweep(values, sweep_values)
    assert sweep.j2 == (0.0, 1.0) and sweep.n_seeds == 3 and sweep.slurm_partition == "short"
    assert base["hidden"] == [4] and sweep.executor == "slurm"
    values, sweep_values = values_from_args(build_parser().parse_args(["--j2", "0.5", "--dilations", "1,2"]))
    assert not is_sweep(values, sweep_values) and values["dilations"] == [1, 2]


@pytest.mark.parametrize(
    "args,match",
    [
        (["sweep", "--j2", "0:1:0"], "step > 0"),
        (["sweep", "--j2", "0,1", "--model", "dilated,transformer"], "unknown model"),
        (["sweep", "--j2", "0,1", "--dilations", "1,2,1", "--dilations", "1,9,1", "--channels", "4,4,4"], "dilation 9"),
        (["sweep", "--j2", "0,1", "--channels", "4,4", "--dilations", "1,2,1"], "dilations"),
        (["search", "--j2", "0,1"], "one J2 and one eps"),
        (["sign", "--j2", "0,1"], "nqs-dilated sweep"),
        (["vmc", "--j2", "0:1:0.5"], "nqs-dilated sweep"),
        (["sign", "--model", "dilated,cnn"], "nqs-dilated sweep"),
        (["sign", "--eps", "0.01,0.02"], "nqs-dilated sweep"),
    ],
)
def test_bad_sweep_input_exits_2_and_writes_nothing(tmp_path, capsys, args, match):
    out = tmp_path / "bad"
    assert main(args[:1] + ["--lattice", "triangular-4x4", "--quiet", "--out", str(out)] + args[1:]) == 2
    assert match in capsys.readouterr().err
    assert not out.exists()


def test_scalar_j2_is_still_one_run(tmp_path):
    out = tmp_path / "one"
    assert (
        main(
            [
                "--lattice",
                "triangular-4x4",
                "--j2",
                "0.5",
                "--model",
                "dense",
                "--hidden",
                "4",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "summary.json").exists() and not (out / "sweep.json").exists()


# --- tables and plots ------------------------------------------------------------------------------


def test_summary_frame_mean_and_sample_std():
    rng = np.random.default_rng(1)
    rows = []
    for j2 in (0.0, 0.5):
        for variant in ("dilated-1-2-1", "cnn"):
            for seed in range(3 if variant == "cnn" else 1):
                rows.append(
                    {
                        "j2": j2,
                        "variant": variant,
                        "seed": seed,
                        "test_accuracy": rng.random(),
                        "test_weighted_accuracy": rng.random(),
                        "test_overlap": rng.random(),
                        "ed_energy_per_site": -2.0 - j2,
                    }
                )
    results = pd.DataFrame(rows)
    table = tables.summary_frame(results, "sign")
    assert list(table["variant"]) == ["dilated-1-2-1", "cnn"] * 2  # sweep order kept
    cnn = results[(results.j2 == 0.5) & (results.variant == "cnn")]["test_overlap"].to_numpy()
    row = table[(table.j2 == 0.5) & (table.variant == "cnn")].iloc[0]
    assert row["seeds"] == 3
    assert row["test_overlap mean"] == pytest.approx(cnn.mean())
    assert row["test_overlap std"] == pytest.approx(cnn.std(ddof=1))
    single = table[(table.j2 == 0.0) & (table.variant == "dilated-1-2-1")].iloc[0]
    assert math.isnan(single["test_overlap std"])  # one seed: no spread, rendered empty
    ed = pd.DataFrame(
        {"j2": [0.0, 0.5], "energy": [-32.0, -40.0], "energy_per_site": [-2.0, -2.5], "sector": ["A1+"] * 2}
    )
    text = tables.render_summary(results, ed, task="sign", header={"lattice": "x"}, n_planned=8)
    assert "runs finished: 8 of 8" in text and "nan" not in text
    one_seed = results[results.seed == 0]  # every std missing: empty cells, not "nan"
    text = tables.render_summary(one_seed, ed, task="sign", header={"lattice": "x"}, n_planned=4)
    assert "runs finished: 4 of 4" in text and "nan" not in text
    assert f"{one_seed['test_overlap'].iloc[0]:.4f}" in text


def test_frustrated_region_interpolates_the_marshall_overlap():
    ed = pd.DataFrame({"j2": [0.0, 0.5, 1.0, 1.5], "marshall_overlap": [1.0, 1.0, 0.8, 0.1]})
    lo, hi = frustrated_region(ed, threshold=0.9)
    assert lo == pytest.approx(0.75) and hi == 1.5
    assert frustrated_region(pd.DataFrame({"j2": [0.0], "marshall_overlap": [1.0]})) is None


# --- the test sweep --------------------------------------------------------------------------------


def test_sweep_writes_tables_references_and_plots(full_sweep, capsys):
    results = pd.read_csv(full_sweep / "results.csv")
    assert len(results) == N_RUNS and results["run"].is_unique
    assert set(results["variant"]) == {"dilated-1-2-1", "cnn"} and set(results["seed"]) == {0, 1}
    assert {"config.lr", "config.channels", "test_overlap", "metrics.val.overlap", "n_params"} <= set(results.columns)
    assert (results["config.out"] == "runs/" + results["run"]).all()  # relative: the sweep can move
    ed = pd.read_csv(full_sweep / "ed.csv")
    assert list(ed["j2"]) == [0.0, 0.5, 1.0] and (ed["convention"] == "pauli").all()
    merged = results.merge(ed, on="j2")  # every run used the reference of its J2
    assert np.array_equal(merged["ed_energy"].to_numpy(), merged["energy"].to_numpy())
    assert ed.loc[ed.j2 == 0.0, "marshall_overlap"].item() == pytest.approx(1.0)  # Marshall exact at J2 = 0
    # the exact S(q) peak per J2: at J2 = 0 (square lattice) the Neel momentum, q.a1 = q.a2 = pi
    neel = ed.loc[ed.j2 == 0.0, ["sq_peak_qx", "sq_peak_qy"]].to_numpy()[0] @ np.array([[1, 0.5], [0, 3**0.5 / 2]])
    np.testing.assert_allclose(np.cos(neel), [-1, -1], atol=1e-9)
    assert (ed["sq_peak"] > 0).all()
    summary = (full_sweep / "summary.md").read_text()
    assert (
        "runs finished: 12 of 12" in summary and summary.count("| dilated-1-2-1 ") == 3 + 3
    )  # per-J2 rows + the two mean ± std tables + the per-seed table
    assert {p.name for p in (full_sweep / "plots").iterdir()} == PLOTS
    assert all((full_sweep / "plots" / name).stat().st_size > 5000 for name in PLOTS)
    for name in (tables.RESULTS_FILE, tables.SUMMARY_FILE, tables.ED_FILE, "sweep.json"):
        assert not list(full_sweep.glob(f"{name}.*.tmp"))
    # the plots come back from the files alone
    for name in PLOTS:
        (full_sweep / "plots" / name).unlink()
    assert main(["plot", str(full_sweep)]) == 0
    assert {p.name for p in (full_sweep / "plots").iterdir()} == PLOTS
    assert main(["plot", str(full_sweep / "runs")]) == 2


def test_sweep_rerun_is_a_noop_and_another_sweep_is_refused(full_sweep, capsys):
    before = (full_sweep / "results.csv").read_text()
    assert main(["sweep"] + SWEEP + ["--quiet", "--out", str(full_sweep)]) == 0
    assert "12 of 12 runs finished (0 in this invocation)" in capsys.readouterr().out
    assert (full_sweep / "results.csv").read_text() == before
    assert main(["sweep"] + SWEEP[:3] + ["0,0.5"] + SWEEP[4:] + ["--quiet", "--out", str(full_sweep)]) == 2
    assert "holds another sweep" in capsys.readouterr().err


def test_killed_sweep_resumes_to_the_same_files(full_sweep, tmp_path):
    """SIGKILL the sweep process after 3 runs finished, restart it: same results.csv and summary.md."""
    out = tmp_path / "killed"
    proc = _fit(["sweep"] + SWEEP + ["--out", str(out)])
    deadline = time.monotonic() + 300
    workers: list[psutil.Process] = []
    while _finished(out) < 3 and proc.poll() is None and time.monotonic() < deadline:
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)] or workers
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    done = _finished(out)
    assert 3 <= done < N_RUNS, "the sweep was not interrupted mid-way"
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, "worker processes outlived the killed sweep"
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) <= done and rows["run"].is_unique  # written results are consistent
    resumed = _fit(["sweep"] + SWEEP + ["--out", str(out)])
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr
    assert f"{N_RUNS - done} in this invocation" in stdout
    pd.testing.assert_frame_equal(
        _comparable(out / "results.csv"), _comparable(full_sweep / "results.csv"), check_exact=True
    )
    assert (out / "summary.md").read_text() == (full_sweep / "summary.md").read_text()
    assert {p.name for p in (out / "plots").iterdir()} == PLOTS
    log = [json.loads(line) for line in (out / "sweep.jsonl").read_text().splitlines()]
    assert sum(r["event"] == "session-start" for r in log) == 2
    finished = [r["run"] for r in log if r["event"] == "run-finished"]
    assert len(finished) == len(set(finished))  # no run was done twice
    assert len(finished) >= N_RUNS - 1  # at most the run finishing as the sweep died went unlogged


# --- executors -------------------------------------------------------------------------------------


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_local_pool_pins_each_worker_to_its_own_cores():
    from nqs_dilated.experiments.executors import LocalPool

    cores = sorted(os.sched_getaffinity(0))[:2]
    env = dict(os.environ)
    pool = LocalPool(2, cores)
    try:
        seen = set()
        for _ in range(20):  # both workers answer sooner or later
            futures = [pool.call(_affinity_and_threads) for _ in range(4)]
            seen |= {f.result(timeout=120) for f in futures}
            if len(seen) >= 2:
                break
    finally:
        pool.shutdown()
    assert {s[0] for s in seen} == {(cores[0],), (cores[1],)}
    assert {s[1] for s in seen} == {"1"}  # one thread each for numba and BLAS
    assert dict(os.environ) == env  # the parent's environment is restored


def _affinity_and_threads():
    time.sleep(0.2)
    return tuple(sorted(os.sched_getaffinity(0))), os.environ.get("NUMBA_NUM_THREADS")


def test_submitit_local_executor_collects_the_same_results(full_sweep, tmp_path, monkeypatch):
    """Two runs of the test sweep again, submitted through submitit's local executor."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    out = tmp_path / "submitit"
    args = SWEEP[:2] + ["--j2", "0.5", "--model", "cnn"] + SWEEP[8:] + ["--executor", "submitit-local", "--quiet"]
    assert main(["sweep"] + args + ["--out", str(out)]) == 0
    assert list((out / "jobs").glob("*_log.out"))  # went through submitit
    mine = _comparable(out / "results.csv")
    reference = _comparable(full_sweep / "results.csv").set_index("run").loc[mine["run"]].reset_index()
    assert len(mine) == 2
    extra = [c for c in reference.columns if c not in mine.columns]  # fields only dilated runs have
    assert reference[extra].isna().all().all()
    pd.testing.assert_frame_equal(mine, reference[mine.columns], check_exact=True)


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="SLURM is installed here")
def test_slurm_without_a_cluster_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "slurm"
    assert (
        main(
            [
                "sweep",
                "--lattice",
                "triangular-4x4",
                "--j2",
                "0,1",
                "--model",
                "dense",
                "--executor",
                "slurm",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "needs a SLURM cluster" in capsys.readouterr().err and not out.exists()


def test_slurm_jobs_get_the_configured_resources(tmp_path, monkeypatch):
    # (no capsys here: submitit's logger keeps the stream it first sees, and capsys closes its own)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "bin").mkdir()
    for cmd in ("sbatch", "srun"):  # stand-ins, enough for submitit to build its executor
        (tmp_path / "bin" / cmd).write_text("#!/bin/sh\nexit 1\n")
        (tmp_path / "bin" / cmd).chmod(0o755)
    from submitit.slurm.slurm import _make_sbatch_string

    from nqs_dilated.experiments.executors import SubmititPool

    sweep = SweepConfig(
        executor="slurm",
        slurm_partition="short",
        slurm_account="proj",
        slurm_time_min=30,
        slurm_cpus=2,
        slurm_mem_gib=6,
    )
    pool = SubmititPool("slurm", tmp_path / "jobs", sweep)
    script = _make_sbatch_string(
        command="python -m x", folder=str(tmp_path / "jobs"), **pool.executor._executor.parameters
    )
    for line in ("--partition=short", "--account=proj", "--time=30", "--cpus-per-task=2", "--mem=6GB"):
        assert line in script, script


# --- the dilation search ---------------------------------------------------------------------------


def test_dilation_search_resumes_and_compares(tmp_path, capsys):
    out = tmp_path / "search"
    args = [
        "search",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0.5",
        "--channels",
        "4,4,4",
        "--dilations",
        "1,1,1",
        "--epochs",
        "2",
        "--search-channels",
        "4",
        "--search-depth",
        "2,3",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(args + ["--trials", "2"]) == 0
    import optuna

    study = optuna.load_study(study_name="dilations", storage=f"sqlite:///{out / 'study.db'}")
    first = [(t.params, t.value) for t in study.trials]
    assert len(first) == 2 and first[0][0]["d0"] == 1 and first[0][0]["depth"] == 3  # starts from (1, 1, 1)
    assert main(args + ["--trials", "3"]) == 0  # resumes: one more trial
    study = optuna.load_study(study_name="dilations", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 3 and [(t.params, t.value) for t in study.trials[:2]] == first
    for trial in study.trials:  # every stack obeys the receptive-field rule of the 4x4 torus
        kernel = trial.params["kernel"]
        assert all(trial.params[f"d{i}"] * (kernel - 1) <= 4 for i in range(trial.params["depth"]))
    report = (out / "search.md").read_text()
    assert "best: trial" in report and "(1, 2, 3) left out" in report  # (1,2,3) with k=3 does not fit 4x4
    results = pd.read_csv(out / "comparison" / "results.csv")
    assert "dilated-1-1-1_k3_c4-4-4" in set(results["variant"])
    assert len(pd.read_csv(out / "trials.csv")) == 3


@pytest.mark.slow
def test_vmc_sweep_writes_relative_errors_and_their_plot(tmp_path):
    out = tmp_path / "vmc"
    assert (
        main(
            [
                "sweep",
                "--task",
                "vmc",
                "--lattice",
                "triangular-4x4",
                "--j2",
                "0,0.5",
                "--model",
                "dilated,cnn",
                "--dilations",
                "1,2",
                "--channels",
                "4,4",
                "--n-iter",
                "10",
                "--n-samples",
                "256",
                "--mode",
                "fixed-sign",
                "--seeds",
                "2",
                "--workers",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 8 and (results["relative_error"] > 0).all()
    table = tables.summary_frame(results, "vmc")
    ed = pd.read_csv(out / "ed.csv")
    assert np.allclose(table.groupby("j2")["ed_energy_per_site"].first().to_numpy(), ed["energy_per_site"])
    assert "relative energy error mean" in (out / "summary.md").read_text()
    assert {p.name for p in (out / "plots").iterdir()} == {
        f"{n}.{e}" for n in ("vmc_error_vs_j2", "ed_energy_vs_j2") for e in ("png", "pdf")
    }


@pytest.mark.slow
def test_killed_vmc_sweep_resumes_to_the_same_files(tmp_path):
    """SIGKILL a sweep of VMC runs while a run holds a checkpoint but no summary, restart it: its
    results (every energy, error and fidelity) equal those of the uninterrupted sweep, because a
    checkpoint holds the Markov chains, the sampler's key and the step guard (wall times aside)."""
    args = [
        "sweep",
        "--task",
        "vmc",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0.5",
        "--model",
        "dilated",
        "--dilations",
        "1,2",
        "--channels",
        "4,4",
        "--n-iter",
        "40",
        "--n-samples",
        "128",
        "--n-chains",
        "8",
        "--checkpoint-every",
        "5",
        "--mode",
        "full",
        "--seeds",
        "2",
        "--workers",
        "1",
        "--quiet",
    ]
    whole = tmp_path / "whole"
    proc = _fit(args + ["--out", str(whole)])
    assert proc.wait(timeout=900) == 0, proc.communicate()[1]
    out = tmp_path / "killed"
    proc = _fit(args + ["--out", str(out)])
    deadline = time.monotonic() + 600
    workers: list[psutil.Process] = []

    def mid_run() -> bool:
        return (
            any(
                (d / "checkpoint.msgpack").exists() and not (d / "summary.json").exists()
                for d in (out / "runs").glob("*")
            )
            if (out / "runs").exists()
            else False
        )

    while not mid_run() and proc.poll() is None and time.monotonic() < deadline:
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)] or workers
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    for w in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            w.kill()
    proc.communicate()
    assert _finished(out) < 2, "the sweep was not interrupted mid-way"
    resumed = _fit(args + ["--out", str(out)])
    stdout, stderr = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, stderr
    a, b = _comparable(whole / "results.csv"), _comparable(out / "results.csv")
    a = a.drop(columns=["optimisation_seconds_total", "resumed_from"], errors="ignore")
    b = b.drop(columns=["optimisation_seconds_total", "resumed_from"], errors="ignore")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


def test_eps_axis_sweep_tables_and_panels(tmp_path, capsys):
    """Several eps values are a sweep axis: run names carry eps, the summary groups by (J2, eps,
    model) and adds the mean ± std tables with the Marshall sign column, one overlap panel per eps."""
    out = tmp_path / "eps"
    args = [
        "sweep",
        "--lattice",
        "triangular-4x4",
        "--j2",
        "0,0.5",
        "--eps",
        "0.05,0.1",
        "--model",
        "dense,cnn",
        "--channels",
        "4,4",
        "--hidden",
        "4",
        "--steps",
        "20",
        "--seeds",
        "2",
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    names = sorted(p.name for p in (out / "runs").iterdir())
    assert len(names) == 2 * 2 * 2 * 2 and "j2=0.5_eps=0.1_cnn_seed=1" in names
    results = pd.read_csv(out / "results.csv")
    assert sorted(results["eps"].unique()) == [0.05, 0.1]
    assert results["n_train"][results["eps"] == 0.1].min() > results["n_train"][results["eps"] == 0.05].max()
    summary = tables.summary_frame(results, "sign")
    assert list(summary.columns[:4]) == ["j2", "eps", "variant", "seeds"] and len(summary) == 8
    assert (summary["seeds"] == 2).all()
    compact = tables.mean_std_table(results, "test_overlap")
    assert list(compact.columns) == ["j2", "eps", "dense", "cnn", "Marshall sign"] and len(compact) == 4
    row = results[(results["j2"] == 0.5) & (results["eps"] == 0.05) & (results["variant"] == "cnn")]["test_overlap"]
    cell = compact[(compact["j2"] == 0.5) & (compact["eps"] == 0.05)]["cnn"].iloc[0]
    assert cell == f"{row.mean():.3f} ± {row.std(ddof=1):.3f}"
    # J2 = 0: the exact state has the Marshall sign, so the baseline is 1 on every test set
    assert compact[compact["j2"] == 0]["Marshall sign"].tolist() == ["1.000", "1.000"]
    text = (out / "summary.md").read_text()
    assert "Test overlap, mean ± std over seeds" in text and "eps: 0.05, 0.1" in text
    assert "split: orbits" in text and (results["split"] == "orbits").all()
    seeds = tables.per_seed_table(results, "test_overlap")
    by_seed = results[(results["j2"] == 0.5) & (results["eps"] == 0.05) & (results["variant"] == "cnn")].sort_values(
        "seed"
    )
    assert seeds[(seeds["j2"] == 0.5) & (seeds["eps"] == 0.05)]["cnn"].iloc[0] == " / ".join(
        f"{v:.3f}" for v in by_seed["test_overlap"]
    )
    assert "Test overlap per seed" in text
    assert (out / "plots" / "overlap_vs_j2.png").exists()
    with pytest.raises(ConfigError, match="one J2 and one eps"):
        resolve_sweep({"j2": 1.0, "eps": "0.01,0.02"}, {"search": "dilations"})
