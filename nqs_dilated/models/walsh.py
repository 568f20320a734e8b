"""Truncated Walsh (Boolean Fourier) series of the sign, symmetric under translations.

Any function of ``N`` spins ``x_i = ±1`` is a Walsh series ``f(x) = sum_S c_S chi_S(x)`` over the
parity monomials ``chi_S(x) = prod_{i in S} x_i``, ``S ⊆ {0..N-1}`` (the Boolean Fourier transform).
Schurov, Kravchenko, Katsnelson, Bagrov and Westerhout (arXiv:2508.09870, 2025) describe ground-state
sign structures of frustrated magnets by truncated Walsh series, ``sign psi(x) ≈ sign(sum_{S in K}
c_S chi_S(x))``, and find that such series generalise from few samples; their code
(``ischurov/frustrations-eda``) computes all ``2^N`` coefficients by a fast Walsh–Hadamard
transform of the training labels and keeps the largest, optionally whole orbits of monomials
under the lattice symmetries at a time. That needs a ``2^N`` table (512 GiB at 36 sites).

:class:`WalshSign` keeps instead a fixed set of terms that can be evaluated at any ``N``:

* **translation-orbit sums** ``Phi_O(x) = (1/|T|) sum_{t in T} chi_{t(S)}(x)`` of every monomial
  ``S`` of degree ``|S| <= max_degree`` (``S = {}`` is the constant), one per orbit ``O`` of such
  monomials under the translations ``T`` of the cluster. A series of orbit sums is exactly
  invariant under every translation, the symmetry of the invariant CNNs of this package, so the
  two compare on the same footing;
* with ``marshall=True`` (default), the same terms times the Marshall monomial ``chi_A(x)``
  (``A``: the sites with ``n1 + n2`` even, the sublattice of the Marshall sign rule), i.e. the
  monomials ``A ⊕ S`` within Hamming distance ``max_degree`` of ``A``. ``chi_A`` is translation
  invariant on the Sz = 0 sector of the shipped clusters (``N/2`` even, so ``chi_B = chi_A``); it
  is the whole sign structure at J2 = 0, where the bare low-degree terms alone would need degree
  ``N/2``.

The sign is ``sign(sum_O c_O Phi_O(x) [+ sum_O c'_O chi_A(x) Phi_O(x)] + b)``: a linear readout
(:class:`~.heads.Readout`) of these features. Its coefficients are fitted like the networks' weights
(the sign fit's cross-entropy, Adam, early stopping on the validation loss: a logistic regression
on the Walsh features), not by the transform of the labels.

Number of terms on 6x6 (36 translations): degree <= 2 gives 1 + 1 + 18 = 20 orbits, degree <= 3 gives
218, degree <= 4 gives 1,854; each doubled with ``marshall``.
"""

from __future__ import annotations

import itertools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from ..lattice import Cluster
from .heads import Readout, check_head

__all__ = ["WalshSign", "translation_orbits_of_monomials"]


def translation_orbits_of_monomials(translations: np.ndarray, max_degree: int) -> list[tuple[int, ...]]:
    """One representative monomial per translation orbit of the monomials of degree ``<= max_degree``.

    Args:
        translations: int ``(T, N)``, the site permutations of the translations (``t[i]`` the
            image of site ``i``), the identity among them.
        max_degree: The largest ``|S|`` (0 gives only the constant term).

    Returns:
        Sorted site tuples, the lexicographically smallest member of each orbit, by degree, then
        lexicographically (``()`` first).

    Raises:
        ValueError: ``max_degree`` negative or larger than ``N``.
    """
    t = np.asarray(translations, dtype=np.int64)
    n = t.shape[1]
    if not 0 <= max_degree <= n:
        raise ValueError(f"max_degree must lie in [0, N = {n}], got {max_degree}")
    reps = []
    for degree in range(max_degree + 1):
        seen: set[tuple[int, ...]] = set()
        for subset in itertools.combinations(range(n), degree):
            if subset in seen:
                continue
            images = {tuple(sorted(int(p) for p in row[list(subset)])) for row in t}
            seen |= images
            reps.append(min(images))
    return reps


