"""Neural quantum states of the anisotropic triangular J1-J2 Heisenberg model.

The public API, imported on first use (``import nqs_dilated`` itself loads neither NetKet nor JAX)::

    import nqs_dilated as nd

    cluster = nd.load_lattice("triangular-4x4")          # a shipped cluster or a TOML path
    state = nd.ground_state(cluster, j2=0.5)             # exact ground state (Pauli convention)
    model = nd.make_model("dilated", cluster, channels=(8, 8), dilations=(1, 2))
    # nd.train_sign(model, datasets, ...)                # supervised sign fit (nqs_dilated.training.sign)
    # nd.optimise(vstate, hamiltonian, ...)              # VMC with minSR (nqs_dilated.training.vmc)

=============================== ======================================================
name                            from
=============================== ======================================================
``load_lattice``, ``Cluster``   :mod:`nqs_dilated.lattice`
``heisenberg``                  :mod:`nqs_dilated.hamiltonian`
``ground_state``                :mod:`nqs_dilated.ed.ground`
``make_datasets``               :mod:`nqs_dilated.data`
``make_model`` and the models   :mod:`nqs_dilated.models`
``SignFit``, ``train_sign``     :mod:`nqs_dilated.training.sign`
``AmplitudeFit``                :mod:`nqs_dilated.training.amplitude`
``optimise``                    :mod:`nqs_dilated.training.vmc`
``resolve``, ``RunSpec``        :mod:`nqs_dilated.experiments.resolve`, :mod:`nqs_dilated.experiments.specs`
``SignResult``, ``VmcResult``   :mod:`nqs_dilated.experiments.results`
=============================== ======================================================

The command line is ``nqs-dilated ed | sign | vmc | sweep | search | plot``.
"""

from __future__ import annotations

from .lazy import attach

__version__ = "0.1.0"

#: Public name -> module defining it (imported on first access).
_EXPORTS = {
    "load_lattice": "nqs_dilated.lattice",
    "Cluster": "nqs_dilated.lattice",
    "LatticeError": "nqs_dilated.lattice",
    "heisenberg": "nqs_dilated.hamiltonian",
    "ground_state": "nqs_dilated.ed.ground",
    "make_datasets": "nqs_dilated.data",
    "make_model": "nqs_dilated.models",
    "InvariantDilatedCNN": "nqs_dilated.models",
    "InvariantCNN": "nqs_dilated.models",
    "DenseSign": "nqs_dilated.models",
    "SymmetricGCNN": "nqs_dilated.models",
    "train_sign": "nqs_dilated.training.sign",
    "SignFit": "nqs_dilated.training.sign",
    "AmplitudeFit": "nqs_dilated.training.amplitude",
    "optimise": "nqs_dilated.training.vmc",
    "FitConfig": "nqs_dilated.experiments.config",
    "ConfigError": "nqs_dilated.experiments.config",
    "resolve": "nqs_dilated.experiments.resolve",
    "RunSpec": "nqs_dilated.experiments.specs",
    "SignResult": "nqs_dilated.experiments.results",
    "VmcResult": "nqs_dilated.experiments.results",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = attach(__name__, _EXPORTS)
