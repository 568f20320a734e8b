"""The lockstep sector search: every sector's energy-only Lanczos run advanced together, one pass
over the structure per step (nqs_dilated.ed.operator.LockstepOperator,
nqs_dilated.ed.lanczos.lanczos_lockstep), against the one-sector-at-a-time route."""

from __future__ import annotations

import numpy as np
import pytest

from nqs_dilated.ed.basis import SymmetricBasis
from nqs_dilated.ed.bounds import coupling_spectrum_bounds, sector_lower_bounds
from nqs_dilated.ed.lanczos import lanczos_ground_state
from nqs_dilated.ed.lockstep import LockstepOperator, compact_columns, lanczos_lockstep
from nqs_dilated.ed.operator import SymmetricStructure
from nqs_dilated.ed.symmetric import lockstep_slots, symmetric_ground_state
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group

_STRUCTURES: dict[str, SymmetricStructure] = {}


def _structure(name: str) -> SymmetricStructure:
    if name not in _STRUCTURES:
        cluster = load_lattice(name)
        _STRUCTURES[name] = SymmetricStructure(SymmetricBasis(cluster, space_group(cluster)))
    return _STRUCTURES[name]


@pytest.mark.parametrize("one", [False, True])
@pytest.mark.parametrize(
    "name, j1, j2", [("triangular-4x4", 1.0, 0.7), ("triangular-4x6", 1.0, 1.3), ("triangular-4x6", 0.6, -0.4)]
)
def test_lockstep_step_equals_sector_matvecs(name, j1, j2, one):
    """Column k of a lockstep step is H_k v_k - beta_k u_k of that sector's own operator, and the
    returned alpha its <v_k, .>; columns vanish on the representatives a sector excludes. With one
    sector (``one``: its own kernel) likewise."""
    s = _structure(name)
    sectors = [str(x) for x in s.basis.group.sectors()]
    if one:
        sectors = sectors[-1:]
    lop = LockstepOperator(s, sectors, j2, j1)
    for k in range(len(sectors)):
        lop.assign(k, k)
    rng = np.random.default_rng(1)
    v = rng.standard_normal((lop.size, len(sectors)))
    u = rng.standard_normal(v.shape)
    beta = rng.standard_normal(len(sectors))
    for k in range(len(sectors)):
        v[~lop.mask(k), k] = 0.0
        u[~lop.mask(k), k] = 0.0
    vs, us = lop.to_scaled(v), lop.to_scaled(u)  # the operator's coordinates
    alpha = lop.step(vs, us, beta)
    got = lop.from_scaled(us)
    assert np.allclose(lop.from_scaled(vs), v, rtol=1e-15, atol=0)
    for k, sec in enumerate(sectors):
        op = s.sector_operator(sec, j2, j1)
        assert np.array_equal(op.mask, lop.mask(k)) and op.dimension == lop.dimensions[k]
        want = op.graded_matvec(np.ascontiguousarray(v[:, k])) - beta[k] * u[:, k]
        assert np.max(np.abs(got[:, k] - want)) < 1e-12 * max(1.0, np.max(np.abs(want))), sec
        assert alpha[k] == pytest.approx(v[:, k] @ want, rel=1e-13, abs=1e-10), sec
        assert not np.any(got[~op.mask, k])


def test_compact_columns_in_place():
    a = np.arange(5 * 6, dtype=np.float64).reshape(5, 6)
    ref = a[:, [1, 2, 5]].copy()
    out = compact_columns(a, [1, 2, 5])
    assert np.shares_memory(out, a) and out.shape == (5, 3) and np.array_equal(out, ref)
    with pytest.raises(ValueError, match="ascending"):
        compact_columns(np.zeros((3, 4)), [2, 1])


