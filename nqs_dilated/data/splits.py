"""The training, validation and test sign sets of an exact ground state.

:func:`make_datasets` draws the sets by the protocol of the :mod:`nqs_dilated.data` docstring: the
reference dimension of ``eps`` (:data:`EPS_CONVENTIONS`), what the sets may not share
(:data:`SPLITS`), the default validation size (:func:`default_n_val`), the amplitude below which a
configuration has no sign (:data:`ZERO_AMPLITUDE`), and the memory check before the draw.
"""

from __future__ import annotations

import numpy as np

from ..ed.bits import codes_to_configs, configs_to_codes
from ..ed.orbits import orbit_labels
from ..ed.state import GroundState
from ..symmetry import SymmetryGroup, space_group
from .coverage import split_coverage
from .sampling import _collect, _Drawer, uniform_orbit_configs, uniform_sz0_configs
from .sets import SignDataset, SignDatasets

__all__ = ["EPS_CONVENTIONS", "MIN_VAL", "SPLITS", "ZERO_AMPLITUDE", "default_n_val", "make_datasets"]


#: Accepted values of ``eps_relative_to``: what ``eps`` is a fraction of (:mod:`nqs_dilated.data`).
EPS_CONVENTIONS = ("sz0", "representatives")
#: Accepted values of ``split``: what the training, validation and test sets may not share
#: (:mod:`nqs_dilated.data`); ``"orbits"`` is the default, ``"configurations"`` reproduces numbers
#: measured that way.
SPLITS = ("orbits", "configurations")

#: Relative amplitude below which a configuration has no defined sign and is left out.
ZERO_AMPLITUDE = 1e-12


def _reference_dimension(state: GroundState, eps_relative_to: str) -> int:
    if eps_relative_to == "sz0":
        return int(state.dimension)
    if eps_relative_to == "representatives":
        n_reps = getattr(state, "n_representatives", None)
        if n_reps is not None:
            return int(n_reps)
        if state.info.sector != "full" and state.info.dimension > 0:
            return int(state.info.dimension)
        raise ValueError(
            "eps_relative_to='representatives' needs a state computed in a symmetry sector (it "
            f"counts the orbit representatives of its basis); {state.info.lattice} was solved in "
            "the full Sz = 0 space: use eps_relative_to='sz0'"
        )
    raise ValueError(f"unknown eps_relative_to {eps_relative_to!r}; use one of {EPS_CONVENTIONS}")


#: Smallest default validation set (when the space is large enough, see :func:`default_n_val`).
MIN_VAL = 1000


#: Bytes per site and configuration taken for the draw of the training and validation sets: one
#: ``|psi|^2`` draw of 12 million 36-site configurations (``GroundState.sample``) peaked 284 bytes
#: per configuration above the loaded state, about ``8 (N + 4)`` with ``N = 36``.
BYTES_PER_SITE_DRAW = 8


def _check_memory(n: int, n_sites: int, eps: float, eps_relative_to: str) -> None:
    """Refuse, before drawing, a training plus validation set that would not fit in memory.

    Raises:
        MemoryError: one line with the set size, the estimate and the fix.
    """
    import psutil

    need = n * BYTES_PER_SITE_DRAW * (n_sites + 4)
    free = psutil.virtual_memory().available
    if need > 0.8 * free:
        raise MemoryError(
            f"eps = {eps:g} of the {eps_relative_to} reference is {n:,} training and validation configurations "
            f"(~{need / 2**30:.1f} GiB to draw, {free / 2**30:.1f} GiB available): lower eps, or take eps relative "
            "to the orbit representatives (eps_relative_to = representatives)"
        )


