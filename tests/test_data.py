"""Sign datasets: sizes, exact signs of moved configurations, |psi|^2 sampling, splits, determinism."""

import dataclasses

import numpy as np
import pytest

from nqs_dilated.data import (
    SignDataset,
    class_to_sign,
    default_n_val,
    make_datasets,
    move_configs,
    sign_to_class,
    uniform_sz0_configs,
)
from nqs_dilated.ed.basis import orbit_labels
from nqs_dilated.ed.bits import codes_to_configs
from nqs_dilated.ed.full import FullSpaceGroundState
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.ed.state import GroundState
from nqs_dilated.metrics import sign_metrics


@pytest.fixture(scope="module", params=[0.0, 0.5])
def state(request):
    return ground_state("triangular-4x4", request.param)


@pytest.fixture(scope="module")
def state_j0():
    return ground_state("triangular-4x4", 0.0)


def _codes_set(ds: SignDataset) -> set:
    return set(ds.codes.tolist())


def _check_exact(state, ds: SignDataset):
    assert ds.configs.dtype == np.int8 and ds.signs.dtype == np.int8
    assert np.all(np.abs(ds.configs) == 1)
    assert np.all(ds.configs.sum(axis=1) == 0)  # Sz = 0
    np.testing.assert_array_equal(ds.amplitudes, state.amplitude(ds.configs))
    np.testing.assert_array_equal(ds.signs, np.sign(ds.amplitudes))
    np.testing.assert_allclose(ds.weights, ds.amplitudes**2)
    assert np.all(ds.signs != 0)


