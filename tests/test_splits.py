"""Orbit-disjoint sign datasets: orbit labels, disjoint splits, coverage and standard errors."""

import numpy as np
import pytest
from conftest import brute_images

from nqs_dilated.data import make_datasets, split_coverage, uniform_orbit_configs
from nqs_dilated.ed.basis import orbit_labels
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.metrics import sign_metric_errors
from nqs_dilated.symmetry import space_group


@pytest.fixture(scope="module")
def state_4x4():
    return ground_state("triangular-4x4", 1.0)


@pytest.fixture(scope="module")
def state_4x6():
    return ground_state("triangular-4x6", 1.0)


def _brute_labels(codes, group):
    return brute_images(np.asarray(codes, dtype=np.uint64), group).min(axis=0)


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-4x6"])
def test_orbit_labels_are_the_smallest_image_under_the_group_and_spin_inversion(name):
    state = ground_state(name, 0.5)
    group = space_group(state.cluster)
    codes, _ = state.enumerate_codes()
    rng = np.random.default_rng(0)
    some = codes if len(codes) < 20_000 else rng.choice(codes, 5000, replace=False)
    labels, sizes = orbit_labels(state.cluster, some, group, sizes=True)
    images = brute_images(some, group)
    np.testing.assert_array_equal(labels, images.min(axis=0))
    # orbit size = number of distinct images
    np.testing.assert_array_equal(sizes, [len(np.unique(col)) for col in images.T])


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-4x6"])
@pytest.mark.parametrize("exhaustive", [True, False])
def test_orbit_split_shares_no_orbit(name, exhaustive, request):
    state = ground_state(name, 1.0)
    group = space_group(state.cluster)
    eps = 0.01 if name == "triangular-4x4" else 0.005
    ds = make_datasets(state, group, eps=eps, seed=1, exhaustive=exhaustive, n_test=2000, n_val=200)
    assert ds.info["split"] == "orbits"

    def labels(split):
        return (
            set(_brute_labels(split.codes, group).tolist())
            if len(split) < 50_000
            else set(orbit_labels(state.cluster, split.codes, group).tolist())
        )

    train, val = labels(ds.train), labels(ds.val)
    assert train and val and not train & val
    tests = [ds.test] if exhaustive else [ds.test_uniform, ds.test_weighted]
    for split in tests:
        assert len(split) > 0
        lab = labels(split)
        assert not lab & train and not lab & val
    cov = ds.info["coverage"]
    assert cov["val_orbits_in_train"] == 0.0
    assert all(cov[f"{s.name}_in_train_orbits"] == 0.0 for s in tests)
    assert cov["n_train_orbits"] == len(train)


def test_configuration_split_leaks_and_orbit_split_does_not(state_4x6):
    old = make_datasets(state_4x6, eps=0.01, seed=0, split="configurations")
    new = make_datasets(state_4x6, eps=0.01, seed=0)
    # the same training set either way (same draws), but the old test set holds symmetry images
    np.testing.assert_array_equal(old.train.configs, new.train.configs)
    assert old.info["coverage"]["test_in_train_orbits"] > 0.5
    assert old.info["coverage"]["val_orbits_in_train"] > 0.3
    assert new.info["coverage"]["test_in_train_orbits"] == 0.0
    # the old test set is every configuration outside train and val: the union is the whole space
    codes, amps = state_4x6.enumerate_codes()
    nonzero = np.abs(amps) >= 1e-12 * np.abs(amps).max()
    assert len(old.train.codes) and len(old.test) == np.count_nonzero(
        nonzero & ~np.isin(codes, np.union1d(old.train.codes, old.val.codes))
    )


