"""Configurations as bit strings.

Bit ``i`` of a ``uint64`` code is 1 when spin ``i`` is up (``sigma_i = +1``, NetKet's first local
state) and 0 when it is down (``-1``). Codes are used for clusters of at most 64 sites.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_SITES", "codes_to_configs", "configs_to_codes"]

#: Largest number of sites a ``uint64`` code can hold.
MAX_SITES = 64


def configs_to_codes(configs: np.ndarray) -> np.ndarray:
    """Pack ±1 configurations into bit codes.

    Args:
        configs: ``(..., N)`` array with entries ±1 (any integer or float dtype), ``N <= 64``.

    Returns:
        uint64 array of shape ``(...)``.

    Raises:
        ValueError: ``N > 64`` or entries other than ±1.
    """
    configs = np.asarray(configs)
    n = configs.shape[-1]
    if n > MAX_SITES:
        raise ValueError(f"{n} sites do not fit a 64-bit code (at most {MAX_SITES})")
    up = configs > 0
    if not np.all(up | (configs < 0)) or not np.all(np.abs(configs) == 1):
        raise ValueError("configurations must have entries +1 or -1")
    weights = np.left_shift(np.uint64(1), np.arange(n, dtype=np.uint64))
    return np.bitwise_or.reduce(np.where(up, weights, np.uint64(0)), axis=-1).astype(np.uint64)


def codes_to_configs(codes: np.ndarray, n_sites: int, dtype=np.int8) -> np.ndarray:
    """Unpack bit codes into ±1 configurations of shape ``(..., n_sites)`` (int8 by default)."""
    codes = np.asarray(codes, dtype=np.uint64)
    bits = (codes[..., None] >> np.arange(n_sites, dtype=np.uint64)) & np.uint64(1)
    return (2 * bits.astype(np.int8) - 1).astype(dtype)