@pytest.mark.parametrize("slots", [None, 1, 3])
@pytest.mark.parametrize("name, j2", [("triangular-4x4", 0.8), ("triangular-4x6", 1.0), ("triangular-4x6", 1.4)])
def test_lockstep_energies_equal_one_sector_runs(name, j2, slots):
    """Every sector's lockstep energy equals its own energy-only run (same start vector and
    stopping rule): energies to 1e-10, iterations equal; with fewer slots than sectors, freed
    slots take the next sector and the result is the same."""
    s = _structure(name)
    sectors = [str(x) for x in s.basis.group.sectors()]
    lop = LockstepOperator(s, sectors, j2, n_slots=slots)
    order = list(range(len(sectors)))
    seen = []
    res = lanczos_lockstep(lop, order, seed=3, tol=1e-4, on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == order and set(res) == set(order)
    for i, sec in enumerate(sectors):
        op = s.sector_operator(sec, j2)
        one = lanczos_ground_state(op.graded_matvec, op.size, mask=op.mask, seed=3, tol=1e-4, want_vector=False)
        assert abs(res[i].energy - one.energy) < 1e-10, sec
        # the Ritz residual estimate after ~100 steps without re-orthogonalisation is sensitive
        # to rounding (7 % apart here), the stopping step is not
        assert res[i].n_iter == one.n_iter and res[i].residual < 0.75e-4 and res[i].converged, sec


@pytest.mark.parametrize("name, j2", [("triangular-4x4", 1.3), ("triangular-4x6", 0.5), ("triangular-4x6", 1.2)])
def test_lockstep_search_equals_serial_search(name, j2):
    """The search in lockstep (default) and one sector at a time give the same ground-state
    sector, energy, state, and every sector's energy to 1e-9 (cached structure, 4x4 and 4x6)."""
    cluster = load_lattice(name)
    cache = {("symmetric-structure", cluster.content_hash): _structure(name)}
    serial = symmetric_ground_state(cluster, j2, structure_cache=cache, lockstep=False)
    for lockstep in (True, 2):
        gs = symmetric_ground_state(cluster, j2, structure_cache=cache, lockstep=lockstep)
        assert gs.info.sector == serial.info.sector and abs(gs.energy - serial.energy) < 1e-10
        assert gs.residual < 1e-8
        assert set(gs.info.sector_energies) == set(serial.info.sector_energies)
        for k, e in serial.info.sector_energies.items():
            assert abs(gs.info.sector_energies[k] - e) < 1e-9, k
            assert gs.info.sector_residuals[k] <= 1e-4, k
        assert abs(abs(gs.coefficients @ serial.coefficients) - 1) < 1e-12


def test_lockstep_leaves_out_sectors_a_bound_excludes():
    """With bounds (and no start vector) the lowest-bound sector is converged first; a sector
    whose bound lies above its energy by more than the margin never takes a lockstep slot, and
    the result equals the full search."""
    cluster = load_lattice("triangular-4x6")
    cache = {("symmetric-structure", cluster.content_hash): _structure("triangular-4x6")}
    full = symmetric_ground_state(cluster, 0.5, structure_cache=cache)
    sides = []
    for a in (0.3, 0.7):
        g = symmetric_ground_state(cluster, a, structure_cache=cache, search_tol=1e-9)
        sides.append((a, {k: (e, g.info.sector_residuals[k]) for k, e in g.info.sector_energies.items()}))
    bounds = sector_lower_bounds(0.5, sides, coupling_spectrum_bounds(cluster))
    runs = []

    def progress(phase, value):
        if phase.startswith("lanczos ") and value == 1:
            runs.append(phase.split(maxsplit=1)[1])

    gs = symmetric_ground_state(cluster, 0.5, structure_cache=cache, lower_bounds=bounds, progress=progress)
    skipped = gs.info.sector_lower_bounds
    assert skipped and runs[0] == min(bounds, key=bounds.get)
    ran = {k for r in runs[1:] for k in r.removeprefix("lockstep ").split(",")}
    assert not ran & set(skipped)
    assert gs.info.sector == full.info.sector and abs(gs.energy - full.energy) < 1e-10
    for k, b in skipped.items():
        assert gs.energy < b <= full.info.sector_energies[k] + 1e-9, k


def test_lockstep_width():
    assert lockstep_slots(10**6, 3) == 3
    assert lockstep_slots(10**6, True) >= 1
    for bad in (0, -2, False):
        with pytest.raises(ValueError, match="lockstep must be"):
            lockstep_slots(10**6, bad)
