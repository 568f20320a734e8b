"""The truncated Walsh series of the sign: the local series (features against a brute-force sum,
exact translation invariance, a planted low-degree sign recovered exactly on 16 sites, the model in
a sweep) and the transform fit (the transform against its definition, the Marshall monomial found
at J2 = 0, the refusal at 36 sites)."""

from __future__ import annotations

import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from nqs_dilated.cli.main import main
from nqs_dilated.data import SignDataset, SignDatasets, make_datasets
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import TRANSLATION_INVARIANT, make_model
from nqs_dilated.models.walsh import WalshSign, translation_orbits_of_monomials
from nqs_dilated.symmetry import space_group
from nqs_dilated.training.sign import train_sign
from nqs_dilated.training.sign_steps import predict_signs
from nqs_dilated.training.walsh import fit_walsh_series, walsh_hadamard


def _sz0(n: int, count: int, rng) -> np.ndarray:
    x = np.ones((count, n), np.int8)
    for row in x:
        row[rng.choice(n, n // 2, replace=False)] = -1
    return x


def test_orbit_representatives_partition_the_monomials():
    """Every monomial of degree <= 3 lies in exactly one listed orbit, and the orbit sizes add up
    to the number of monomials (4x4: 1 + 16 + 120 + 560)."""
    t = np.asarray(space_group(load_lattice("triangular-4x4")).translations)
    reps = translation_orbits_of_monomials(t, 3)
    sizes = [len({tuple(sorted(row[list(r)])) for row in t}) for r in reps]
    assert sum(sizes) == sum(math.comb(16, k) for k in range(4))
    assert reps[0] == () and len(set(reps)) == len(reps)
    with pytest.raises(ValueError, match="max_degree"):
        translation_orbits_of_monomials(t, 17)


def test_features_equal_the_orbit_sums():
    cluster = load_lattice("triangular-4x6")
    model = WalshSign.from_cluster(cluster, max_degree=3)
    x = _sz0(24, 7, np.random.default_rng(1))
    feats = np.asarray(model.features(jnp.asarray(x)))
    t = np.asarray(model.translations)
    reps = model.monomials()
    brute = np.array([[np.mean([np.prod(c[row[list(r)]]) for row in t]) for r in reps] for c in x])
    chi_a = np.prod(np.where(np.asarray(model.sublattice), x, 1), axis=1)
    np.testing.assert_allclose(feats[:, : len(reps)], brute, atol=1e-6)
    np.testing.assert_allclose(feats[:, len(reps) :], chi_a[:, None] * brute, atol=1e-6)
    assert feats.shape == (7, model.n_terms())


@pytest.mark.parametrize("lattice", ["triangular-4x4", "triangular-4x6", "triangular-6x6"])
def test_exactly_invariant_under_every_translation(lattice):
    """On Sz = 0 (the sector of the data) the output is the same for every translate, to the last
    bit of float64, the Marshall terms included (N/2 even on the shipped clusters)."""
    cluster = load_lattice(lattice)
    model = make_model("walsh-local", cluster, max_degree=3, param_dtype=jnp.float64)
    assert "walsh-local" in TRANSLATION_INVARIANT
    x = _sz0(cluster.n_sites, 6, np.random.default_rng(0))
    params = model.init(jax.random.key(0), jnp.asarray(x))
    params = jax.tree.map(lambda p: jax.random.normal(jax.random.key(3), p.shape, p.dtype), params)
    ref = np.asarray(model.apply(params, jnp.asarray(x)))
    for perm in np.asarray(space_group(cluster).translations):
        moved = x[:, np.argsort(perm)]
        np.testing.assert_array_equal(np.asarray(model.apply(params, jnp.asarray(moved))), ref)
    # and not under a generic permutation (the test can fail)
    shuffled = x[:, np.random.default_rng(5).permutation(cluster.n_sites)]
    assert not np.allclose(np.asarray(model.apply(params, jnp.asarray(shuffled))), ref)


def test_a_planted_low_degree_sign_is_recovered_exactly():
    """Signs made by a sparse truncated series (degree <= 2 orbit sums, a Marshall term) on every
    Sz = 0 configuration of 4x4: a fit on 40 % of them predicts every sign of the rest."""
    cluster = load_lattice("triangular-4x4")
    model = WalshSign.from_cluster(cluster, max_degree=2)
    configs = np.array(
        [[1 if i in up else -1 for i in range(16)] for up in itertools.combinations(range(16), 8)], np.int8
    )
    feats = np.asarray(model.features(jnp.asarray(configs)), np.float64)
    rng = np.random.default_rng(7)
    coef = np.zeros(feats.shape[1])
    coef[rng.choice(feats.shape[1], 5, replace=False)] = rng.normal(size=5)
    coef[len(model.monomials())] = 1.5  # the Marshall monomial itself
    field = feats @ coef
    keep = np.abs(field) > 0.05  # a margin, so that float32 features give the same signs
    configs, field = configs[keep], field[keep]
    amplitudes = np.sign(field) * rng.uniform(0.5, 1.5, size=len(field))
    order = rng.permutation(len(field))
    n_train, n_val = int(0.4 * len(order)), int(0.1 * len(order))
    parts = np.split(order, [n_train, n_train + n_val])
    sets = [SignDataset.from_amplitudes(configs[p], amplitudes[p], n) for p, n in zip(parts, ("train", "val", "test"))]
    datasets = SignDatasets(train=sets[0], val=sets[1], test=sets[2])
    result = train_sign(model, datasets, lr=0.05, steps=1500, batch_size=256, patience=None, progress=False)
    pred = predict_signs(model, result.params, sets[2].configs)
    assert np.all(pred == sets[2].signs), result.metrics["test"]
    assert np.mean(sets[2].signs > 0) < 0.9  # both signs occur: the test is not trivial


def test_walsh_runs_in_a_sweep(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "--lattice", "triangular-4x4", "--j2", "0,1", "--model", "walsh-local,walsh,dense", "--eps", "0.1"]
    args += [
        "--steps",
        "1000",
        "--lr",
        "0.01",
        "--degree",
        "2",
        "--hidden",
        "16",
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results["variant"]) == {"walsh-local", "walsh", "dense"} and len(results) == 6
    transform = results[results["variant"] == "walsh"]
    assert (transform[transform["j2"] == 0]["test_overlap"] == 1.0).all() and (transform["walsh.n_terms"] > 0).all()
    walsh = results[results["variant"] == "walsh-local"]
    assert (walsh["model_options.max_degree"] == 2).all() and (walsh["split"] == "orbits").all()
    # at J2 = 0 the sign is the Marshall monomial, one of the terms: learned on the unseen orbits
    assert walsh[walsh["j2"] == 0]["test_overlap"].iloc[0] > 0.99
    config = json.loads(next((out / "runs").glob("j2=0_walsh-local*")).joinpath("config.json").read_text())
    assert config["model"]["name"] == "walsh-local" and config["model"]["degree"] == 2


def test_the_transform_equals_the_sum_over_monomials():
    rng = np.random.default_rng(2)
    values = rng.normal(size=16)
    brute = [sum(values[x] * (-1) ** bin(x & s).count("1") for x in range(16)) for s in range(16)]
    np.testing.assert_allclose(walsh_hadamard(values), brute, atol=1e-12)
    np.testing.assert_allclose(walsh_hadamard(walsh_hadamard(values)), 16 * values, atol=1e-12)
    with pytest.raises(ValueError, match="2\\^N"):
        walsh_hadamard(np.ones(12))


def test_the_transform_fit_finds_the_marshall_monomial():
    """At J2 = 0 the sign is the Marshall monomial: the fit keeps its one translation orbit and
    predicts every sign on the unseen orbits; its predictions are the same on every translate."""
    cluster = load_lattice("triangular-4x4")
    group = space_group(cluster)
    datasets = make_datasets(ground_state(cluster, 0.0), group, eps=0.1, seed=0)
    fit = fit_walsh_series(datasets, group.translations)
    assert fit.n_orbits == 1 and fit.metrics["test"]["overlap"] == 1.0 and fit.metrics["test"]["accuracy"] == 1.0
    assert fit.candidates[0]["n_terms"] == fit.n_terms and fit.degrees == {8: fit.n_terms}
    x = datasets.test.configs[:20]
    f = fit.evaluate(x)
    for perm in np.asarray(group.translations):
        np.testing.assert_allclose(fit.evaluate(x[:, perm]), f, rtol=1e-12)


def test_the_transform_fit_refuses_36_sites(tmp_path, capsys):
    """Refused up front: by the fit, and by the command line before any ED or sampling."""
    assert (
        main(["sign", "--lattice", "triangular-6x6", "--model", "walsh", "--quiet", "--out", str(tmp_path / "r")]) == 2
    )
    assert "walsh-local" in capsys.readouterr().err and not (tmp_path / "r").exists()
    x = np.ones((4, 36), np.int8)
    x[:, :18] = -1
    sets = [SignDataset.from_amplitudes(x, np.ones(4), n) for n in ("train", "val")]
    with pytest.raises(ValueError, match="walsh-local"):
        fit_walsh_series(SignDatasets(train=sets[0], val=sets[1]), np.arange(36)[None, :])
