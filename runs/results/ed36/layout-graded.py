"""Measured 2026-12-01: matvec of the graded layout at 36 sites for several row blocks (one process,
the basis built once): in the graded order (what Lanczos calls) and in the basis order (two
permutations around it). Usage: python runs/results/ed36/layout-graded.py 16 17 18

layout-graded-permuted.log is the first version of this layout, whose matvec took and returned
basis-order vectors inside the kernel (scattered reads and writes of x, y, w and d1/d2)."""

import sys
import time

import numpy as np

from nqs_dilated.cli.common import peak_rss_gib
from nqs_dilated.ed.basis import SymmetricBasis
from nqs_dilated.ed.operator import SymmetricStructure
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group

cluster = load_lattice("triangular-6x6")
t = time.perf_counter()
basis = SymmetricBasis(cluster, space_group(cluster))
print(f"basis {basis.n_reps:,} in {time.perf_counter() - t:.1f} s", flush=True)
x = None
for bits in map(int, sys.argv[1:]):
    t = time.perf_counter()
    s = SymmetricStructure(basis, block_bits=bits)
    print(
        f"block_bits {bits}: structure {s.entries.shape[0]:,} words ({s.nnz:,} entries, {s.nbytes / 2**30:.2f} GiB) in "
        f"{time.perf_counter() - t:.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in s.phase_seconds.items())}); "
        f"peak RSS {peak_rss_gib():.2f} GiB",
        flush=True,
    )
    op = s.sector_operator("A1+", 0.5)
    if x is None:
        x = np.where(op.mask, np.random.default_rng(0).standard_normal(op.size), 0.0)
        y0 = None
    y = np.empty_like(x)
    ts = []
    for _ in range(6):
        t = time.perf_counter()
        op.graded_matvec(x, y)
        ts.append(time.perf_counter() - t)
    tb = []
    for _ in range(2):
        t = time.perf_counter()
        yb = op.matvec(op.from_graded(x))
        tb.append(time.perf_counter() - t)
    dev = np.abs(op.from_graded(y) - yb).max()
    if y0 is None:
        y0 = y.copy()
    print(
        f"block_bits {bits}: graded matvec "
        + " ".join(f"{v:.2f}" for v in ts)
        + " s; basis-order matvec "
        + " ".join(f"{v:.2f}" for v in tb)
        + f" s; |graded - basis| max {dev:.1e}; "
        f"|y - y(first layout)| max {np.abs(y - y0).max():.1e}",
        flush=True,
    )
    del op, s
