"""J2 = 0 (6x6 square lattice): is the stored A1+ state the ground state of the whole Sz = 0 space?

Perron-Frobenius route, independent of the sector search. With the Marshall rotation
(-1)^(up spins on sublattice A), H = J1 sum sigma.sigma (J1 > 0, bipartite, connected) has
non-positive off-diagonal elements and is irreducible on Sz = 0, so its ground state is unique and
has strictly positive rotated amplitudes; an eigenvector with strictly positive rotated amplitudes
is therefore that ground state (all momenta and sectors included). The Marshall sign is constant
on every orbit here (N_A = 18 is even, so translations that swap the sublattices, the point group
and spin inversion keep its parity), and A1+ has all characters +1, so it suffices to check the
sign of the coefficient of every representative.

Usage: python runs/results/ed36/marshall-j2=0.py   (reads the stored A1+ state at J2 = 0)
"""

import numpy as np

from nqs_dilated.ed import ground_state
from nqs_dilated.lattice import load_lattice

cluster = load_lattice("triangular-6x6")
gs = ground_state(cluster, 0.0, sector="A1+")  # the stored A1+ state (computed if absent)
assert gs is not None and str(gs.sector) == "A1+", "no stored A1+ state at J2 = 0"
L1, L2 = cluster.extent
maskA = sum(1 << (n1 * L2 + n2) for n1 in range(L1) for n2 in range(L2) if (n1 + n2) % 2 == 0)
reps = gs.basis.representatives
up_A = np.zeros(reps.shape, dtype=np.int64)
x = reps & np.uint64(maskA)
while np.any(x):
    up_A += (x & np.uint64(1)).astype(np.int64)
    x >>= np.uint64(1)
rotated = gs.coefficients * np.where(up_A % 2 == 0, 1.0, -1.0)
s = np.sign(rotated[np.argmax(np.abs(rotated))])
rotated *= s
print(f"E0 = {gs.energy:.12f} (Pauli), residual {gs.residual:.2e}, {reps.size:,} representatives")
print(
    f"rotated coefficients: {np.count_nonzero(rotated > 0):,} positive, {np.count_nonzero(rotated < 0):,} negative, "
    f"{np.count_nonzero(rotated == 0):,} zero; smallest {rotated.min():.3e}, largest {rotated.max():.3e}"
)
print("Marshall-positive everywhere:", bool(np.all(rotated > 0)))
