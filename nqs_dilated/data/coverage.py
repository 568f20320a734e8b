"""How much of a ground state the training set covers, and what the other sets share with it.

:func:`split_coverage` counts the distinct training orbits of space group x spin inversion, their
exact and sampled ``|psi|^2`` weight, and the share of the validation and test sets in those
orbits (0 when the sets are split by orbits).
"""

from __future__ import annotations

import numpy as np

from ..ed.orbits import orbit_labels
from ..ed.state import GroundState
from ..symmetry import SymmetryGroup, space_group
from .sets import SignDatasets

__all__ = ["split_coverage"]


def split_coverage(
    datasets: SignDatasets,
    state: GroundState,
    group: SymmetryGroup | None = None,
    *,
    sample: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
) -> dict:
    """How much of the state the training set covers, and what the other sets share with it.

    Orbits are those of space group x spin inversion (:func:`nqs_dilated.ed.basis.orbit_labels`).
    The ``|psi|^2`` weight of an orbit is ``|O| psi(sigma)^2`` for any member ``sigma`` (the state
    is symmetric), so the weight of the training orbits is exact at every cluster size.

    Args:
        datasets: The sets (any split).
        state: Their ground state.
        group: The space group (default that of ``state.cluster``).
        sample: Optional uint64 ``(S,)`` codes drawn from ``|psi|^2`` (:meth:`GroundState.sample_codes`)
            for the sampled estimate of the training orbits' weight.
        test_labels: Optional uint64 orbit labels of the exhaustive test set's configurations,
            if already computed (saves one pass over the space).

    Returns:
        A dict: ``n_train_orbits`` (distinct training orbits), ``train_orbit_weight`` (exact
        ``|psi|^2`` weight of the training orbits), with ``sample``
        ``train_orbit_weight_sampled`` and its binomial ``train_orbit_weight_sampled_se`` and
        ``n_sample``; ``val_orbits_in_train`` (fraction of the validation set's distinct orbits
        that are training orbits); and per test set ``"<name>_in_train_orbits"``: the fraction
        of its weight in training orbits, weighted as its metrics are (``|psi|^2`` on the
        exhaustive and uniform sets, by count on the ``|psi|^2``-drawn set). All leakage figures
        are 0 for ``split = "orbits"``.
    """
    cluster = state.cluster
    group = space_group(cluster) if group is None else group
    train_orbits, sizes = orbit_labels(cluster, np.unique(datasets.train.codes), group, sizes=True)
    train_orbits, first = np.unique(train_orbits, return_index=True)
    weight = float(np.sum(sizes[first] * state.amplitude_codes(train_orbits) ** 2))
    out: dict = {"n_train_orbits": int(train_orbits.size), "train_orbit_weight": weight}
    if sample is not None and len(sample):
        f = float(np.mean(np.isin(orbit_labels(cluster, sample, group), train_orbits)))
        out.update(
            train_orbit_weight_sampled=f,
            train_orbit_weight_sampled_se=float(np.sqrt(f * (1 - f) / len(sample))),
            n_sample=int(len(sample)),
        )
    val_orbits = np.unique(orbit_labels(cluster, datasets.val.codes, group))
    out["val_orbits_in_train"] = float(np.mean(np.isin(val_orbits, train_orbits))) if val_orbits.size else 0.0
    for name in ("test", "test_uniform", "test_weighted"):
        ds = getattr(datasets, name)
        if ds is None or not len(ds):
            continue
        lab = test_labels if name == "test" and test_labels is not None else orbit_labels(cluster, ds.codes, group)
        inside = np.isin(lab, train_orbits)
        w = np.ones(len(ds)) if ds.sampling == "psi2" else ds.weights
        out[f"{name}_in_train_orbits"] = float(np.sum(w * inside) / np.sum(w))
    return out
