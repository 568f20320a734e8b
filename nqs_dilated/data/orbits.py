"""Configurations moved by group elements, and one representative per orbit of a set.

:func:`move_configs` applies a site permutation and an optional spin flip to each configuration
(the permutation convention of :mod:`nqs_dilated.symmetry`); :func:`orbit_representatives` groups
a set into the orbits of a permutation group, so that an invariant network need only be
evaluated once per orbit.
"""

from __future__ import annotations

import numpy as np

from ..ed.bits import configs_to_codes

__all__ = ["move_configs", "orbit_representatives"]


def move_configs(configs: np.ndarray, perms: np.ndarray, elements: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """Apply a group element and an optional spin flip to each configuration.

    Follows :mod:`nqs_dilated.symmetry`: element ``g`` moves the spin on site ``i`` to site
    ``perms[g, i]``, so ``new[m, perms[g_m, i]] = old[m, i]``; then ``new *= -1`` where ``flips``.

    Args:
        configs: ``(M, N)`` ±1 configurations.
        perms: int ``(G, N)`` site permutations.
        elements: int ``(M,)`` element index per configuration.
        flips: bool ``(M,)`` spin inversion per configuration.

    Returns:
        Array of the dtype of ``configs``, shape ``(M, N)``.
    """
    configs = np.asarray(configs)
    new = np.empty_like(configs)
    np.put_along_axis(new, np.asarray(perms)[np.asarray(elements)], configs, axis=1)
    return np.where(np.asarray(flips, dtype=bool)[:, None], -new, new).astype(configs.dtype)


def orbit_representatives(
    configs: np.ndarray, perms: np.ndarray, chunk: int = 1 << 20
) -> tuple[np.ndarray, np.ndarray]:
    """One configuration per orbit of a set under a group of site permutations, and the map back.

    Two configurations of ``configs`` are in one orbit when a permutation of ``perms`` (element
    ``g`` moves the spin on site ``i`` to site ``perms[g, i]``, :mod:`nqs_dilated.symmetry`) maps
    one onto the other. A network invariant under ``perms`` (the translation-invariant CNNs under
    ``group.translations``) has one output per orbit, so it need only be evaluated on the
    representatives: ``output(configs) == output(configs[index])[inverse]`` up to float rounding.
    The orbit label of a configuration is the smallest bit code over its images
    (:func:`nqs_dilated.ed.bits.configs_to_codes`); the bits are permuted on the codes, in chunks
    of ``chunk`` configurations.

    Args:
        configs: ``(M, N)`` ±1 configurations.
        perms: int ``(G, N)`` site permutations forming a group (identity included).
        chunk: Configurations per chunk (bounds the memory to a few arrays of ``chunk`` codes).

    Returns:
        ``(index, inverse)``: int64 ``(R,)`` position in ``configs`` of the first member of each
        of the ``R`` orbits, in increasing order of orbit label, and int64 ``(M,)`` the orbit of
        each configuration, so ``configs[index][inverse]`` is in the orbit of ``configs``.

    Raises:
        ValueError: ``perms`` does not act on ``N`` sites.
    """
    configs = np.asarray(configs)
    perms = np.asarray(perms, dtype=np.uint64)
    m, n = configs.shape
    if perms.ndim != 2 or perms.shape[1] != n:
        raise ValueError(f"perms must have shape (G, {n}), got {perms.shape}")
    labels = np.empty(m, dtype=np.uint64)
    one = np.uint64(1)
    for lo in range(0, m, chunk):
        codes = configs_to_codes(configs[lo : lo + chunk])
        best = codes.copy()
        moved = np.empty_like(codes)
        bit = np.empty_like(codes)
        for perm in perms:
            moved[:] = 0
            for i in range(n):
                np.right_shift(codes, np.uint64(i), out=bit)
                np.bitwise_and(bit, one, out=bit)
                np.left_shift(bit, perm[i], out=bit)
                np.bitwise_or(moved, bit, out=moved)
            np.minimum(best, moved, out=best)
        labels[lo : lo + chunk] = best
    _, index, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return index.astype(np.int64), inverse.astype(np.int64).reshape(m)
