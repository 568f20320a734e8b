"""The public API: ``import nqs_dilated`` stays light, every exported name resolves."""

from __future__ import annotations

import subprocess
import sys

import nqs_dilated
import nqs_dilated.ed


def test_import_loads_neither_netket_nor_jax():
    code = "import sys, nqs_dilated, nqs_dilated.ed; print(sorted(m for m in ('netket', 'jax', 'flax', 'numba') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_exported_name_resolves():
    from nqs_dilated.ed.ground import ground_state
    from nqs_dilated.lattice import load_lattice
    from nqs_dilated.training.sign import train_sign
    from nqs_dilated.training.vmc import optimise

    for name in nqs_dilated.__all__:
        assert getattr(nqs_dilated, name) is not None, name
    for name in nqs_dilated.ed.__all__:
        assert getattr(nqs_dilated.ed, name) is not None, name
    assert nqs_dilated.ground_state is ground_state is nqs_dilated.ed.ground_state
    assert nqs_dilated.load_lattice is load_lattice is nqs_dilated.ed.load_lattice
    assert nqs_dilated.train_sign is train_sign and nqs_dilated.optimise is optimise
    assert {"InvariantDilatedCNN", "make_model", "FitConfig"} <= set(dir(nqs_dilated))


def test_ground_state_through_the_api():
    cluster = nqs_dilated.load_lattice("triangular-4x4")
    state = nqs_dilated.ed.ground_state(cluster, 0.0, method="netket", use_store=False)
    assert abs(state.energy - (-44.9139328337)) < 1e-8