class WalshSign(nn.Module):
    """Sign as a truncated Walsh series of translation-orbit sums (module docstring).

    Raises (at construction):
        ValueError: ``max_degree`` < 0, translations that are not permutations of the sites, an
            unknown ``head``, ``sign_logits`` not 1 or 2.
    """

    translations: tuple[tuple[int, ...], ...]
    """Site permutations of the translations, ``(T, N)`` (``from_cluster`` sets them)."""
    sublattice: tuple[bool, ...]
    """Per site, whether it belongs to the Marshall sublattice A (``n1 + n2`` even)."""
    max_degree: int = 3
    """Largest degree ``|S|`` of the monomials (default 3)."""
    marshall: bool = True
    """Also the terms times the Marshall monomial ``chi_A`` (default True)."""
    head: str = "sign"
    """Output head, ``"sign"`` or ``"log_psi"`` (default ``"sign"``)."""
    sign_logits: int = 2
    """Number of sign logits, 2 or 1 (default 2)."""
    param_dtype: Any = jnp.float32
    """Dtype of parameters and computation (default float32)."""

    def __post_init__(self):
        t = np.asarray(self.translations)
        if t.ndim != 2 or any(sorted(row) != list(range(t.shape[1])) for row in t.tolist()):
            raise ValueError("translations must be a (T, N) table of site permutations")
        if self.max_degree < 0:
            raise ValueError(f"max_degree must be >= 0, got {self.max_degree}")
        check_head(self.head, self.sign_logits)
        super().__post_init__()

    @classmethod
    def from_cluster(cls, cluster: Cluster, **config) -> WalshSign:
        """Build the model on ``cluster``: its translations and Marshall sublattice; ``config``
        sets the other fields."""
        from ..symmetry import space_group

        translations = tuple(tuple(int(i) for i in row) for row in np.asarray(space_group(cluster).translations))
        sublattice = tuple(bool((int(a) + int(b)) % 2 == 0) for a, b in cluster.grid)
        return cls(translations=translations, sublattice=sublattice, **config)

    def monomials(self) -> list[tuple[int, ...]]:
        """The representative monomial of each term (:func:`translation_orbits_of_monomials`)."""
        return translation_orbits_of_monomials(np.asarray(self.translations), self.max_degree)

    def n_terms(self) -> int:
        """Number of Walsh terms (features before the readout)."""
        return len(self.monomials()) * (2 if self.marshall else 1)

    def features(self, x: jnp.ndarray) -> jnp.ndarray:
        """The Walsh terms ``Phi_O(x)`` (then ``chi_A(x) Phi_O(x)``), ``(..., n_terms)`` of dtype
        ``param_dtype``, each in ``[-1, 1]``."""
        t = np.asarray(self.translations)
        n = t.shape[1]
        reps = self.monomials()
        incidence = np.zeros((n, len(reps)), dtype=np.float32)  # M[i, k] = 1 if site i is in monomial k
        for k, rep in enumerate(reps):
            incidence[list(rep), k] = 1.0
        s = jnp.asarray(x, dtype=self.param_dtype)
        down = (1 - s[..., jnp.asarray(t)]) / 2  # (..., T, N): 1 where the translated spin is down
        # chi_S = (-1)^(number of down spins in S), the count exact in floating point (<= max_degree)
        counts = down @ jnp.asarray(incidence, dtype=self.param_dtype)  # (..., T, n_terms)
        phi = (1 - 2 * jnp.mod(counts, 2)).mean(axis=-2)
        if self.marshall:
            chi_a = jnp.prod(jnp.where(jnp.asarray(self.sublattice), s, 1), axis=-1)
            phi = jnp.concatenate([phi, chi_a[..., None] * phi], axis=-1)
        return phi

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Evaluate. ``x``: ``(..., N)`` ±1 (any dtype); returns as :class:`~.heads.Readout`."""
        return Readout(head=self.head, sign_logits=self.sign_logits, param_dtype=self.param_dtype)(self.features(x))
