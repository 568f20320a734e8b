"""Typed run specifications: what a run is, and the identity of its run directory.

A run is a :class:`RunSpec`: the problem (:class:`ProblemSpec`: cluster, couplings, the ED route of
the reference state), the network (:class:`ModelSpec`), the seed, and the task's own part: a
:class:`SignSpec` for a sign fit, a :class:`VmcSpec` for VMC (with a :class:`SignSpec` too when VMC
first runs its own sign fit, ``sign_source`` or ``sign_prior`` ``"fit"``, and a
:class:`PretrainSpec` when it pretrains the amplitude). Each value is typed and validated once by
:func:`~nqs_dilated.experiments.resolve.resolve`, which builds a spec from the flat keys of the
command line and config files (:class:`~nqs_dilated.experiments.config.FitConfig`).

**Identity.** A run directory is identified by :meth:`RunSpec.identity`, a hash of the fields that
change what the run computes: every field of the spec except those marked ``identity=False``
(the output directory, a VMC run's ``timeout`` and ``checkpoint_every``: a stopped and resumed run
computes the same thing). A rerun resumes a directory whose ``config.json`` has the same identity.

**config.json** holds :meth:`RunSpec.to_json`: ``{"schema": 2, "identity": ..., "task": ...,
"problem": {...}, "model": {...}, "seed": ..., "sign": {...} | null, "vmc": {...} | null, "out":
...}``. The flat ``config.json`` of schema 1 (one key per flag) stays readable, where a key missing from a file takes the value that the version which wrote it implied
(:data:`SCHEMA1_IMPLIED`: e.g. a file without ``split`` is a run of the ``"configurations"`` split;
:func:`~nqs_dilated.experiments.resolve.spec_from_json` reads both).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..choice import Choice
from ..training.wavefunction import SignSource, VmcMode

__all__ = [
    "SCHEMA",
    "SCHEMA1_IMPLIED",
    "ModelSpec",
    "PretrainSpec",
    "ProblemSpec",
    "RunSpec",
    "SignSpec",
    "Task",
    "VmcSpec",
]

#: The version of the ``config.json`` layout written by :meth:`RunSpec.to_json`.
SCHEMA = 2
#: Flat (schema 1) keys that later versions added, with the value a file written before them implied.
SCHEMA1_IMPLIED = {
    "split": "configurations",
    "lr_final": 0.0,
    "pretrain_eps": 0.0,
}


class Task(Choice):
    """What a run does."""

    SIGN = "sign"
    VMC = "vmc"


def _control(default: Any) -> Any:
    """A field that steers a run but does not change what it computes (not part of its identity)."""
    return field(default=default, metadata={"identity": False})


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Choice):
        return value.value
    return value


class _Spec:
    """Shared JSON form of the spec dataclasses (nested specs become dicts, tuples lists)."""

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON-ready values (nested specs as dicts)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_json() if isinstance(value, _Spec) else _jsonable(value)
        return out

    def identity_fields(self) -> dict[str, Any]:
        """The fields that enter :meth:`RunSpec.identity` (nested specs likewise)."""
        out = {}
        for f in dataclasses.fields(self):
            if not f.metadata.get("identity", True):
                continue
            value = getattr(self, f.name)
            out[f.name] = value.identity_fields() if isinstance(value, _Spec) else _jsonable(value)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]):
        """The spec from :meth:`to_json` output (lists back to tuples).

        Raises:
            ValueError: keys that are not fields of the spec.
        """
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
        values = {}
        for name, value in data.items():
            nested = _NESTED.get((cls.__name__, name))
            if nested is not None and value is not None:
                value = nested.from_json(value)
            elif isinstance(value, list):
                value = tuple(value)
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class ProblemSpec(_Spec):
    """The Hamiltonian and its exact reference state.

    Attributes:
        lattice: Cluster name (``nqs_dilated/lattices``) or TOML path.
        j1: Coupling on the bonds along a1 and a2 (Pauli convention; the energy unit).
        j2: Coupling on the bonds along a2 - a1 (Pauli convention).
        ed_method: ED route of the reference state (``"auto"``, ``"netket"``, ``"symmetric"``).
        sector: ED sector (``"auto"`` or a label such as ``"A1+"``).
    """

    lattice: str = "triangular-4x6"
    j1: float = 1.0
    j2: float = 1.0
    ed_method: str = "auto"
    sector: str = "auto"


@dataclass(frozen=True)
class ModelSpec(_Spec):
    """The network (:func:`nqs_dilated.models.make_model`).

    Attributes:
        name: Model name (:class:`~nqs_dilated.models.ModelName`).
        channels: Channels per convolution layer (CNN models), features per layer (G-CNN).
        kernel_size: Convolution kernel size (CNN models).
        dilations: Dilation per layer (``"dilated"``; ``"cnn"`` has 1 everywhere).
        residual: Residual connections between layers of equal width (CNN models).
        hidden: Hidden layer sizes (``"dense"``).
        degree: Largest monomial degree of the local Walsh series (``"walsh-local"``).
        marshall_terms: The local Walsh terms times the Marshall monomial too (``"walsh-local"``).

    The identity of a run holds the name and :meth:`options` only (what the model uses).
    """

    name: str = "dilated"
    channels: tuple[int, ...] = (32, 32, 32)
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 3)
    residual: bool = False
    hidden: tuple[int, ...] = (512,)
    degree: int = 3
    marshall_terms: bool = True

    def identity_fields(self) -> dict[str, Any]:
        """The name and the options of this model (:meth:`options`)."""
        return {"name": self.name, **{k: _jsonable(v) for k, v in self.options().items()}}

    def options(self) -> dict[str, Any]:
        """The keywords of :func:`nqs_dilated.models.make_model` besides the name and cluster
        (those of the model only: a dense model gets ``hidden``, the CNNs their convolution
        stack, the G-CNN ``features``)."""
        if self.name in ("dilated", "cnn"):
            opts: dict[str, Any] = dict(channels=self.channels, kernel_size=self.kernel_size, residual=self.residual)
            if self.name == "dilated":
                opts["dilations"] = self.dilations
            return opts
        if self.name == "dense":
            return dict(hidden=self.hidden)
        if self.name == "walsh-local":
            return dict(max_degree=self.degree, marshall=self.marshall_terms)
        if self.name == "walsh":
            return {}
        return dict(features=self.channels)


@dataclass(frozen=True)
class SignSpec(_Spec):
    """The supervised sign fit (:mod:`nqs_dilated.data`, :mod:`nqs_dilated.training.sign`).

    Attributes:
        eps: Training fraction, ``n_train = eps * D_ref``.
        eps_relative_to: ``D_ref``: ``"sz0"`` or ``"representatives"``.
        split: ``"orbits"`` (no symmetry orbit shared between the sets) or ``"configurations"``.
        steps: Budget in Adam steps (ignored when ``epochs`` > 0).
        epochs: Budget in passes over the training set (0: use ``steps``).
        patience: Early stopping after this many steps without progress (0: never).
        eval_every: Steps between validations (0: automatic).
        batch_size: Samples per Adam step (0: automatic).
        lr: Adam learning rate.
        n_test: Test-set size where the space is not enumerated (36 sites).
    """

    eps: float = 0.01
    eps_relative_to: str = "sz0"
    split: str = "orbits"
    steps: int = 4000
    epochs: float = 0.0
    patience: int = 1000
    eval_every: int = 0
    batch_size: int = 0
    lr: float = 1e-3
    n_test: int = 10_000

    def budget_options(self) -> dict[str, Any]:
        """The budget keywords of :func:`~nqs_dilated.training.sign.train_sign` (0 = automatic or off)."""
        return dict(
            steps=self.steps,
            epochs=self.epochs or None,
            batch_size=self.batch_size or None,
            eval_every=self.eval_every or None,
            patience=self.patience or None,
        )


@dataclass(frozen=True)
class PretrainSpec(_Spec):
    """The amplitude fit before VMC (:class:`~nqs_dilated.training.amplitude.AmplitudeFit`).

    Attributes:
        eps: Fraction of ``D_ref`` drawn with ``|psi_ED|^2`` (configuration split).
        eps_relative_to: ``D_ref`` (as :attr:`SignSpec.eps_relative_to`).
        steps: Adam steps.
        lr: Adam learning rate.
    """

    eps: float
    eps_relative_to: str = "sz0"
    steps: int = 2000
    lr: float = 0.001


@dataclass(frozen=True)
class VmcSpec(_Spec):
    """The variational optimisation (:mod:`nqs_dilated.training.vmc`).

    Attributes:
        mode: ``"full"`` or ``"fixed-sign"`` (:class:`~nqs_dilated.training.wavefunction.VmcMode`).
        sign_source: Fixed-sign mode: ``"exact"``, ``"marshall"``, ``"fit"`` or a sign-fit run
            directory (None in full mode).
        sign_prior: Full mode: ``"marshall"``, ``"none"``, ``"fit"`` or a sign-fit run directory
            (None in fixed-sign mode).
        n_iter: VMC_SR iterations.
        lr: SGD step of SR at the start.
        lr_final: Step at the end (exponential decay; 0: constant).
        diag_shift: SR diagonal shift at the start.
        diag_shift_final: Diagonal shift at the end (0: constant).
        n_samples: Monte Carlo samples per iteration.
        n_chains: Metropolis chains.
        chunk_size: Configurations per forward/backward chunk (0: no chunking).
        exact: Full-sum expectation values (<= 24 sites).
        symmetrize: Project with the point group and spin inversion.
        readout_scale: Standard deviation of the CNNs' initial readout kernel.
        dtype: Parameter dtype, ``"float64"`` or ``"float32"``.
        pretrain: The amplitude fit before VMC, or None.
        checkpoint_every: Iterations between checkpoints (0: at the end); not part of the identity.
        timeout: Stop after this many seconds (0: no limit); not part of the identity.
    """

    mode: str = "full"
    sign_source: str | None = None
    sign_prior: str | None = "marshall"
    n_iter: int = 300
    lr: float = 0.02
    lr_final: float = 0.0
    diag_shift: float = 0.01
    diag_shift_final: float = 0.0
    n_samples: int = 1024
    n_chains: int = 16
    chunk_size: int = 0
    exact: bool = False
    symmetrize: bool = False
    readout_scale: float = 1.0
    dtype: str = "float64"
    pretrain: PretrainSpec | None = None
    checkpoint_every: int = _control(50)
    timeout: float = _control(0.0)

    @property
    def source(self) -> str:
        """The sign source (fixed-sign) or phase prior (full) of this run."""
        return self.sign_source if self.mode == VmcMode.FIXED_SIGN else self.sign_prior


@dataclass(frozen=True)
class RunSpec(_Spec):
    """One run: a sign fit or a VMC run (module docstring).

    Attributes:
        task: ``"sign"`` or ``"vmc"`` (:class:`Task`).
        problem: The Hamiltonian and reference state.
        model: The network.
        seed: Seed of data sampling, initialisation, shuffling and Monte Carlo.
        sign: The sign fit (task sign), or the chained sign fit of a VMC run (None otherwise).
        vmc: The VMC settings (task vmc; None for a sign fit).
        out: Run directory (None: :meth:`default_out`); not part of the identity.
    """

    task: str = Task.SIGN
    problem: ProblemSpec = ProblemSpec()
    model: ModelSpec = ModelSpec()
    seed: int = 0
    sign: SignSpec | None = None
    vmc: VmcSpec | None = None
    out: str | None = _control(None)

    def __post_init__(self) -> None:
        if self.task == Task.SIGN and (self.sign is None or self.vmc is not None):
            raise ValueError("a sign-fit spec needs a SignSpec and no VmcSpec")
        if self.task == Task.VMC and (self.vmc is None or (self.sign is not None) != self.chains_sign_fit):
            raise ValueError(
                "a VMC spec needs a VmcSpec, and a SignSpec exactly when its sign source or prior is 'fit'"
            )

    @property
    def chains_sign_fit(self) -> bool:
        """Whether this VMC run first runs its own sign fit (``sign_source`` or ``sign_prior`` ``"fit"``)."""
        return self.task == Task.VMC and self.vmc is not None and self.vmc.source == SignSource.FIT

    def identity(self) -> str:
        """A 16-hex-digit hash of the fields that change what the run computes (module docstring)."""
        text = json.dumps(self.identity_fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        """``config.json``: the schema version, the identity and every field (module docstring)."""
        return {"schema": SCHEMA, "identity": self.identity(), **super().to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        """The spec of a ``config.json`` of schema 2 (:meth:`to_json`; the flat schema 1 is read by
        :func:`~nqs_dilated.experiments.resolve.spec_from_json`).

        Raises:
            ValueError: another schema, or unknown keys.
        """
        data = dict(data)
        schema = data.pop("schema", 1)
        if schema != SCHEMA:
            raise ValueError(f"config.json of schema {schema!r} is not readable by this version (schema {SCHEMA})")
        data.pop("identity", None)
        return super().from_json(data)

    def default_out(self) -> str:
        """``runs/<cluster>_j2=<j2>_<model>_eps=<eps>[-<eps_relative_to>]_seed=<seed>`` for a sign
        fit, ``runs/<cluster>_j2=<j2>_vmc_<model>_<mode>[_<sign>][_pre-eps=<eps>][_sym][_exact]_seed=<seed>`` for VMC."""
        name = Path(self.problem.lattice).stem
        j2 = f"{self.problem.j2:g}"
        if self.task == Task.VMC:
            v = self.vmc
            eps = f"{self.sign.eps:g}" if self.sign is not None else ""
            if v.mode == VmcMode.FIXED_SIGN:
                sign = f"_fit-eps={eps}" if v.sign_source == SignSource.FIT else f"_{Path(v.sign_source).name}"
            else:
                sign = f"_prior-fit-eps={eps}" if v.sign_prior == SignSource.FIT else ""
            sym = "_sym" if v.symmetrize else ""
            exact = "_exact" if v.exact else ""
            pre = f"_pre-eps={v.pretrain.eps:g}" if v.pretrain else ""
            return f"runs/{name}_j2={j2}_vmc_{self.model.name}_{v.mode}{sign}{pre}{sym}{exact}_seed={self.seed}"
        s = self.sign
        rel = "" if s.eps_relative_to == "sz0" else f"-{s.eps_relative_to}"
        return f"runs/{name}_j2={j2}_{self.model.name}_eps={s.eps:g}{rel}_seed={self.seed}"

    def output(self) -> Path:
        """The run directory: ``out``, or :meth:`default_out`."""
        return Path(self.out or self.default_out())

    def flat(self) -> dict[str, Any]:
        """The spec as the flat keys of the command line and config files
        (:class:`~nqs_dilated.experiments.config.FitConfig` names): ``resolve(spec.flat())`` is
        ``spec``. Keys that the task does not use are left out."""
        p, m = self.problem, self.model
        out: dict[str, Any] = {"task": _jsonable(self.task), **p.to_json(), "seed": self.seed}
        out.update(model=m.name, **{k: _jsonable(getattr(m, k)) for k in ModelSpec.__dataclass_fields__ if k != "name"})
        if self.sign is not None:
            sign = self.sign.to_json()
            if self.task == Task.VMC:
                sign["sign_lr"] = sign.pop("lr")
            out.update(sign)
        if self.vmc is not None:
            vmc = self.vmc.to_json()
            pre = vmc.pop("pretrain")
            for key in ("sign_source", "sign_prior"):
                if vmc[key] is None:
                    del vmc[key]
            out.update(vmc)
            if pre is not None:
                out.update(pretrain_eps=pre["eps"], pretrain_steps=pre["steps"], pretrain_lr=pre["lr"])
                out["eps_relative_to"] = pre["eps_relative_to"]
        out["out"] = self.out
        return out


#: Nested spec fields: ``(class name, field) -> spec class`` (read by :meth:`_Spec.from_json`).
_NESTED = {
    ("RunSpec", "problem"): ProblemSpec,
    ("RunSpec", "model"): ModelSpec,
    ("RunSpec", "sign"): SignSpec,
    ("RunSpec", "vmc"): VmcSpec,
    ("VmcSpec", "pretrain"): PretrainSpec,
}
