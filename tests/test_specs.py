"""Typed run specs and results: JSON round trips, the identity of a run directory, the flat
config.json of schema 1, and the results read back from summary.json."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nqs_dilated.experiments.resolve import resolve, spec_from_json
from nqs_dilated.experiments.results import SignResult, VmcResult, result_from_json
from nqs_dilated.experiments.rundir import RunDir, RunDirError, read_spec
from nqs_dilated.experiments.specs import SCHEMA, ProblemSpec, RunSpec

SIGN = {"lattice": "triangular-4x4", "j2": 0.5, "eps": 0.05, "steps": 300}
CHAINED = {"task": "vmc", "lattice": "triangular-4x4", "mode": "fixed-sign", "sign_source": "fit", "sign_lr": 0.002}
PRETRAINED = {"task": "vmc", "lattice": "triangular-4x4", "pretrain_eps": 0.1, "eps_relative_to": "representatives"}


@pytest.mark.parametrize("values", [SIGN, CHAINED, PRETRAINED, {"task": "vmc"}])
def test_a_spec_survives_json_and_the_flat_keys(values):
    spec = resolve(values)
    data = json.loads(json.dumps(spec.to_json()))
    assert data["schema"] == SCHEMA and data["identity"] == spec.identity()
    assert RunSpec.from_json(data) == spec
    assert resolve(spec.flat()) == spec


def test_each_task_holds_only_its_own_parts():
    sign = resolve(SIGN)
    assert sign.vmc is None and sign.sign.eps == 0.05 and sign.sign.lr == 1e-3
    chained = resolve(CHAINED)
    assert chained.chains_sign_fit and chained.sign.lr == 0.002 and chained.vmc.lr == 0.02
    assert chained.vmc.sign_prior is None and chained.vmc.source == "fit"
    plain = resolve({"task": "vmc", "eps": 0.3, "steps": 7})  # [sign] keys without a chained fit
    assert plain.sign is None and plain == resolve({"task": "vmc"})
    pre = resolve(PRETRAINED).vmc.pretrain
    assert (pre.eps, pre.eps_relative_to, pre.steps) == (0.1, "representatives", 2000)
    with pytest.raises(ValueError, match="needs a SignSpec"):
        dataclasses.replace(sign, sign=None)


def test_the_identity_follows_what_a_run_computes():
    spec = resolve({**SIGN, "out": "a"})
    assert spec.identity() == resolve({**SIGN, "out": "b"}).identity()
    assert spec.identity() != resolve({**SIGN, "eps": 0.06}).identity()
    assert spec.identity() != resolve({**SIGN, "split": "configurations"}).identity()
    vmc = resolve({"task": "vmc", "timeout": 0, "checkpoint_every": 50})
    steered = resolve({"task": "vmc", "timeout": 30, "checkpoint_every": 5})
    assert vmc.identity() == steered.identity() and vmc != steered
    assert vmc.identity() != resolve({"task": "vmc", "n_iter": 301}).identity()


def test_a_flat_config_of_schema_1_is_read_with_the_values_it_implied():
    """Schema 1 wrote one flat key per flag, without the keys added later: ``split`` missing means
    the configuration split, ``pretrain_eps`` missing no pretraining."""
    spec = resolve({**SIGN, "split": "configurations"})
    flat = {k: v for k, v in spec.flat().items() if k != "split"}
    old = spec_from_json(flat)
    assert old == spec and old.identity() == spec.identity()
    # an old VMC file held every sign key, at the defaults the resolver had reset them to
    vmc = resolve({"task": "vmc"})
    flat_vmc = {**resolve(SIGN).flat(), **vmc.flat(), "lr": 0.02}
    flat_vmc.pop("split")
    assert spec_from_json(flat_vmc).identity() == vmc.identity()
    with pytest.raises(ValueError, match="schema 99"):
        RunSpec.from_json({**spec.to_json(), "schema": 99})
    with pytest.raises(ValueError, match="no fields"):
        RunSpec.from_json({**spec.to_json(), "colour": "red"})


def test_a_run_directory_resumes_its_own_run_only(tmp_path):
    spec = resolve(SIGN)
    RunDir(tmp_path / "run", spec).start()
    assert read_spec(tmp_path / "run") == dataclasses.replace(spec, out=str(tmp_path / "run"))
    RunDir(tmp_path / "run", spec)  # the same run: accepted
    with pytest.raises(RunDirError, match="holds another run"):
        RunDir(tmp_path / "run", resolve({**SIGN, "eps": 0.06}))
    # a directory written with the flat schema 1 resumes under the same identity
    old = tmp_path / "old"
    old.mkdir()
    flat = resolve({**SIGN, "split": "configurations"}).flat()
    del flat["split"]
    (old / "config.json").write_text(json.dumps(flat))
    RunDir(old, resolve({**SIGN, "split": "configurations"}))
    with pytest.raises(RunDirError, match="holds another run"):
        RunDir(old, spec)  # the orbit split is another run
    (old / "config.json").write_text("{}" + "x")
    with pytest.raises(ValueError):
        RunDir(old, spec)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        read_spec(tmp_path)


def test_results_round_trip_and_refuse_another_task():
    sign = SignResult(
        lattice="triangular-4x4",
        n_sites=16,
        j1=1.0,
        j2=0.5,
        seed=0,
        model="dilated",
        eps=0.05,
        test_accuracy=0.9,
        test_weighted_accuracy=0.95,
        test_overlap=0.8,
        metrics={"test": {"overlap": 0.8}},
        ed_energy=-30.0,
        skipped=True,
    )
    data = json.loads(json.dumps(sign.to_json()))
    assert data["task"] == "sign" and "skipped" not in data
    back = result_from_json(data)
    assert isinstance(back, SignResult) and back == dataclasses.replace(sign, skipped=False)
    # a file of an earlier version without the later figures, and with a key this version dropped
    old = {k: v for k, v in data.items() if k not in ("coverage", "test_overlap_se")} | {"retired": 1}
    assert SignResult.from_json(old).coverage is None
    with pytest.raises(ValueError, match="not of a 'vmc' run"):
        VmcResult.from_json(data)
    with pytest.raises(ValueError, match="not a SignResult"):
        SignResult.from_json({"task": "sign", "lattice": "x"})


def test_the_flat_defaults_are_the_specs_defaults():
    """One source of defaults: the flat keys resolve to the default specs (the cluster's default
    dilation stack aside)."""
    from nqs_dilated.experiments.specs import ModelSpec, SignSpec, VmcSpec

    sign = resolve({})
    assert sign.sign == SignSpec() and sign.model == ModelSpec() and sign.problem == ProblemSpec()
    vmc = resolve({"task": "vmc"}).vmc
    assert vmc == VmcSpec(pretrain=None)
