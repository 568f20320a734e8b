"""Concavity bounds on sector energies (nqs_dilated.ed.bounds) and the searches that use them."""

from __future__ import annotations

import h5py
import netket as nk
import numpy as np
import pytest

from nqs_dilated.ed import store
from nqs_dilated.ed.bounds import coupling_spectrum_bounds, sector_lower_bounds, sector_upper_bounds
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.ed.store import StoreWarning
from nqs_dilated.ed.symmetric import symmetric_ground_state
from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group


def _bond_operator(cluster, coupling):
    """NetKet's sum of sigma.sigma over one bond family on the full Sz = 0 space."""
    hi = nk.hilbert.Spin(0.5, cluster.n_sites, total_sz=0)
    terms = [
        nk.operator.spin.sigmax(hi, i) @ nk.operator.spin.sigmax(hi, j)
        + nk.operator.spin.sigmay(hi, i) @ nk.operator.spin.sigmay(hi, j)
        + nk.operator.spin.sigmaz(hi, i) @ nk.operator.spin.sigmaz(hi, j)
        for i, j in cluster.bonds(coupling)
    ]
    return sum(terms[1:], terms[0])


def test_coupling_spectrum_bounds_vs_netket():
    """lambda_min of the J2 bonds of 4x4 (four 4-site rings) equals NetKet's lowest eigenvalue of
    the same operator on the Sz = 0 space (rings of even length have singlet ground states), and
    every eigenvalue lies below the bond count; on 4x6 the J2 bonds form two 12-site rings, whose
    energy NetKet gives on its own periodic chain."""
    cluster = load_lattice("triangular-4x4")
    lo, hi = coupling_spectrum_bounds(cluster)
    op = _bond_operator(cluster, "J2")
    e_min = nk.exact.lanczos_ed(op, k=1)[0]
    e_max = -nk.exact.lanczos_ed(-1.0 * op, k=1)[0]
    assert lo == pytest.approx(e_min, abs=1e-9)
    assert hi == len(cluster.bonds("J2")) and e_max <= hi + 1e-9
    ring = nk.operator.Heisenberg(nk.hilbert.Spin(0.5, 12), nk.graph.Chain(12, pbc=True), J=1.0, sign_rule=False)
    lo24, _ = coupling_spectrum_bounds(load_lattice("triangular-4x6"))
    assert lo24 == pytest.approx(2 * nk.exact.lanczos_ed(ring, k=1)[0], abs=1e-9)


def test_coupling_spectrum_bounds_fallback_is_sound():
    """J1 bonds of 4x4 form one 16-site component: exact; on 4x6 (24 sites) the -3 per bond
    fallback, which still lies below NetKet's lowest eigenvalue."""
    c16 = load_lattice("triangular-4x4")
    lo, _ = coupling_spectrum_bounds(c16, "J1")
    assert lo == pytest.approx(nk.exact.lanczos_ed(_bond_operator(c16, "J1"), k=1)[0], abs=1e-9)
    c24 = load_lattice("triangular-4x6")
    lo24, hi24 = coupling_spectrum_bounds(c24, "J1")
    assert lo24 == -3.0 * len(c24.bonds("J1")) and hi24 == len(c24.bonds("J1"))


def _all_sector_energies(cluster, j2, cache):
    gs = symmetric_ground_state(cluster, j2, sector="auto", search_tol=1e-9, structure_cache=cache)
    return {k: (e, gs.info.sector_residuals[k]) for k, e in gs.info.sector_energies.items()}


def test_bounds_lie_below_every_sector_energy():
    """From searches at J2 in {0, 0.4, 0.8, 1.2}, the bound at J2 in {-0.3, 0.2, 0.6, 1.0, 1.5, 2.0}
    (inside and outside the known range) is below every sector's exact lowest energy there, and
    inside the range it excludes at least one sector (a test with teeth: some bound lies above
    the ground energy); the extended chords (:func:`sector_upper_bounds`) lie above it."""
    cluster = load_lattice("triangular-4x4")
    cache: dict = {}
    spectrum = coupling_spectrum_bounds(cluster)
    searches = [(a, _all_sector_energies(cluster, a, cache)) for a in (0.0, 0.4, 0.8, 1.2)]
    for j2 in (-0.3, 0.2, 0.6, 1.0, 1.5, 2.0):
        exact = _all_sector_energies(cluster, j2, cache)
        bounds = sector_lower_bounds(j2, searches, spectrum)
        assert set(bounds) == set(exact)
        for label, (e, _) in exact.items():
            assert bounds[label] <= e + 1e-9, (j2, label)
        e0 = min(e for e, _ in exact.values())
        if 0.0 < j2 < 1.2:
            assert any(b > e0 for b in bounds.values()), j2
        uppers = sector_upper_bounds(j2, searches)
        assert set(uppers) == set(exact)  # every point has two known points on one side
        for label, u in uppers.items():
            assert exact[label][0] <= u + 1e-9, (j2, label)
    # a search at the point itself bounds by energy - residual
    at = sector_lower_bounds(0.4, searches, spectrum)
    for label, (e, r) in searches[1][1].items():
        assert at[label] >= e - r - 1e-12