def test_exhaustive_overlap_is_the_sum_over_the_unseen_orbits(state_4x4, cluster_4x4):
    from conftest import marshall_sign

    group = space_group(cluster_4x4)
    ds = make_datasets(state_4x4, group, eps=0.02, seed=4)
    codes, amps = state_4x4.enumerate_codes()
    labels = _brute_labels(codes, group)  # independent of orbit_labels
    used = np.union1d(_brute_labels(ds.train.codes, group), _brute_labels(ds.val.codes, group))
    unseen = ~np.isin(labels, used) & (np.abs(amps) >= 1e-12 * np.abs(amps).max())
    from nqs_dilated.ed.bits import codes_to_configs

    configs = codes_to_configs(codes[unseen], cluster_4x4.n_sites)
    pred = marshall_sign(cluster_4x4, configs)
    w = amps[unseen] ** 2
    direct = np.sum(w * pred * np.sign(amps[unseen])) / np.sum(w)
    pred_test = marshall_sign(cluster_4x4, ds.test.configs)
    m = ds.test.sign_metrics(pred_test)
    assert len(ds.test) == np.count_nonzero(unseen)
    assert m["overlap"] == pytest.approx(direct, abs=1e-12)
    assert m["overlap_se"] == 0.0  # exact over the unseen space
    assert abs(direct) < 0.999  # not a trivial case


def test_sampled_coverage_agrees_with_the_exact_one(state_4x6):
    ds = make_datasets(state_4x6, eps=0.002, seed=0, n_test=20_000)
    cov = ds.info["coverage"]
    assert 0.05 < cov["train_orbit_weight"] < 0.95  # a non-trivial case
    assert cov["n_sample"] == 20_000
    assert abs(cov["train_orbit_weight_sampled"] - cov["train_orbit_weight"]) < 4 * cov["train_orbit_weight_sampled_se"]
    # the exact weight by brute force: every configuration of the training orbits
    codes, amps = state_4x6.enumerate_codes()
    labels = orbit_labels(state_4x6.cluster, codes)
    inside = np.isin(labels, orbit_labels(state_4x6.cluster, ds.train.codes))
    assert cov["train_orbit_weight"] == pytest.approx(np.sum(amps[inside] ** 2), rel=1e-10)
    again = split_coverage(ds, state_4x6)
    assert again["train_orbit_weight"] == cov["train_orbit_weight"]


def test_uniform_orbit_configs_are_uniform_over_orbits(state_4x4, cluster_4x4):
    group = space_group(cluster_4x4)
    rng = np.random.default_rng(3)
    labels = np.concatenate([uniform_orbit_configs(4000, cluster_4x4, group, rng)[1] for _ in range(60)])
    codes, _ = state_4x4.enumerate_codes()
    all_labels, sizes = orbit_labels(cluster_4x4, codes, group, sizes=True)
    orbits, first = np.unique(all_labels, return_index=True)
    counts = np.array([np.count_nonzero(labels == o) for o in orbits])
    # every orbit equally likely, whatever its size: compare small and full orbits
    expected = len(labels) / len(orbits)
    small = sizes[first] < 2 * len(group)
    assert small.any() and (~small).any()
    for part in (small, ~small):
        mean = counts[part].mean()
        assert abs(mean - expected) < 5 * np.sqrt(expected / part.sum()), (mean, expected)


def test_standard_errors_match_the_scatter_of_repeated_sets():
    rng = np.random.default_rng(0)
    n, reps = 400, 2000
    pop_w = rng.exponential(size=50_000) ** 2
    pop_s = np.where(rng.random(50_000) < 0.8, 1, -1)
    values, errors = [], []
    for _ in range(reps):
        i = rng.integers(0, len(pop_w), n)
        pred = np.ones(n)
        e = sign_metric_errors(pred, pop_s[i], pop_w[i], "uniform")
        values.append(np.sum(pop_w[i] * pop_s[i]) / np.sum(pop_w[i]))
        errors.append(e["overlap_se"])
    assert np.mean(errors) == pytest.approx(np.std(values), rel=0.1)
    e = sign_metric_errors(np.ones(100), np.r_[np.ones(80), -np.ones(20)], np.ones(100), "psi2")
    assert e["accuracy_se"] == pytest.approx(np.sqrt(0.8 * 0.2 / 100))
    assert e["overlap_se"] == pytest.approx(2 * e["accuracy_se"])
    with pytest.raises(ValueError, match="unknown sampling"):
        sign_metric_errors(np.ones(3), np.ones(3), np.ones(3), "weird")


def test_unknown_split_is_refused(state_4x4):
    with pytest.raises(ValueError, match="unknown split"):
        make_datasets(state_4x4, eps=0.02, split="samples")
