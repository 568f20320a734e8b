"""Layout of the packed Hamiltonian structure of :class:`~nqs_dilated.ed.operator.SymmetricStructure`.

The sizes that fix how its entries are packed into uint32 words and built: the row block
(:data:`BLOCK_BITS`, :func:`default_block_bits`), the rows filled and sorted together
(:data:`PANEL_ROWS`), the bits of the class code (:func:`code_bits`), the escape words a
structure may need (:func:`escape_reserve`), and the memory estimate of a structure and its build
(:func:`structure_bytes`).
"""

from __future__ import annotations

import math

import numba as nb

__all__ = ["default_block_bits", "structure_bytes"]


#: Default row block: ``2**BLOCK_BITS`` representatives, a 1 MiB float64 accumulator, the L2
#: cache of one core of the machines this was measured on (see ``benchmarks/ed_36.py``).
BLOCK_BITS = 17
#: Rows filled and sorted together (a multiple of the block): their uint64 items (8 bytes per
#: entry, 1.9 GB at 36 sites) are the build's scratch.
PANEL_ROWS = 1 << 22


def default_block_bits(n_reps: int) -> int:
    """log2 of the row block: :data:`BLOCK_BITS`, or less so that every thread gets at least
    four blocks (at least 2**4 rows)."""
    threads = max(1, nb.get_num_threads())
    return int(max(4, min(BLOCK_BITS, math.floor(math.log2(max(16, n_reps // (4 * threads)))))))


def code_bits(n_point: int) -> int:
    """Bits of the class code ``fam * 2P + z * P + p`` (``4 P`` codes plus the null code)."""
    return max(1, math.ceil(math.log2(4 * n_point + 1)))


def escape_reserve(n_reps: int, n_blocks: int, delta_bits: int) -> int:
    """Most escape words a structure can need: a block's column increments add up to less than
    ``n_reps``, so it needs at most ``(n_reps - 1) // (2**delta_bits - 1)`` of them."""
    return n_blocks * ((n_reps - 1) // ((1 << delta_bits) - 1) + 1)


def structure_bytes(n_reps: int, nnz: int, n_point: int) -> tuple[int, int]:
    """Estimated bytes of a :class:`~nqs_dilated.ed.operator.SymmetricStructure` (packed entries
    with their escape reserve, row blocks, ``d1``/``d2``, the graded order) and of its build
    scratch (row counts, the inverse order, one panel's uint64 items and a sort buffer per thread).

    Returns:
        ``(structure, build)`` in bytes.
    """
    bb = default_block_bits(n_reps)
    n_blocks = -(-n_reps // (1 << bb))
    per_row = nnz / max(1, n_reps)
    reserve = escape_reserve(n_reps, n_blocks, 32 - code_bits(n_point) - bb)
    structure = 4 * (nnz + reserve) + 8 * (n_blocks + 1) + 2 * n_reps + 4 * n_reps
    threads = max(1, nb.get_num_threads())
    build = n_reps * (1 + 4 + 1) + int(8 * per_row * (min(n_reps, PANEL_ROWS) + threads * (1 << bb)))
    return structure, build
