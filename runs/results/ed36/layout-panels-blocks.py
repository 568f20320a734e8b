# Layout experiment (2026-11-22): python layout-panels-blocks.py triangular-6x6 BLOCK_BITS,LOG2_PANEL_ROWS ... (bb.py of the first block of layout-panels-blocks.log took BLOCK_BITS lists with the 2^20 panel)
import sys
import time

import numpy as np

from nqs_dilated.cli.common import peak_rss_gib
from nqs_dilated.ed.basis import SymmetricBasis
from nqs_dilated.ed.operator import SymmetricStructure
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group

cl = load_lattice(sys.argv[1])
g = space_group(cl)
t = time.perf_counter()
b = SymmetricBasis(cl, g)
print("basis", time.perf_counter() - t, flush=True)
for cfg in sys.argv[2:]:
    bb, pr = (int(x) for x in cfg.split(","))
    t = time.perf_counter()
    s = SymmetricStructure(b, block_bits=bb, panel_rows=1 << pr)
    ts = time.perf_counter() - t
    op = s.sector_operator("A1+", 1.0)
    x = np.random.default_rng(0).standard_normal(b.n_reps)
    y = np.empty_like(x)
    op.matvec(x, y)
    ts2 = []
    for _ in range(3):
        t = time.perf_counter()
        op.matvec(x, y)
        ts2.append(round(time.perf_counter() - t, 2))
    print(
        f"bb={s.block_bits} panel=2^{pr} nblk={s.n_blocks} struct {ts:.1f}s {s.nbytes / 2**30:.2f}GiB matvec {ts2} chk {float(x @ y):.10e} rss {peak_rss_gib():.2f}",
        flush=True,
    )
    del op, s