def test_sizes_and_exact_signs(state, group_4x4):
    ds = make_datasets(state, group_4x4, eps=0.02, seed=3)
    n_train = round(0.02 * state.dimension)
    assert len(ds.train) == n_train == ds.info["n_train"]
    assert (
        len(ds.val)
        == max(n_train // 4, min(1000, ds.info["reference_dimension"] // 10))
        == default_n_val(n_train, state.dimension)
    )
    for split in ds.splits().values():
        _check_exact(state, split)


@pytest.mark.parametrize("split", ["orbits", "configurations"])
def test_test_set_is_the_rest_of_the_space(state, group_4x4, split):
    ds = make_datasets(state, group_4x4, eps=0.02, seed=1, split=split)
    assert ds.test_uniform is None and ds.test_weighted is None
    train, val, test = _codes_set(ds.train), _codes_set(ds.val), _codes_set(ds.test)
    assert len(test) == len(ds.test)  # every configuration once
    assert not test & train and not test & val and not val & train
    codes, amps = state.enumerate_codes()
    nonzero = np.abs(amps) >= 1e-12 * np.abs(amps).max()
    if split == "configurations":
        assert train | val | test == set(codes[nonzero].tolist())
    else:  # the rest is every configuration outside the orbits of train and val
        labels = orbit_labels(state.cluster, codes, group_4x4)
        used = np.isin(labels, orbit_labels(state.cluster, np.array(sorted(train | val), dtype=np.uint64), group_4x4))
        assert test == set(codes[nonzero & ~used].tolist())


def test_moves_spread_over_orbits(state_j0, group_4x4):
    """Moved configurations keep |psi| (non-degenerate ground state) and carry signs that follow
    one set of characters."""
    rng = np.random.default_rng(0)
    configs, amps = state_j0.sample(2000, rng)
    g = rng.integers(0, len(group_4x4), 2000)
    z = rng.random(2000) < 0.5
    moved = move_configs(configs, group_4x4.perms, g, z)
    new = state_j0.amplitude(moved)
    np.testing.assert_allclose(np.abs(new), np.abs(amps), rtol=1e-8, atol=1e-13)
    ratio = np.sign(new) * np.sign(amps)
    chi = np.zeros((2, len(group_4x4)))
    chi[z.astype(int), g] = ratio  # one character per (flip, element) ...
    for zz, gg, r in zip(z.astype(int), g, ratio):
        assert chi[zz, gg] == r  # ... and it is the same for every configuration


def test_training_configurations_are_moved(state_j0, group_4x4):
    """Each training configuration lies in the orbit of the |psi|^2 draw it came from (the
    first draw of the seeded generator) and is seldom that draw itself."""
    ds = make_datasets(state_j0, group_4x4, eps=0.02, seed=0)
    raw, _ = state_j0.sample(len(ds.train), np.random.default_rng(0))
    G = len(group_4x4)
    in_orbit = np.zeros(len(raw), bool)
    for z in (False, True):
        for g in range(G):
            img = move_configs(raw, group_4x4.perms, np.full(len(raw), g), np.full(len(raw), z))
            in_orbit |= np.all(img == ds.train.configs, axis=1)
    assert np.all(in_orbit)
    assert np.mean(np.all(raw == ds.train.configs, axis=1)) < 0.2


def test_move_convention(group_4x4):
    rng = np.random.default_rng(1)
    configs = uniform_sz0_configs(5, 16, rng)
    g = np.array([0, 3, 7, 20, 63])
    z = np.array([False, True, False, True, False])
    moved = move_configs(configs, group_4x4.perms, g, z)
    for m in range(5):
        expected = np.empty(16, np.int8)
        expected[group_4x4.perms[g[m]]] = configs[m]
        np.testing.assert_array_equal(moved[m], -expected if z[m] else expected)


class _SectorView(GroundState):
    """A full-space state that claims to live in a sector (to exercise the character check)."""

    def __init__(self, inner, sector):
        self.inner, self.cluster = inner, inner.cluster
        self.info = dataclasses.replace(inner.info, sector=sector)

    def amplitude_codes(self, codes):
        return self.inner.amplitude_codes(codes)

    def sample_codes(self, n, rng):
        return self.inner.sample_codes(n, rng)

    def enumerate_codes(self):
        return self.inner.enumerate_codes()


def _true_sector(state, group):
    rng = np.random.default_rng(0)
    configs, amps = state.sample(200, rng)
    for sector in group.sectors():
        chi = group.characters(sector)
        ok = True
        for z in (0, 1):
            for g in range(len(group)):
                moved = move_configs(configs, group.perms, np.full(200, g), np.full(200, bool(z)))
                if not np.all(np.sign(state.amplitude(moved)) == chi[z, g] * np.sign(amps)):
                    ok = False
                    break
            if not ok:
                break
        if ok:
            return str(sector)
    raise AssertionError("the ground state is in no one-dimensional sector")


def test_signs_checked_against_sector_characters(state_j0, group_4x4):
    right = _true_sector(state_j0, group_4x4)
    ds = make_datasets(_SectorView(state_j0, right), group_4x4, eps=0.02, seed=0)
    assert ds.info["sector"] == right
    wrong = next(str(s) for s in group_4x4.sectors() if str(s) != right)
    with pytest.raises(RuntimeError, match="characters"):
        make_datasets(_SectorView(state_j0, wrong), group_4x4, eps=0.02, seed=0)


def test_sampling_reproduces_psi2(state_j0, group_4x4):
    """Probability mass of the largest-|psi| classes of configurations, within 5 sigma."""
    n = 40_000
    ds = make_datasets(state_j0, group_4x4, eps=n / state_j0.dimension, n_val=1, seed=5)
    codes, amps = state_j0.enumerate_codes()
    p = amps**2
    levels = np.round(p / p.max(), 8)
    train_codes = ds.train.codes
    idx = np.searchsorted(codes, train_codes)
    assert np.all(codes[idx] == train_codes)
    for level in np.unique(levels)[::-1][:8]:
        in_class = levels == level
        expected = p[in_class].sum()
        observed = np.mean(in_class[idx])
        sigma = np.sqrt(expected * (1 - expected) / n)
        assert abs(observed - expected) < 5 * sigma + 1e-12, (level, observed, expected)


def test_sampled_test_sets(state_j0, group_4x4):
    # n_val small: on 16 sites the default 1000 validation configurations would take most of the
    # high-|psi|^2 configurations out of the weighted test set this test compares with the uniform one
    ds = make_datasets(
        state_j0, group_4x4, eps=0.02, n_test=3000, exhaustive=False, seed=2, n_val=64, split="configurations"
    )
    assert ds.test is None and len(ds.val) == 64
    used = _codes_set(ds.train) | _codes_set(ds.val)
    for split in (ds.test_uniform, ds.test_weighted):
        assert len(split) == 3000
        _check_exact(state_j0, split)
        assert not _codes_set(split) & used
    assert ds.test_uniform.sampling == "uniform" and ds.test_weighted.sampling == "psi2"
    # uniform draws sit at typical |psi|^2 ~ 1/D, |psi|^2 draws far above it
    assert np.mean(ds.test_uniform.weights) < 3 / state_j0.dimension
    assert np.mean(ds.test_weighted.weights) > 5 * np.mean(ds.test_uniform.weights)


def test_uniform_sz0_configs_are_uniform():
    rng = np.random.default_rng(0)
    c = uniform_sz0_configs(20_000, 4, rng)  # Sz = 0 of 4 spins: 6 states, 1/6 each
    assert np.all(c.sum(1) == 0)
    _, counts = np.unique(c, axis=0, return_counts=True)
    assert len(counts) == 6
    np.testing.assert_allclose(counts / 20_000, 1 / 6, atol=5 * np.sqrt(1 / 6 * 5 / 6 / 20_000))


def test_zero_amplitudes_excluded(state_j0, group_4x4):
    codes, amps = state_j0.enumerate_codes()
    rng = np.random.default_rng(0)
    zero = rng.choice(len(codes), 3000, replace=False)
    vec = amps.copy()
    vec[zero] = 0.0
    vec /= np.linalg.norm(vec)
    holed = FullSpaceGroundState(state_j0.cluster, codes, vec, state_j0.info)
    # holes at random break the symmetry, so only the configuration split applies
    ds = make_datasets(holed, group_4x4, eps=0.05, seed=0, split="configurations")
    assert len(ds.train) == round(0.05 * holed.dimension)
    zero_codes = set(codes[zero].tolist())
    for split in ds.splits().values():
        assert np.all(np.abs(split.amplitudes) > 0)
        assert not _codes_set(split) & zero_codes
    assert len(ds.test) == len(codes) - 3000 - len(_codes_set(ds.train) | _codes_set(ds.val))
    ds = make_datasets(holed, group_4x4, eps=0.05, seed=0, exhaustive=False, n_test=2000, split="configurations")
    for split in ds.splits().values():
        assert np.all(np.abs(split.amplitudes) > 0)


def test_deterministic(state_j0, group_4x4):
    a = make_datasets(state_j0, group_4x4, eps=0.02, seed=7, exhaustive=False, n_test=500)
    b = make_datasets(state_j0, group_4x4, eps=0.02, seed=7, exhaustive=False, n_test=500)
    c = make_datasets(state_j0, group_4x4, eps=0.02, rng=np.random.default_rng(8), exhaustive=False, n_test=500)
    for name, split in a.splits().items():
        np.testing.assert_array_equal(split.configs, b.splits()[name].configs)
        np.testing.assert_array_equal(split.amplitudes, b.splits()[name].amplitudes)
    assert not np.array_equal(a.train.configs, c.train.configs)


def test_eps_conventions(state_j0, group_4x4):
    from nqs_dilated.ed.ground import ground_state

    full_space = ground_state(state_j0.cluster, 0.0, method="netket")
    with pytest.raises(ValueError, match="representatives"):
        make_datasets(full_space, group_4x4, eps=0.01, eps_relative_to="representatives")
    if hasattr(state_j0, "n_representatives"):  # symmetric engine: eps relative to the sector dimension
        ds = make_datasets(state_j0, group_4x4, eps=0.5, eps_relative_to="representatives", seed=0)
        assert ds.info["reference_dimension"] == state_j0.n_representatives == state_j0.info.dimension
    with pytest.raises(ValueError, match="eps_relative_to"):
        make_datasets(state_j0, group_4x4, eps=0.01, eps_relative_to="orbits")
    with pytest.raises(ValueError):
        make_datasets(state_j0, group_4x4, eps=0.0)
    view = _SectorView(state_j0, "full")
    view.n_representatives = 400
    ds = make_datasets(view, group_4x4, eps=0.5, eps_relative_to="representatives", seed=0)
    assert len(ds.train) == 200 and ds.info["reference_dimension"] == 400


def test_sign_classes():
    s = np.array([1, -1, -1, 1])
    np.testing.assert_array_equal(sign_to_class(s), [0, 1, 1, 0])
    np.testing.assert_array_equal(class_to_sign(sign_to_class(s)), s)


@pytest.mark.parametrize("split", ["orbits", "configurations"])
def test_set_metrics_estimate_the_weighted_figures_of_the_state(state_j0, group_4x4, split):
    """A |psi|^2-sampled test set's ``sign_metrics`` estimates the exact |psi|^2-weighted overlap on
    the rest of the space (an exhaustive sum over the unseen configurations or orbits), within 5
    sigma and within its own standard error; weighting again by |psi|^2 would not."""
    ds = make_datasets(
        state_j0,
        group_4x4,
        eps=0.02 if split == "configurations" else 0.005,
        n_test=20_000,
        exhaustive=False,
        seed=4,
        n_val=64,
        split=split,
    )
    codes, amps = state_j0.enumerate_codes()

    # a deliberately imperfect sign: exact except on a fixed half of the spin-up-at-site-0 configurations
    def predict(configs):
        exact = np.sign(state_j0.amplitude(configs))
        flip = (configs[:, 0] == 1) & (configs[:, 1] == -1)
        return np.where(flip, -exact, exact)

    used = np.concatenate([ds.train.codes, ds.val.codes])
    if split == "configurations":
        rest = ~np.isin(codes, used)
    else:
        labels = orbit_labels(state_j0.cluster, codes, group_4x4)
        rest = ~np.isin(labels, orbit_labels(state_j0.cluster, used, group_4x4))
    every = codes_to_configs(codes[rest], state_j0.n_sites)
    amps = amps[rest]
    w = amps**2
    exact_overlap = float(np.sum(w * predict(every) * np.sign(amps)) / np.sum(w))
    assert 0.1 < exact_overlap < 0.9
    sampled = ds.test_weighted.sign_metrics(predict(ds.test_weighted.configs))
    sigma = 2 * np.sqrt((1 - exact_overlap**2) / 4 / len(ds.test_weighted))
    assert abs(sampled["overlap"] - exact_overlap) < 5 * sigma
    assert sampled["overlap_se"] == pytest.approx(sigma, rel=0.05)
    double = sign_metrics(predict(ds.test_weighted.configs), ds.test_weighted.signs, ds.test_weighted.weights)
    assert abs(double["overlap"] - exact_overlap) > 5 * sigma  # what the plain weighted formula gives here
    assert sampled["overlap"] == pytest.approx(2 * sampled["accuracy"] - 1)
    assert sampled["weighted_accuracy"] == sampled["accuracy"]
    uniform = ds.test_uniform.sign_metrics(predict(ds.test_uniform.configs))
    w_u = ds.test_uniform.weights
    assert uniform["overlap"] == pytest.approx(
        float(np.sum(w_u * predict(ds.test_uniform.configs) * ds.test_uniform.signs) / np.sum(w_u))
    )
