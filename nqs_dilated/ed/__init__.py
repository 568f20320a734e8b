"""Exact ground states: NetKet's Lanczos on small clusters and our symmetry-adapted engine.

``from nqs_dilated.ed import ground_state, load_lattice`` is the short form of the entry point
(:func:`nqs_dilated.ed.ground.ground_state`); the names are imported on first use, so that
importing a submodule (``nqs_dilated.ed.store``) does not load the engine.
"""

from __future__ import annotations

from ..lazy import attach

#: Public name -> module defining it (imported on first access).
_EXPORTS = {
    "ground_state": "nqs_dilated.ed.ground",
    "METHODS": "nqs_dilated.ed.ground",
    "load_lattice": "nqs_dilated.lattice",
    "GroundState": "nqs_dilated.ed.state",
    "GroundStateInfo": "nqs_dilated.ed.state",
    "StoreWarning": "nqs_dilated.ed.store",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = attach(__name__, _EXPORTS)
