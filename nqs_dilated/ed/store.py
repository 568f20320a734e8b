"""HDF5 store of exact ground states.

One file per (cluster geometry, J1, J2, convention, sector request, method). A file holds the
arrays of a ground state (for example the full Sz = 0 vector, or representatives and sector
coefficients), its :class:`~nqs_dilated.ed.state.GroundStateInfo`, the package versions, a
SHA-256 checksum over every dataset and the metadata, and one over the metadata alone (so that
:func:`stored_searches` can read the sector energies without reading the arrays). Files are
written to a temporary name in the same directory and renamed, so a reader never sees half a
file. A file that cannot be read, whose checksum does not match, or whose metadata does not match
the request is reported with a warning and recomputed; it is never used.

The store directory is, in order: the ``directory`` argument, ``$NQS_DILATED_STORE``, or
``~/.cache/nqs_dilated/ed``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

import h5py
import numpy as np

from ..files import atomic_path, write_atomic
from ..hamiltonian import CONVENTION
from ..lattice import Cluster
from ..provenance import package_versions
from .state import GroundStateInfo

__all__ = [
    "StoreWarning",
    "clear_search",
    "load_arrays",
    "load_search",
    "save_arrays",
    "save_search",
    "search_path",
    "search_energies",
    "store_dir",
    "store_path",
    "stored_searches",
]

_FORMAT = 1


class StoreWarning(UserWarning):
    """A stored file was unusable (corrupt, truncated, or for another request) and is recomputed."""


def store_dir(directory: str | os.PathLike | None = None) -> Path:
    """The store directory: ``directory``, else ``$NQS_DILATED_STORE``, else ``~/.cache/nqs_dilated/ed``."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get("NQS_DILATED_STORE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "nqs_dilated" / "ed"


def _key(cluster: Cluster, j1: float, j2: float, sector: str, method: str) -> dict:
    return {
        "lattice": cluster.name,
        "geometry": cluster.content_hash,
        "j1": float(j1),
        "j2": float(j2),
        "convention": CONVENTION,
        "sector": str(sector),
        "method": method,
        "format": _FORMAT,
    }


def store_path(cluster: Cluster, j1: float, j2: float, sector: str, method: str, directory=None) -> Path:
    """Path of the file for a request (the name is readable; a hash of the full key keeps it unique)."""
    key = _key(cluster, j1, j2, sector, method)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{cluster.name}_j1={float(j1):.6g}_j2={float(j2):.6g}_{sector}_{method}_{digest}.h5"
    return store_dir(directory) / name


