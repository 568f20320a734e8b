"""Tests of the symmetric exact-diagonalization engine against independent routes.

Slow tests (NetKet ED on 24 sites) run with ``--runslow``.
"""

from __future__ import annotations

import itertools
import json
from functools import cache

import netket as nk
import numpy as np
import pytest
import scipy.sparse.linalg as sla
from conftest import brute_images

from nqs_dilated.ed.basis import SymmetricBasis
from nqs_dilated.ed.bits import configs_to_codes
from nqs_dilated.ed.lanczos import lanczos_ground_state
from nqs_dilated.ed.operator import SymmetricStructure
from nqs_dilated.ed.symmetric import estimate_memory, symmetric_ground_state
from nqs_dilated.hamiltonian import heisenberg
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group


@cache
def _setup(name):
    cluster = load_lattice(name)
    group = space_group(cluster)
    basis = SymmetricBasis(cluster, group)
    structure = SymmetricStructure(basis)
    return cluster, group, basis, structure


@cache
def _cache(name):
    _, _, _, structure = _setup(name)
    return {("symmetric-structure", structure.basis.cluster.content_hash): structure}


def _sz0_codes_sorted(n):
    return np.sort(
        np.array([sum(1 << i for i in c) for c in itertools.combinations(range(n), n // 2)], dtype=np.uint64)
    )


# ------------------------------------------------------------------------------------------
# Basis: representatives, stabilizers, representative search vs brute force over group.perms


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-4x6"])
def test_basis_matches_brute_force(name):
    cluster, group, basis, _ = _setup(name)
    codes = _sz0_codes_sorted(cluster.n_sites)
    images = brute_images(codes, group)
    mins = images.min(axis=0)
    reps = np.unique(mins)
    np.testing.assert_array_equal(basis.representatives, reps)
    # stabilizer counts by class (z, p)
    P = group.n_point
    pos = np.searchsorted(codes, reps)
    stab = np.zeros((len(reps), 2 * P), dtype=np.int64)
    for g in range(len(group)):
        for z in range(2):
            stab[:, z * P + g % P] += images[2 * g + z][pos] == reps
    np.testing.assert_array_equal(basis.stab_counts, stab)
    # representative search: index and a (p, z) class reaching it
    idx, p, z = basis.find_representatives(codes)
    np.testing.assert_array_equal(basis.representatives[idx], mins)
    reached = np.zeros(len(codes), dtype=bool)
    for g in range(len(group)):
        for zz in range(2):
            reached |= (p == g % P) & (z == zz) & (images[2 * g + zz] == mins)
    assert reached.all()


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-4x6", "triangular-6x6"])
def test_bit_group_action_matches_perms(name):
    cluster = load_lattice(name)
    group = space_group(cluster)
    basis = SymmetricBasis.__new__(SymmetricBasis)  # only the tables are needed here
    from nqs_dilated.ed._bitops import make_tables

    basis.T = make_tables(cluster.n_sites, cluster.extent, np.asarray(group.point_perms))
    rng = np.random.default_rng(1)
    N = cluster.n_sites
    codes = np.array(
        [int(sum(1 << int(i) for i in rng.choice(N, N // 2, replace=False))) for _ in range(50)], dtype=np.uint64
    )
    images = brute_images(codes, group)
    L1, L2 = cluster.extent
    P = group.n_point
    for t in range(len(group.translations)):
        d1, d2 = divmod(t, L2)
        for p in range(P):
            for z in range(2):
                got = SymmetricBasis.apply(basis, codes, d1, d2, p, z)
                np.testing.assert_array_equal(got, images[2 * (t * P + p) + z])


@pytest.mark.parametrize("name", ["triangular-4x6", "triangular-6x6"])
def test_find_rep_flipped_matches_brute_force(name):
    """The structure's representative search (XOR of precomputed bond images) against the
    minimum over all group images by permutation, and the same (p, z) as ``find_rep``."""
    import numba as nb

    from nqs_dilated.ed._bitops import (
        bond_images,
        find_rep,
        find_rep_flipped,
        image_width,
        make_tables,
        point_translation_images,
    )
    from nqs_dilated.ed.operator import bond_endpoints

    @nb.njit
    def search(codes, bi, bj, T, bimg, W):
        n = codes.shape[0] * bi.shape[0]
        out = np.empty((2, n, 3), dtype=np.uint64)
        images = np.empty((T[3], W), dtype=np.uint64)
        one = np.uint64(1)
        k = 0
        for x in codes:
            point_translation_images(x, T, images)
            for e in range(bi.shape[0]):
                r, p, z = find_rep_flipped(images, bimg[e], T)
                out[0, k, 0], out[0, k, 1], out[0, k, 2] = r, p, z
                r, p, z = find_rep(x ^ ((one << bi[e]) | (one << bj[e])), T)
                out[1, k, 0], out[1, k, 1], out[1, k, 2] = r, p, z
                k += 1
        return out

    cluster = load_lattice(name)
    group = space_group(cluster)
    T = make_tables(cluster.n_sites, cluster.extent, np.asarray(group.point_perms))
    bi, bj, _, _ = bond_endpoints(cluster)
    bimg = bond_images(bi, bj, T)
    assert bimg.shape == (len(bi), group.n_point, image_width(T)) and image_width(T) % 8 == 0
    rng = np.random.default_rng(7)
    N = cluster.n_sites
    codes = np.array(
        [int(sum(1 << int(i) for i in rng.choice(N, N // 2, replace=False))) for _ in range(40)], dtype=np.uint64
    )
    got, ref = search(codes, bi, bj, T, bimg, image_width(T))
    np.testing.assert_array_equal(got, ref)  # same representative and the same (p, z) as find_rep
    flipped = (codes[:, None] ^ ((np.uint64(1) << bi) | (np.uint64(1) << bj))[None, :]).ravel()
    images = brute_images(flipped, group)  # (2 |G|, n): element 2 g + z
    np.testing.assert_array_equal(got[:, 0], images.min(axis=0))
    P = group.n_point
    g = np.arange(images.shape[0]) // 2
    zs = np.arange(images.shape[0]) % 2
    for k in range(0, len(flipped), 7):
        hit = (g % P == got[k, 1]) & (zs == got[k, 2])
        assert (images[hit, k] == got[k, 0]).any()  # an element of class (p, z) reaches it


@pytest.mark.parametrize("name", ["triangular-4x4", "triangular-4x6"])
def test_index_lookup_every_code(name):
    """``_lookup`` finds every representative at its index and returns -1 for every other Sz = 0
    code (non-minimal orbit members share the representatives' buckets) and beyond the table."""
    from nqs_dilated.ed.basis import _lookup

    cluster, group, basis, _ = _setup(name)
    codes = _sz0_codes_sorted(cluster.n_sites)
    reps = basis.representatives
    pos = {int(r): i for i, r in enumerate(reps)}
    got = np.array([_lookup(c, basis._low, basis._start, basis._shift) for c in codes])
    want = np.array([pos.get(int(c), -1) for c in codes])
    np.testing.assert_array_equal(got, want)
    assert (want >= 0).sum() == len(reps)
    assert _lookup(np.uint64(2**cluster.n_sites - 1), basis._low, basis._start, basis._shift) == -1


def test_find_representatives_outside_sz0():
    cluster, group, basis, _ = _setup("triangular-4x4")
    idx, _, _ = basis.find_representatives(np.array([0, 1, 2**16 - 1, 2**17 + 255], dtype=np.uint64))
    assert np.all(idx == -1)


def test_basis_restore_from_representatives():
    cluster, group, basis, _ = _setup("triangular-4x6")
    again = SymmetricBasis(cluster, group, representatives=basis.representatives)
    np.testing.assert_array_equal(again.stab_counts, basis.stab_counts)
    with pytest.raises(ValueError):
        SymmetricBasis(cluster, group, representatives=basis.representatives[::-1])
    with pytest.raises(ValueError):
        SymmetricBasis(cluster, group, representatives=basis.representatives + np.uint64(1))


# ------------------------------------------------------------------------------------------
# Lanczos vs scipy


def test_lanczos_vs_eigsh():
    cluster, group, basis, structure = _setup("triangular-4x6")
    op = structure.sector_operator("A+", 0.7)
    res = lanczos_ground_state(op.graded_matvec, op.size, mask=op.mask, tol=1e-9)
    keep = op.mask
    M = sla.LinearOperator(
        (op.size, op.size), matvec=lambda x: op.graded_matvec(np.asarray(x, dtype=np.float64).ravel()), dtype=np.float64
    )
    ev = sla.eigsh(M, k=1, which="SA", v0=keep.astype(float), tol=1e-12)[0][0]
    assert abs(res.energy - ev) < 1e-10
    assert res.residual < 1e-9 and res.converged
    y = op.graded_matvec(res.vector)
    assert np.linalg.norm(y - res.energy * res.vector) < 1e-9
    assert abs(np.linalg.norm(res.vector) - 1) < 1e-12
    assert np.all(res.vector[~keep] == 0)


@pytest.mark.parametrize("block_bits, delta_bits, panel_rows", [(4, 3, 64), (7, 2, 1 << 10), (10, None, 1 << 14)])
def test_graded_layout_independent(block_bits, delta_bits, panel_rows):
    """Small row blocks and panels, and narrow column increments (column gaps bridged by escape
    words), give the same matvec as the default layout."""
    cluster, group, basis, structure = _setup("triangular-4x6")
    small = SymmetricStructure(basis, block_bits=block_bits, panel_rows=panel_rows, delta_bits=delta_bits)
    assert small.n_blocks > 1 and small.n_blocks > structure.n_blocks
    assert small.nnz == structure.nnz
    if delta_bits is not None:  # escapes are exercised
        assert small.entries.shape[0] > small.nnz
    rng = np.random.default_rng(1)
    for sec in ("A+", "B-"):
        a = structure.sector_operator(sec, 1.3)
        b = small.sector_operator(sec, 1.3)
        x = np.where(a.mask, rng.standard_normal(a.size), 0.0)
        np.testing.assert_allclose(b.graded_matvec(x), a.graded_matvec(x), rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.from_graded(a.graded_matvec(x)), a.matvec(a.from_graded(x)), rtol=0, atol=1e-12)


def test_layout_rejects_bad_parameters():
    _, _, basis, _ = _setup("triangular-4x4")
    with pytest.raises(ValueError, match="panel_rows"):
        SymmetricStructure(basis, block_bits=4, panel_rows=100)
    with pytest.raises(ValueError, match="delta_bits"):
        SymmetricStructure(basis, block_bits=10, delta_bits=30)
    with pytest.raises(ValueError, match="block_bits"):
        SymmetricStructure(basis, block_bits=28)


def test_graded_layout_same_for_any_number_of_threads():
    """Blocks are filled, sorted and packed in parallel: the packed entries must not depend on
    the number of threads, escapes included."""
    import numba as nb

    if nb.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    _, _, basis, _ = _setup("triangular-4x6")
    old = nb.get_num_threads()
    built = []
    try:
        for threads in (1, 2):
            nb.set_num_threads(threads)
            s = SymmetricStructure(basis, block_bits=8, panel_rows=4096, delta_bits=4)
            built.append((s.entries.copy(), s.blk_ptr.copy(), s.order.copy()))
    finally:
        nb.set_num_threads(old)
    assert built[0][0].shape[0] > SymmetricStructure(basis, block_bits=8, panel_rows=4096).nnz  # escapes
    for a, b in zip(*built):
        np.testing.assert_array_equal(a, b)


def test_structure_fill_in_row_slices_is_identical(monkeypatch):
    """Filling a panel in row slices (the progress steps) gives the same structure as one call."""
    import nqs_dilated.ed.operator as op_mod

    cluster = load_lattice("triangular-4x6")
    basis = SymmetricBasis(cluster, space_group(cluster))
    whole = SymmetricStructure(basis, block_bits=10, panel_rows=1 << 14)
    monkeypatch.setattr(op_mod, "FILL_ROWS", 1000)
    steps = []
    sliced = SymmetricStructure(basis, block_bits=10, panel_rows=1 << 14, progress=lambda ph, f: steps.append(f))
    np.testing.assert_array_equal(whole.entries, sliced.entries)
    np.testing.assert_array_equal(whole.blk_ptr, sliced.blk_ptr)
    assert len(steps) > basis.n_reps // 1000 and steps == sorted(steps) and steps[-1] == 1.0


@pytest.mark.parametrize("budget, use_disk", [(1 << 30, False), (0, True), (3 * 8 * 2000, True), (0, False)])
def test_lanczos_kept_vectors_equal_pass2(tmp_path, budget, use_disk):
    """The Ritz vector formed from the pass-1 vectors kept in memory, on disk, or both equals
    the one of the two-pass route, with half the matvecs; no scratch file is left behind."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((2000, 2000))
    A = (A + A.T) / 2
    mv = lambda x, out: np.matmul(A, x, out=out)  # noqa: E731
    ref = lanczos_ground_state(mv, 2000, tol=1e-9, memory_budget=0, scratch_dir=None)
    res = lanczos_ground_state(mv, 2000, tol=1e-9, memory_budget=budget, scratch_dir=tmp_path if use_disk else None)
    assert ref.ritz_from == "pass 2"
    if budget == 0 and not use_disk:
        assert res.ritz_from == "pass 2"
        return
    assert res.ritz_from == "kept"
    assert res.n_matvec == res.n_iter + 1 < ref.n_matvec
    assert res.converged and abs(res.energy - np.linalg.eigvalsh(A)[0]) < 1e-9
    assert abs(abs(res.vector @ ref.vector) - 1) < 1e-12
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stage", ["page cache", "direct", "both"])
def test_lanczos_slow_background_writes_keep_the_vectors(tmp_path, monkeypatch, stage):
    """The scratch-file writes run on a background thread; a write that finishes long after the
    next matvec has started must still store the vector as it was appended (the loop does not
    overwrite a buffer whose write is outstanding), whichever file stage it goes to."""
    import time

    import nqs_dilated.ed.lanczos as lz
    import nqs_dilated.ed.scratch as sc

    if stage != "page cache":  # no memory left for the page-cache stage: all (or all but 3) direct
        avail = sc.psutil.virtual_memory().available
        monkeypatch.setattr(sc, "CACHE_MARGIN", avail + (1 << 40) if stage == "direct" else 0)
        if stage == "both":

            class VM:
                available = 3 * (-(-8 * 600 // 4096) * 4096)

            monkeypatch.setattr(sc.psutil, "virtual_memory", lambda: VM)
    singles = []
    real_single = sc._to_single
    monkeypatch.setattr(sc, "_to_single", lambda x, out: singles.append(1) or real_single(x, out))
    opened = []
    real_open = sc._open_scratch
    monkeypatch.setattr(sc, "_open_scratch", lambda d, direct: opened.append(direct) or real_open(d, direct))

    real_write = sc._write

    def slow_write(*args):
        time.sleep(0.01)
        real_write(*args)

    monkeypatch.setattr(sc, "_write", slow_write)
    rng = np.random.default_rng(5)
    A = rng.standard_normal((600, 600))
    A = (A + A.T) / 2
    mv = lambda x, out: np.matmul(A, x, out=out)  # noqa: E731
    ref = lz.lanczos_ground_state(mv, 600, tol=1e-9, memory_budget=0, scratch_dir=None)
    res = lz.lanczos_ground_state(mv, 600, tol=1e-9, memory_budget=0, scratch_dir=tmp_path)
    assert res.ritz_from == "kept" and res.converged
    assert abs(abs(res.vector @ ref.vector) - 1) < 1e-12
    assert opened == {"page cache": [False], "direct": [True], "both": [False, True]}[stage]
    assert 0 < len(singles) < res.n_iter  # the vectors after the estimate fell below 1e3 tol, in float32


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("cache_records", [0, 2, None])
@pytest.mark.parametrize("n", [1, 511, 512, 70_001])
def test_kept_vectors_file_round_trip(tmp_path, n, cache_records, direct):
    """Vectors appended to the scratch files (the page-cache stage up to ``cache_budget``, then
    direct or buffered I/O; any length: whole 4 KiB blocks plus a padded tail) come back exactly
    in the Ritz combination, and the files are gone afterwards."""
    import nqs_dilated.ed.lanczos as lz

    rng = np.random.default_rng(n)
    vs = [rng.standard_normal(n) for _ in range(6)]
    budget = None if cache_records is None else cache_records * (-(-8 * n // 4096) * 4096)  # float64 records
    kept = lz._KeptVectors(n, memory_budget=8 * n, scratch_dir=tmp_path, direct=direct, cache_budget=budget)
    bufs = [lz._aligned_empty(n) for _ in range(2)]
    for j, v in enumerate(vs):
        bufs[j % 2][:] = v  # the loop reuses two buffers, as the Lanczos loop does
        kept.append(bufs[j % 2], single=j >= 4)  # the last two in float32
    assert len(kept.mem) == 1 and kept.n_file == 5
    assert [r[3] for r in kept.records] == [False, False, False, True, True]
    vs[4:] = [v.astype(np.float32).astype(np.float64) for v in vs[4:]]
    if cache_records is not None:
        assert kept.counts == [cache_records, 5 - cache_records]
    else:  # the default: all available memory but CACHE_MARGIN, far more than 5 small vectors
        assert kept.counts == [5, 0]
    if not direct:
        assert not kept.direct
    s = rng.standard_normal(6)
    out, buf = lz._aligned_empty(n), lz._aligned_empty(n)
    kept.ritz(s, out, buf)
    np.testing.assert_allclose(out, sum(c * v for c, v in zip(s, vs)), rtol=0, atol=1e-12)
    kept.drop()
    assert list(tmp_path.iterdir()) == []


def test_kept_vectors_direct_io_needs_aligned_vectors(tmp_path):
    import nqs_dilated.ed.lanczos as lz

    kept = lz._KeptVectors(1024, memory_budget=0, scratch_dir=tmp_path, cache_budget=0)
    v = lz._aligned_empty(1025)[1:]
    kept.append(lz._aligned_empty(1024))
    if kept.direct:  # the file system of tmp_path supports O_DIRECT
        with pytest.raises(ValueError, match="aligned"):
            kept.append(v)
    kept.drop()


def test_lanczos_disk_full_falls_back_to_pass2(tmp_path, monkeypatch):
    """When the scratch disk has no room the vectors are dropped and pass 2 recomputes them."""
    import nqs_dilated.ed.lanczos as lz
    import nqs_dilated.ed.scratch as sc

    monkeypatch.setattr(sc, "DISK_MARGIN", 1 << 62)
    A = np.diag(np.arange(300.0)) + 0.1
    res = lz.lanczos_ground_state(
        lambda x, out: np.matmul(A, x, out=out), 300, tol=1e-9, memory_budget=0, scratch_dir=tmp_path
    )
    assert res.ritz_from == "pass 2" and res.converged
    assert abs(res.energy - np.linalg.eigvalsh(A)[0]) < 1e-9


def test_warm_start_from_nearby_j2():
    """A state at a nearby J2 as the start vector gives the same ground state; a state of
    another cluster is refused."""
    cluster = load_lattice("triangular-4x6")
    cache: dict = {}
    g1 = symmetric_ground_state(cluster, 1.0, sector="A+", structure_cache=cache)
    cold = symmetric_ground_state(cluster, 1.1, sector="A+", structure_cache=cache)
    warm = symmetric_ground_state(cluster, 1.1, sector="A+", structure_cache=cache, initial=g1)
    assert abs(warm.energy - cold.energy) < 1e-10
    assert abs(abs(warm.coefficients @ cold.coefficients) - 1) < 1e-12
    with pytest.raises(ValueError, match="same cluster"):
        symmetric_ground_state(load_lattice("triangular-4x4"), 1.1, sector="A1+", initial=g1)


def test_lanczos_dense_small():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 60))
    A = A + A.T
    res = lanczos_ground_state(lambda x, out: np.matmul(A, x, out=out), 60, tol=1e-10)
    assert abs(res.energy - np.linalg.eigvalsh(A)[0]) < 1e-10
    assert res.second is not None


# ------------------------------------------------------------------------------------------
# Sector energies vs NetKet's Hamiltonian projected with the group characters


def _projected_sector_energies(cluster, group, j2):
    """Lowest eigenvalue of NetKet's H restricted to the range of the character projector
    P_chi = |G'|^-1 sum_g chi(g) g, built from group.perms (independent of the engine): the
    projector's range is spanned by P_chi e_b for one configuration b per orbit."""

    H = heisenberg(cluster, j2).to_sparse().tocsr()
    hi = nk.hilbert.Spin(0.5, cluster.n_sites, total_sz=0)
    codes = configs_to_codes(np.asarray(hi.all_states()))
    images = brute_images(codes, group)  # (2|G|, D), in NetKet's state order
    sorter = np.argsort(codes)
    pos = sorter[np.searchsorted(codes, images, sorter=sorter)]  # positions of g(code_i)
    D = len(codes)
    mins = images.min(axis=0)
    _, orbit_first = np.unique(mins, return_index=True)  # one configuration per orbit
    out = {}
    for sector in group.sectors():
        chi = group.characters(sector)  # (2, |G|)
        weights = np.stack([chi[z, g] for g in range(len(group)) for z in range(2)])  # (2|G|,)
        cols = []
        for i in orbit_first:
            v = np.zeros(D)
            np.add.at(v, pos[:, i], weights)
            n = np.linalg.norm(v)
            if n > 1e-9:
                cols.append(v / n)
        if not cols:
            continue
        Q = np.array(cols).T
        Hs = Q.T @ (H @ Q)
        out[str(sector)] = np.linalg.eigvalsh((Hs + Hs.T) / 2)[0]
    return out


def test_sector_energies_vs_projected_netket():
    cluster, group, _, _ = _setup("triangular-4x4")
    j2 = 0.8
    ref = _projected_sector_energies(cluster, group, j2)
    # every sector converged tightly: all energies to 1e-9
    gs = symmetric_ground_state(cluster, j2, sector="auto", search_tol=1e-9, structure_cache=_cache("triangular-4x4"))
    assert set(ref) == set(gs.info.sector_energies)
    for k, e in ref.items():
        assert abs(gs.info.sector_energies[k] - e) < 1e-9, k
    # default search (Ritz residual 1e-4): same ground-state sector and energy, others to ~1e-8
    fast = symmetric_ground_state(cluster, j2, sector="auto", structure_cache=_cache("triangular-4x4"))
    assert fast.info.sector == min(ref, key=ref.get)
    assert abs(fast.energy - min(ref.values())) < 1e-9
    for k, e in ref.items():
        assert abs(fast.info.sector_energies[k] - e) < 1e-6, k
        assert fast.info.sector_residuals[k] <= 1e-4, k


def test_sector_search_converges_the_likely_sector_once():
    """From nothing, every sector's energy-only run goes in one lockstep pass and only the winner
    is then converged with its vector; with ``initial`` its sector is converged first with its
    vector (and, holding the ground state, not run again) and the others go in lockstep. Both
    give the same result as the one-sector-at-a-time search (energies of all sectors to 1e-8)."""
    cluster = load_lattice("triangular-4x6")
    cache = _cache("triangular-4x6")

    def counted(**kw):
        runs = []

        def progress(phase, value):
            if phase.startswith("lanczos ") and value == 1:
                runs.append(phase.split(maxsplit=1)[1])

        return symmetric_ground_state(cluster, 0.5, sector="auto", structure_cache=cache, progress=progress, **kw), runs

    sectors = [str(s) for s in space_group(cluster).sectors()]
    serial, serial_runs = counted(lockstep=False)
    assert serial_runs[: len(sectors)] == sectors  # the group's order, A+ first
    plain, plain_runs = counted()
    assert plain_runs == ["lockstep " + ",".join(sectors), plain.info.sector]
    guided, runs = counted(initial=plain)
    others = [k for k in sectors if k != plain.info.sector]
    assert runs == [plain.info.sector, "lockstep " + ",".join(others)]  # each sector once
    for gs in (plain, guided):
        assert gs.info.sector == serial.info.sector and abs(gs.energy - serial.energy) < 1e-10
        for k, e in serial.info.sector_energies.items():
            assert abs(gs.info.sector_energies[k] - e) < 1e-8, k


def test_cli_j2_list_one_process(tmp_path, capsys):
    """A J2 list is solved in one process (JSON lines) and matches NetKet's full-space ED."""
    from nqs_dilated.cli.ed import main

    argv = ["--lattice", "triangular-4x4", "--j2", "0:1.2:0.6", "--json", "--quiet", "--store", str(tmp_path)]
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["j2"] for r in lines] == [0.0, 0.6, 1.2]
    cluster = load_lattice("triangular-4x4")
    for r in lines:
        e_nk = nk.exact.lanczos_ed(heisenberg(cluster, r["j2"]), k=1)[0]
        assert r["energy"] == pytest.approx(e_nk, abs=1e-9)
        assert r["method"] == "symmetric" and r["sector"] in r["sector_energies"]
        assert set(r["sector_residuals"]) == set(r["sector_energies"])
        assert max(r["sector_residuals"].values()) <= 1e-4
        assert r["residual"] < 1e-8 and not r["loaded_from_store"]
    assert main(argv) == 0  # second time: every point from the store
    assert all(json.loads(line)["loaded_from_store"] for line in capsys.readouterr().out.splitlines())
    assert main(["--lattice", "triangular-4x4", "--j2", "1:0:0.5"]) == 2
    assert "stop >= start" in capsys.readouterr().err


def test_memory_guard_refuses_before_allocating(monkeypatch):
    """With less available memory than the estimate, the engine stops before building anything,
    naming the estimate and the available amount; the estimate bounds what the build holds."""
    import psutil

    import nqs_dilated.ed.basis as basis_mod
    import nqs_dilated.ed.symmetric as sym

    cluster = load_lattice("triangular-4x6")
    est = estimate_memory(cluster)

    class Tight:
        available = est["total"] // 2

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tight)
    built = []
    monkeypatch.setattr(sym, "SymmetricBasis", lambda *a, **k: built.append(1))
    with pytest.raises(MemoryError, match=r"needs about [\d.]+ GiB \(basis .*\) but only [\d.]+ GiB are available"):
        symmetric_ground_state(cluster, 0.5, sector="A+")
    assert not built
    monkeypatch.undo()
    structure = SymmetricStructure(basis_mod.SymmetricBasis(cluster, space_group(cluster)))
    assert structure.nbytes <= est["structure"]
    assert structure.basis.n_reps <= est["representatives"] < 1.1 * structure.basis.n_reps