def default_n_val(n_train: int, dimension: int) -> int:
    """Default validation-set size: ``max(n_train // 4, min(MIN_VAL, dimension // 10))``.

    A quarter of the training set, but at least :data:`MIN_VAL` = 1000 configurations (the
    standard error of a validation accuracy near 0.5 is then at most 0.016), except on clusters
    whose Sz = 0 space (``dimension``) is too small to spare them. The validation labels come on
    top of the ``eps * D_ref`` training labels; ``summary.json`` records ``n_val``.
    """
    return max(1, n_train // 4, min(MIN_VAL, dimension // 10))


def make_datasets(
    state: GroundState,
    group: SymmetryGroup | None = None,
    eps: float = 0.01,
    *,
    seed: int | None = 0,
    rng: np.random.Generator | None = None,
    n_val: int | None = None,
    n_test: int = 10_000,
    eps_relative_to: str = "sz0",
    exhaustive: bool | None = None,
    split: str = "orbits",
) -> SignDatasets:
    """Training, validation and test sign sets of an exact ground state (:mod:`nqs_dilated.data`).

    Args:
        state: The exact ground state; symmetric under ``group`` x spin inversion.
        group: Space group used to move the training configurations and to define the orbits
            (default ``space_group(state.cluster)``).
        eps: Training-set size as a fraction of ``D_ref`` (``n_train = max(1, round(eps * D_ref))``).
        seed: Seed of the NumPy generator (ignored when ``rng`` is given).
        rng: NumPy generator to draw from.
        n_val: Validation-set size (default :func:`default_n_val`).
        n_test: Size of each sampled test set when the space is not listed (default 10,000), and
            of the ``|psi|^2`` sample that estimates the training orbits' weight.
        eps_relative_to: ``"sz0"`` (default) or ``"representatives"`` (:mod:`nqs_dilated.data`).
        exhaustive: List the whole rest of the space as the test set (default: when
            ``state.enumerable``); ``False`` forces the two sampled test sets.
        split: ``"orbits"`` (default): validation and test sets share no orbit of space group x
            spin inversion with the training set (nor the test sets with the validation set);
            ``"configurations"``: only the identical configurations are kept apart (symmetry images
            of training configurations stay in the test sets; to reproduce numbers measured so).

    Returns:
        :class:`SignDatasets`; deterministic for a given ``seed`` (or generator state). Its
        ``info`` holds the coverage of :func:`split_coverage` under ``"coverage"``.

    Raises:
        ValueError: ``eps <= 0``, bad sizes, an unknown ``eps_relative_to`` or ``split``, or
            ``"representatives"`` for a full-space state.
        RuntimeError: moved signs disagree with the sector's characters, or the sets cannot be
            filled (nearly every draw already used).
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    if n_test < 1 or (n_val is not None and n_val < 1):
        raise ValueError(f"set sizes must be >= 1, got n_val={n_val!r}, n_test={n_test!r}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    if group is None:
        group = space_group(state.cluster)
    if group.perms.shape[1] != state.n_sites:
        raise ValueError(f"group acts on {group.perms.shape[1]} sites, state has {state.n_sites}")
    seed_used = None if rng is not None else seed
    rng = rng if rng is not None else np.random.default_rng(seed)
    d_ref = _reference_dimension(state, eps_relative_to)
    n_train = max(1, int(round(eps * d_ref)))
    n_val = default_n_val(n_train, int(state.dimension)) if n_val is None else int(n_val)
    _check_memory(n_train + n_val, state.n_sites, eps, eps_relative_to)
    exhaustive = state.enumerable if exhaustive is None else bool(exhaustive)
    by_orbit = split == "orbits"

    def labels(codes):
        return orbit_labels(state.cluster, codes, group)

    def key(configs):  # what a set may not share with the sets before it
        codes = configs_to_codes(configs)
        return labels(codes) if by_orbit else codes

    drawer = _Drawer(state, group, rng)
    if exhaustive:
        all_codes, all_amps = state.enumerate_codes()
        max_amp = float(np.max(np.abs(all_amps)))
    else:
        _, amps0 = state.sample(max(n_train, 1000), np.random.default_rng(rng.integers(2**63)))
        max_amp = float(np.max(np.abs(amps0)))
    threshold = ZERO_AMPLITUDE * max_amp

    def psi2_draw(k):
        moved, amps, _ = drawer.draw(k)
        return moved, amps

    def nonzero(configs, amps):
        return np.abs(amps) >= threshold

    train_c, train_a = _collect(psi2_draw, n_train, nonzero, "training")
    used = np.unique(key(train_c))

    def unused(configs, amps):
        return nonzero(configs, amps) & ~np.isin(key(configs), used)

    val_c, val_a = _collect(psi2_draw, n_val, unused, "validation", by_orbit)
    used = np.union1d(used, key(val_c))
    sets = {
        "train": SignDataset.from_amplitudes(train_c, train_a, "train", "psi2"),
        "val": SignDataset.from_amplitudes(val_c, val_a, "val", "psi2"),
    }
    test_labels = None
    if exhaustive:
        all_labels = labels(all_codes)
        rest = ~np.isin(all_labels if by_orbit else all_codes, used) & (np.abs(all_amps) >= threshold)
        test_labels = all_labels[rest]
        del all_labels
        sets["test"] = SignDataset.from_amplitudes(
            codes_to_configs(all_codes[rest], state.n_sites), all_amps[rest], "test", "all"
        )
        sizes = len(sets["test"])
    else:
        if by_orbit:

            def uniform_draw(k):
                configs, _ = uniform_orbit_configs(k, state.cluster, group, rng)
                return configs, state.amplitude(configs)
        else:

            def uniform_draw(k):
                configs = uniform_sz0_configs(k, state.n_sites, rng)
                return configs, state.amplitude(configs)

        c, a = _collect(uniform_draw, n_test, unused, "uniform test", by_orbit)
        sets["test_uniform"] = SignDataset.from_amplitudes(c, a, "test_uniform", "uniform")
        c, a = _collect(psi2_draw, n_test, unused, "weighted test", by_orbit)
        sets["test_weighted"] = SignDataset.from_amplitudes(c, a, "test_weighted", "psi2")
        sizes = n_test
    info = dict(
        lattice=state.cluster.name,
        j1=float(state.info.j1),
        j2=float(state.info.j2),
        sector=str(state.info.sector),
        split=split,
        eps=float(eps),
        eps_relative_to=eps_relative_to,
        reference_dimension=int(d_ref),
        n_train=n_train,
        n_val=n_val,
        n_test=int(sizes),
        exhaustive=exhaustive,
        seed=seed_used,
        max_amplitude=max_amp,
        zero_threshold=threshold,
    )
    datasets = SignDatasets(info=info, **sets)
    # drawn after every set, so the sets of a seed do not depend on it
    sample = state.sample_codes(n_test, rng)
    info["coverage"] = split_coverage(datasets, state, group, sample=sample, test_labels=test_labels)
    return datasets