def _checksum(arrays: dict[str, np.ndarray], meta_json: str) -> str:
    h = hashlib.sha256(meta_json.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(np.asarray(a.shape, dtype=np.int64).tobytes())
        h.update(a.tobytes())
    return h.hexdigest()


def _meta_checksum(meta_json: str) -> str:
    return hashlib.sha256(b"meta:" + meta_json.encode()).hexdigest()


def save_arrays(
    path: Path, cluster: Cluster, info: GroundStateInfo, arrays: dict[str, np.ndarray], sector_request: str
) -> Path:
    """Write a ground state atomically (temporary file in the same directory, then rename).

    Args:
        path: Target file (from :func:`store_path`).
        cluster: The cluster (its geometry hash goes into the metadata).
        info: The ground-state facts; stored as JSON.
        arrays: Named arrays that reconstruct the state.
        sector_request: The sector asked for (``"auto"``, ``"A1+"``, ``"full"``), part of the key.

    Returns:
        ``path``.
    """
    path = Path(path)
    meta = {
        "key": _key(cluster, info.j1, info.j2, sector_request, info.method),
        "info": dataclasses.asdict(info),
        "versions": package_versions(),
    }
    meta_json = json.dumps(meta, sort_keys=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, a in arrays.items():
            f.create_dataset(name, data=np.ascontiguousarray(a))
        f.attrs["meta"] = meta_json
        f.attrs["checksum"] = _checksum(arrays, meta_json)
        f.attrs["meta_checksum"] = _meta_checksum(meta_json)
    return path


def load_arrays(
    path: Path, cluster: Cluster, j1: float, j2: float, sector: str, method: str, *, action: str = "recomputing"
) -> tuple[GroundStateInfo, dict[str, np.ndarray]] | None:
    """Read a stored ground state, or ``None`` if there is none or it is unusable.

    An unusable file (unreadable HDF5, checksum mismatch, metadata for another request) raises a
    :class:`StoreWarning` naming the problem and what the caller does instead (``action``,
    default ``"recomputing"``) and returns ``None``.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as f:
            meta_json = str(f.attrs["meta"])
            checksum = str(f.attrs["checksum"])
            arrays = {name: f[name][()] for name in f.keys()}
        # flipped bytes in the metadata may leave undecodable text: fails here like a bad checksum
        intact = _checksum(arrays, meta_json) == checksum
        if intact:
            meta = json.loads(meta_json)
            info = GroundStateInfo(**meta["info"])
    except Exception as err:  # noqa: BLE001 - any read or decode failure means the file is unusable
        reason = (str(err).splitlines() or [""])[0][:200].encode("utf-8", "replace").decode("utf-8")
        warnings.warn(
            f"{path}: unreadable or inconsistent ({type(err).__name__}: {reason}); {action}", StoreWarning, stacklevel=3
        )
        return None
    if not intact:
        warnings.warn(f"{path}: checksum mismatch (corrupt file); {action}", StoreWarning, stacklevel=3)
        return None
    expected = _key(cluster, j1, j2, sector, method)
    if meta.get("key") != expected:
        warnings.warn(
            f"{path}: stored for {meta.get('key')}, requested {expected}; {action}",
            StoreWarning,
            stacklevel=3,
        )
        return None
    return info, arrays


def stored_searches(
    cluster: Cluster, j1: float, method: str = "symmetric", directory=None
) -> list[tuple[float, dict[str, tuple[float, float]]]]:
    """The sector energies of every stored sector search (``sector="auto"``) of ``cluster`` at ``j1``.

    Only the metadata is read where the file has a metadata checksum (written by this version):
    that checksum and the full key are verified, not the arrays, which are not used here. Older
    files are verified as in :func:`load_arrays` (checksum over every dataset, full key;
    757 MB each at 36 sites). An unusable file is skipped with a :class:`StoreWarning`. A verified
    file is remembered for the process by path, size and modification time.

    Args:
        cluster: The cluster (its geometry must match the file's).
        j1: J1 of the searches.
        method: ED route of the searches (default ``"symmetric"``).
        directory: Store directory (see :func:`store_dir`).

    Returns:
        ``[(j2, {label: (energy, residual)}), ...]`` sorted by J2, Pauli units. A search stored
        before residuals were kept per sector (its sectors converged to a Ritz residual of at
        most ``1e-4``) gets :data:`MISSING_RESIDUAL` for every sector, so a bound built on it
        stays below the true energy.
    """
    found = []
    for path in sorted(store_dir(directory).glob(f"{cluster.name}_j1={float(j1):.6g}_j2=*_auto_{method}_*.h5")):
        st = path.stat()
        memo = (str(path), st.st_size, st.st_mtime_ns)
        if memo not in _SEARCHES:
            meta, meta_ok = None, False
            try:
                with h5py.File(path, "r") as f:
                    meta_json = str(f.attrs["meta"])
                    meta_ok = "meta_checksum" in f.attrs and str(f.attrs["meta_checksum"]) == _meta_checksum(meta_json)
                meta = json.loads(meta_json)
            except Exception:  # noqa: BLE001 - an unreadable key is reported below
                pass
            key = meta.get("key") if isinstance(meta, dict) else None
            j2 = key.get("j2") if isinstance(key, dict) else None
            if not isinstance(j2, float):
                warnings.warn(
                    f"{path}: unreadable store key; ignored for the sector bounds", StoreWarning, stacklevel=2
                )
                continue
            if meta_ok and key == _key(cluster, j1, j2, "auto", method):
                info = GroundStateInfo(**meta["info"])
            else:
                loaded = load_arrays(path, cluster, j1, j2, "auto", method, action="ignored for the sector bounds")
                if loaded is None:
                    continue  # load_arrays warned; not remembered, so a repaired file is read again
                info = loaded[0]
            _SEARCHES[memo] = search_energies(info)
        found.append(_SEARCHES[memo])
    return sorted(found, key=lambda t: t[0])


def search_energies(info: GroundStateInfo) -> tuple[float, dict[str, tuple[float, float]]]:
    """``(j2, {label: (energy, residual)})`` of a sector search, the entry :func:`stored_searches`
    returns for it (a sector without a stored residual gets :data:`MISSING_RESIDUAL`)."""
    return (
        float(info.j2),
        {k: (float(e), float(info.sector_residuals.get(k, MISSING_RESIDUAL))) for k, e in info.sector_energies.items()},
    )


def search_from_json(path, lattice: str, j1: float = 1.0) -> tuple[float, dict[str, tuple[float, float]]]:
    """``(j2, {label: (energy, residual)})`` of a sector search read from the JSON result that
    ``nqs-dilated ed --sector auto --json`` printed (e.g. ``runs/results/ed36/auto-j2=*.json``),
    the form :func:`nqs_dilated.ed.bounds.sector_lower_bounds` takes; a sector without a recorded
    residual gets :data:`MISSING_RESIDUAL`, as in the store.

    Raises:
        ValueError: the file is not a sector search of ``lattice`` at this ``j1``.
    """
    import json

    with open(path) as f:
        d = json.load(f)
    if d.get("lattice") != lattice or float(d.get("j1", 1.0)) != float(j1) or not d.get("sector_energies"):
        raise ValueError(
            f"{path}: not a sector search of {lattice} at J1 = {j1:g} (needs lattice, j1, sector_energies)"
        )
    res = d.get("sector_residuals") or {}
    return float(d["j2"]), {k: (float(e), float(res.get(k, MISSING_RESIDUAL))) for k, e in d["sector_energies"].items()}


MISSING_RESIDUAL = 1e-2
"""Residual assumed for a stored sector energy whose residual was not stored (100x the loosest
search tolerance this package has used)."""

_SEARCHES: dict[tuple[str, int, int], tuple[float, dict[str, tuple[float, float]]]] = {}


def search_path(path: Path) -> Path:
    """Checkpoint of an unfinished sector search whose result goes to the store file ``path``."""
    path = Path(path)
    return path.with_name(path.stem + ".search.json")


def _search_meta(cluster: Cluster, j1: float, j2: float, method: str, search_tol: float, seed: int) -> dict:
    return {"key": _key(cluster, j1, j2, "auto", method), "search_tol": float(search_tol), "seed": int(seed)}


def save_search(
    path: Path,
    cluster: Cluster,
    j1: float,
    j2: float,
    method: str,
    search_tol: float,
    seed: int,
    energies: dict[str, tuple[float, float]],
) -> Path:
    """Write (atomically) the sector energies found so far by a sector search.

    Args:
        path: The store file of the search's result (from :func:`store_path` with sector ``"auto"``).
        cluster, j1, j2, method: The request.
        search_tol, seed: The search's Lanczos settings; a checkpoint is reused only with the same.
        energies: Sector label -> ``(energy, residual)`` found so far (Pauli units).

    Returns:
        The checkpoint path (:func:`search_path`).
    """
    meta = _search_meta(cluster, j1, j2, method, search_tol, seed)
    meta["energies"] = {str(k): [float(e), float(r)] for k, (e, r) in energies.items()}
    target = search_path(path)
    write_atomic(target, json.dumps(meta, sort_keys=True, indent=1))
    return target


def load_search(
    path: Path, cluster: Cluster, j1: float, j2: float, method: str, search_tol: float, seed: int
) -> dict[str, tuple[float, float]]:
    """Sector ``(energy, residual)`` of an interrupted search for this request (empty if none).

    A checkpoint that cannot be read or was written for other couplings, geometry or search
    settings raises a :class:`StoreWarning` and is ignored (the search starts over).
    """
    target = search_path(path)
    if not target.exists():
        return {}
    try:
        data = json.loads(target.read_text())
        energies = {str(k): (float(e), float(r)) for k, (e, r) in data["energies"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        warnings.warn(f"{target}: unreadable search checkpoint ({err}); starting over", StoreWarning, stacklevel=3)
        return {}
    expected = _search_meta(cluster, j1, j2, method, search_tol, seed)
    if any(data.get(k) != v for k, v in expected.items()):
        warnings.warn(f"{target}: checkpoint of another search; starting over", StoreWarning, stacklevel=3)
        return {}
    return energies


def clear_search(path: Path) -> None:
    """Remove the search checkpoint of the store file ``path`` (after the result is saved)."""
    search_path(path).unlink(missing_ok=True)
