"""Energy-only Lanczos at the search tolerance (1e-4): does the final Ritz value ever sit on an
excited level of the sector instead of its lowest? Reference: each sector's lowest eigenvalue
from a dense diagonalisation (to_dense) or, for large sectors, Lanczos to 1e-10 from another seed."""

import numpy as np

from nqs_dilated.ed.lanczos import lanczos_ground_state
from nqs_dilated.ed.symmetric import SEARCH_TOL, build_structure
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group

worst = 0.0
n = 0
for name in ["triangular-4x4", "triangular-4x6"]:
    c = load_lattice(name)
    g = space_group(c)
    s = build_structure(c, g)
    for j2 in np.round(np.arange(0, 2.01, 0.1), 10):
        for sec in g.sectors():
            op = s.sector_operator(sec, j2)
            if op.dimension == 0:
                continue
            if op.dimension <= 3000:
                ref = np.linalg.eigvalsh(op.to_dense())[0]
            else:
                ref = min(
                    lanczos_ground_state(op.matvec, op.size, mask=op.mask, tol=1e-10, want_vector=False, seed=sd).energy
                    for sd in (11, 12)
                )
            for seed in range(5):
                r = lanczos_ground_state(op.matvec, op.size, mask=op.mask, tol=SEARCH_TOL, want_vector=False, seed=seed)
                d = r.energy - ref
                n += 1
                worst = max(worst, d)
                if d > 1e-6:
                    print("MISCONVERGED", name, j2, sec, seed, r.energy, ref, d, r.n_iter, flush=True)
print(f"{n} energy-only runs at tol {SEARCH_TOL}; largest Ritz value minus true lowest: {worst:.2e}")