@pytest.mark.parametrize("j2, sides", [(0.5, (0.3, 0.7)), (1.2, (1.0, 1.4))])
def test_bounded_search_equals_full_search(j2, sides):
    """A search given bounds from searches at neighbouring J2 skips sectors, and finds the same
    sector, energy and state as the full search; each skipped sector's bound lies below its true
    energy and above E0."""
    cluster = load_lattice("triangular-4x6")
    cache: dict = {}
    full = symmetric_ground_state(cluster, j2, sector="auto", structure_cache=cache)
    searches = [(a, _all_sector_energies(cluster, a, cache)) for a in sides]
    bounds = sector_lower_bounds(j2, searches, coupling_spectrum_bounds(cluster))
    runs = []

    def progress(phase, value):
        if phase.startswith("lanczos ") and value == 1:
            runs.append(phase.split()[1])

    fast = symmetric_ground_state(
        cluster, j2, sector="auto", structure_cache=cache, lower_bounds=bounds, progress=progress
    )
    assert fast.info.sector == full.info.sector and abs(fast.energy - full.energy) < 1e-10
    skipped = fast.info.sector_lower_bounds
    assert skipped and not set(skipped) & set(fast.info.sector_energies)
    assert set(skipped) | set(fast.info.sector_energies) == set(full.info.sector_energies)
    assert not set(skipped) & set(runs) and runs[0] == min(bounds, key=bounds.get)
    for label, b in skipped.items():
        assert fast.energy < b <= full.info.sector_energies[label] + 1e-9, label
    codes, amps = full.enumerate_codes()
    assert np.max(np.abs(fast.amplitude_codes(codes) - amps)) < 1e-7


def test_ground_state_bounds_from_the_store(tmp_path):
    """Searches stored at J2 = 0 and 1 bound the search at 0.5 (sectors skipped, same result as
    a search without the store); a corrupt stored search is skipped with a StoreWarning."""
    cluster = load_lattice("triangular-4x4")
    for a in (0.0, 1.0):
        ground_state(cluster, a, store_dir=tmp_path)
    found = store.stored_searches(cluster, 1.0, directory=tmp_path)
    assert [a for a, _ in found] == [0.0, 1.0]
    assert all(len(e) == len(space_group(cluster).sectors()) for _, e in found)
    assert store.stored_searches(cluster, 2.0, directory=tmp_path) == []  # another J1
    mid = ground_state(cluster, 0.5, store_dir=tmp_path)
    plain = ground_state(cluster, 0.5, use_store=False)
    assert mid.info.sector_lower_bounds and mid.info.sector == plain.info.sector
    assert abs(mid.energy - plain.energy) < 1e-10
    reloaded = ground_state(cluster, 0.5, store_dir=tmp_path)
    assert reloaded.loaded and reloaded.info.sector_lower_bounds == mid.info.sector_lower_bounds

    bad = store.store_path(cluster, 1.0, 0.0, "auto", "symmetric", tmp_path)
    with h5py.File(bad, "r+") as f:  # one changed coefficient: only the full checksum notices
        name = next(k for k in f if f[k].dtype.kind == "f" and f[k].size)
        values = f[name][()]
        values.flat[0] += 1.0
        f[name][...] = values
    assert [a for a, _ in store.stored_searches(cluster, 1.0, directory=tmp_path)] == [0.0, 0.5, 1.0]
    with h5py.File(bad, "r+") as f:  # a file without the metadata checksum is verified in full
        del f.attrs["meta_checksum"]
    with pytest.warns(StoreWarning, match="checksum mismatch.*ignored for the sector bounds"):
        left = store.stored_searches(cluster, 1.0, directory=tmp_path)
    assert [a for a, _ in left] == [0.5, 1.0]
    other = store.store_path(cluster, 1.0, 1.0, "auto", "symmetric", tmp_path)
    with h5py.File(other, "r+") as f:  # a changed sector energy: the metadata checksum notices
        f.attrs["meta"] = str(f.attrs["meta"]).replace('"sector_energies": {"', '"sector_energies": {"X', 1)
    with pytest.warns(StoreWarning, match="checksum mismatch"):
        left = store.stored_searches(cluster, 1.0, directory=tmp_path)
    assert [a for a, _ in left] == [0.5]


