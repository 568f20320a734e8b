"""Measured 2026-12-01: the previous layout (commit c2f1f25, checked out at /tmp/old) measured on the same day and machine as layout-graded.py."""

import sys
import time

sys.path.insert(0, "/tmp/old")
import numpy as np

import nqs_dilated

print(nqs_dilated.__file__)
from nqs_dilated.cli.common import peak_rss_gib
from nqs_dilated.ed.basis import SymmetricBasis
from nqs_dilated.ed.operator import SymmetricStructure
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group

cluster = load_lattice("triangular-6x6")
t = time.perf_counter()
basis = SymmetricBasis(cluster, space_group(cluster))
print(f"basis {time.perf_counter() - t:.1f} s", flush=True)
t = time.perf_counter()
s = SymmetricStructure(basis)
print(
    f"old layout: structure {s.entries.shape[0]:,} words in {time.perf_counter() - t:.1f} s ({s.phase_seconds}); peak RSS {peak_rss_gib():.2f} GiB",
    flush=True,
)
op = s.sector_operator("A1+", 0.5)
x = np.where(op.mask, np.random.default_rng(0).standard_normal(op.size), 0.0)
y = np.empty_like(x)
ts = []
for _ in range(6):
    t = time.perf_counter()
    op.matvec(x, y)
    ts.append(time.perf_counter() - t)
print("old layout: matvec " + " ".join(f"{v:.2f}" for v in ts), flush=True)
