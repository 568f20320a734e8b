"""The sign as a truncated Walsh series fitted by the transform of the training labels.

The recipe of Schurov, Kravchenko, Katsnelson, Bagrov and Westerhout (arXiv:2508.09870, 2025; code
``ischurov/frustrations-eda``, ``fourier_supervised``): with the labels ``y(x) = sign psi(x)`` on
the training configurations and 0 elsewhere,

    c_S = 2^-N sum_x y(x) chi_S(x)              (the Walsh–Hadamard transform of the labels)

over all ``2^N`` monomials ``S``; the series is truncated to the ``K`` coefficients of largest
``|c_S|`` and a configuration gets the sign of ``f_K(x) = sum_{S in K} c_S chi_S(x)`` (the inverse
transform of the truncated table). Without truncation ``f`` is the training labels themselves
(0 off the training set): truncation is what generalises.

Here, as for the invariant networks, the labels are first spread over the translation orbit of
every training configuration (a zero-momentum state has the same sign on all translates), so the
coefficients are constant on translation orbits of monomials and the series is exactly
translation invariant; ``K`` is cut only between orbits (all coefficients tied with the K-th are
kept). ``K`` is the model selection: the candidates are ``2^0, 2^1, ...`` monomials (the paper's
grid) and the one with the highest validation overlap is kept, the counterpart of the networks'
early stopping. A prediction of exactly 0 counts as +1.

Cost: three float64 tables of ``2^N`` entries and one ``N 2^N`` transform per candidate: 384 MiB
and ~1 s per transform at 24 sites; impossible at 36 sites (512 GiB per table), which
:func:`fit_walsh_series` refuses up front.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numba
import numpy as np
import psutil

from ..data import SignDatasets
from ..ed.bits import configs_to_codes

__all__ = ["MAX_SITES", "WalshFit", "check_size", "fit_walsh_series", "walsh_hadamard"]

#: Largest cluster the transform fit accepts (three float64 tables of 2^N entries: 6 GiB at 28).
MAX_SITES = 28


@numba.njit(cache=True)
def _fwht(a):
    n = a.shape[0]
    h = 1
    while h < n:
        for i in range(0, n, 2 * h):
            for j in range(i, i + h):
                x, y = a[j], a[j + h]
                a[j], a[j + h] = x + y, x - y
        h *= 2


def walsh_hadamard(values: np.ndarray) -> np.ndarray:
    """The unnormalised Walsh–Hadamard transform ``out[S] = sum_x values[x] (-1)^popcount(x & S)``.

    Args:
        values: float64 ``(2^N,)``, indexed by bit code.

    Returns:
        A new float64 ``(2^N,)`` array (applying it twice multiplies by ``2^N``).

    Raises:
        ValueError: a length that is not a power of two.
    """
    a = np.array(values, dtype=np.float64)
    if a.ndim != 1 or a.size & (a.size - 1):
        raise ValueError(f"the transform needs a 1-D table of length 2^N, got shape {a.shape}")
    _fwht(a)
    return a


@dataclass
class WalshFit:
    """Outcome of :func:`fit_walsh_series`.

    Attributes:
        n_terms: Number of monomials kept (``K``, whole translation orbits).
        n_orbits: Number of translation orbits of monomials kept.
        candidates: Per candidate ``K``: ``{"n_terms", "val_overlap", "val_accuracy"}``.
        metrics: Per split, :meth:`~nqs_dilated.data.SignDataset.sign_metrics` of the kept series.
        degrees: Histogram of the degrees ``|S|`` of the kept monomials, ``{degree: count}``.
        masks: int64 ``(n_terms,)``, the kept monomials as bit masks (bit codes of ``S``).
        coefficients: float64 ``(n_terms,)``, their coefficients ``c_S``.
        seconds: Wall time of the fit and evaluation.
    """

    n_terms: int
    n_orbits: int
    candidates: list[dict]
    metrics: dict[str, dict[str, float]]
    degrees: dict[int, int]
    masks: np.ndarray = field(repr=False)
    coefficients: np.ndarray = field(repr=False)
    seconds: float = 0.0

    def evaluate(self, configs: np.ndarray) -> np.ndarray:
        """The kept series ``f_K(x) = sum_S c_S chi_S(x)`` (in the bit-code convention of the
        transform) at ``configs``: int8 ±1 ``(M, N)`` -> float64 ``(M,)``; its sign is the
        prediction. Cost ``M x n_terms``: meant for a few configurations."""
        codes = configs_to_codes(configs).astype(np.int64)
        parity = np.bitwise_count(codes[:, None] & self.masks[None, :]) & 1
        return (np.where(parity, -1.0, 1.0) * self.coefficients).sum(axis=1)


def check_size(n_sites: int) -> None:
    """Refuse a cluster the transform fit cannot hold (before any ED or sampling is done).

    Raises:
        ValueError: more than :data:`MAX_SITES` sites, with the memory the tables would need.
    """
    if n_sites > MAX_SITES:
        raise ValueError(
            f"the Walsh transform fit needs three tables of 2^{n_sites} float64 entries "
            f"({3 * 8 * 2.0**n_sites / 2**30:,.0f} GiB); it runs up to {MAX_SITES} sites: use the model "
            "walsh-local (translation-orbit sums of low degree) here"
        )


def fit_walsh_series(datasets: SignDatasets, translations: np.ndarray) -> WalshFit:
    """Fit the sign of ``datasets`` by the truncated transform of its training labels (module docstring).

    Args:
        datasets: The sign datasets (:func:`nqs_dilated.data.make_datasets`), any split.
        translations: int ``(T, N)``, site permutations of the translations of the cluster
            (``space_group(cluster).translations``).

    Returns:
        The fit, with the metrics of every split.

    Raises:
        ValueError: more than :data:`MAX_SITES` sites (the ``2^N`` tables), or too little memory
            for them.
    """
    t0 = time.perf_counter()
    configs = datasets.train.configs
    n = configs.shape[1]
    check_size(n)
    need = 3 * 8 * 2**n
    if need > 0.8 * psutil.virtual_memory().available:
        raise ValueError(f"the Walsh transform fit needs {need / 2**30:.1f} GiB; not available on this machine")
    perms = np.asarray(translations)
    labels = np.zeros(2**n, dtype=np.float64)
    for perm in perms:  # the labels on every translate of every training configuration
        labels[configs_to_codes(configs[:, perm]).astype(np.int64)] = datasets.train.signs
    coef = walsh_hadamard(labels) / 2**n
    order = np.argsort(-np.abs(coef), kind="stable")
    magnitude = np.abs(coef[order])
    val_codes = configs_to_codes(datasets.val.configs).astype(np.int64)
    candidates, best = [], None
    k = 1
    while k <= 2**n:
        # cut between orbits: keep every coefficient tied with the k-th (|c| equal within an orbit)
        cut = magnitude[k - 1]
        kept = int(np.searchsorted(-magnitude, -cut, side="right"))
        if magnitude[kept - 1] == 0:
            break
        if not candidates or kept != candidates[-1]["n_terms"]:
            table = np.zeros_like(coef)
            table[order[:kept]] = coef[order[:kept]]
            _fwht(table)  # in place: the table becomes the series' values
            values = table
            pred = np.where(values[val_codes] < 0, -1, 1)
            m = datasets.val.sign_metrics(pred)
            candidates.append({"n_terms": kept, "val_overlap": m["overlap"], "val_accuracy": m["accuracy"]})
            if best is None or m["overlap"] > best[1]:
                best = (kept, m["overlap"], values)
        k *= 2
    kept, _, values = best
    metrics = {}
    for name, ds in datasets.splits().items():
        pred = np.where(values[configs_to_codes(ds.configs).astype(np.int64)] < 0, -1, 1)
        metrics[name] = ds.sign_metrics(pred)
    masks = order[:kept].astype(np.int64)
    bits = (masks[:, None] >> np.arange(n)) & 1  # (K, N)
    degrees = np.bincount(bits.sum(axis=1))
    # the orbit of a monomial: its smallest translate (as a bit mask)
    smallest = np.min([(bits[:, np.argsort(perm)] << np.arange(n)).sum(axis=1) for perm in perms], axis=0)
    return WalshFit(
        n_terms=kept,
        n_orbits=len(np.unique(smallest)),
        candidates=candidates,
        metrics=metrics,
        degrees={int(d): int(c) for d, c in enumerate(degrees) if c},
        masks=masks,
        coefficients=coef[masks],
        seconds=time.perf_counter() - t0,
    )