def test_recorded_searches_bound_a_search_without_the_store(tmp_path, capsys):
    """The --json reports of earlier searches (J2 = 0 and 1) bound a search at 0.5 that reads no
    store, in the library (``searches=``) and through ``nqs-dilated ed --searches-from``: sectors
    are skipped and E0 and its sector equal those of the unbounded search. A report of another
    cluster, a missing file, or an explicit sector is refused with one message."""
    from nqs_dilated.cli import ed as ed_cli

    cluster = load_lattice("triangular-4x4")
    paths = []
    for a in (0.0, 1.0):
        assert ed_cli.main(["--lattice", "triangular-4x4", "--j2", f"{a:g}", "--no-store", "--json", "--quiet"]) == 0
        path = tmp_path / f"auto-j2={a:g}.json"
        path.write_text(capsys.readouterr().out.strip().splitlines()[-1])
        paths.append(str(path))
    recorded = [store.search_from_json(p, cluster.name) for p in paths]
    assert [a for a, _ in recorded] == [0.0, 1.0] and all(len(e) == 8 for _, e in recorded)
    plain = ground_state(cluster, 0.5, use_store=False)
    bounded = ground_state(cluster, 0.5, use_store=False, searches=recorded)
    assert bounded.info.sector_lower_bounds and not plain.info.sector_lower_bounds
    assert len(bounded.info.sector_energies) < len(plain.info.sector_energies)
    assert bounded.info.sector == plain.info.sector and abs(bounded.energy - plain.energy) < 1e-10

    argv = ["--lattice", "triangular-4x4", "--j2", "0.5", "--no-store", "--json", "--quiet", "--searches-from", *paths]
    assert ed_cli.main(argv) == 0
    import json

    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["sector_lower_bounds"]) == set(bounded.info.sector_lower_bounds)
    assert abs(report["energy"] - plain.energy) < 1e-10
    for bad, message in (
        (["--lattice", "triangular-4x6", "--searches-from", paths[0]], "not a sector search of triangular-4x6"),
        (["--searches-from", str(tmp_path / "missing.json")], "No such file"),
        (["--sector", "A1+", "--searches-from", paths[0]], "needs --sector auto"),
    ):
        assert ed_cli.main(["--j2", "0.5", "--no-store", "--quiet", *bad]) == 2
        assert message in capsys.readouterr().err


def test_search_order_with_initial():
    """With ``initial``, its sector is converged first even when another sector has a lower
    lower bound, unless an upper bound puts another sector provably below it; the result is the
    full search's either way."""
    cluster = load_lattice("triangular-4x6")
    cache: dict = {}
    j2 = 0.5
    full = symmetric_ground_state(cluster, j2, sector="auto", structure_cache=cache)
    prev = symmetric_ground_state(cluster, 0.4, sector="auto", structure_cache=cache)
    warm = prev.info.sector
    others = [str(s) for s in space_group(cluster).sectors() if str(s) != warm]
    lower = {k: full.info.sector_energies[k] - 1.0 for k in full.info.sector_energies}
    lower[others[0]] = lower[warm] - 0.5  # sound, and below the warm sector's bound

    def first(**kw):
        runs = []

        def progress(phase, value):
            if phase.startswith("lanczos ") and value == 1:
                runs.append(phase.split()[1])

        gs = symmetric_ground_state(
            cluster, j2, sector="auto", structure_cache=cache, initial=prev, lower_bounds=lower, progress=progress, **kw
        )
        assert gs.info.sector == full.info.sector and abs(gs.energy - full.energy) < 1e-10
        return runs[0]

    assert first() == warm
    assert first(upper_bounds={others[1]: lower[warm] - 0.1}) == others[1]  # claimed below the warm bound
    assert first(upper_bounds={others[1]: lower[warm] + 0.1}) == warm


def test_bound_skips_only_beyond_the_margin():
    """A lower bound within ``sqrt(search_tol)`` above the ground-state energy does not skip its
    sector (a stored energy may sit on the second of two nearly degenerate levels); one beyond
    it does."""
    from nqs_dilated.ed.symmetric import SEARCH_TOL

    cluster = load_lattice("triangular-4x6")
    cache: dict = {}
    full = symmetric_ground_state(cluster, 0.5, sector="auto", structure_cache=cache)
    margin = SEARCH_TOL**0.5
    others = [k for k in full.info.sector_energies if k != full.info.sector]
    for offset, skip in ((0.5 * margin, False), (2.0 * margin, True)):
        bounds = {k: full.energy + offset for k in others} | {full.info.sector: full.energy - 1.0}
        gs = symmetric_ground_state(cluster, 0.5, sector="auto", structure_cache=cache, lower_bounds=bounds)
        assert gs.info.sector == full.info.sector and abs(gs.energy - full.energy) < 1e-10
        assert set(gs.info.sector_lower_bounds) == (set(others) if skip else set()), offset
