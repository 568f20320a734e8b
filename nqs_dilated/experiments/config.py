"""The configuration keys of the command line and config files: each task's keys, defaults and meaning.

:class:`FitConfig` is the flat namespace of those keys (one field per flag);
:func:`~nqs_dilated.experiments.resolve.resolve` validates its values once and builds the typed
:class:`~nqs_dilated.experiments.specs.RunSpec` that runs take and a run directory records in
``config.json``. A config file
(:mod:`nqs_dilated.experiments.config_file`) splits the keys into a top level and the tables
``[sign]``, ``[vmc]`` and ``[sweep]``; a list on a sweep axis (:data:`SWEEP_AXES`) is a sweep
(:mod:`nqs_dilated.experiments.sweep_config`), never a single run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..data import EPS_CONVENTIONS, SPLITS
from ..models import ModelName
from ..training.wavefunction import VMC_MODELS, SignSource, VmcMode
from .specs import ModelSpec, PretrainSpec, ProblemSpec, RunSpec, SignSpec, Task, VmcSpec

__all__ = [
    "COMMON_KEYS",
    "CONFIG_FIELDS",
    "EPS_CONVENTIONS",
    "MODELS",
    "SIGN_KEYS",
    "SIGN_PRIORS",
    "SIGN_SOURCES",
    "SPLITS",
    "SWEEP_AXES",
    "TASKS",
    "TASK_DEFAULTS",
    "TASK_KEYS",
    "VMC_KEYS",
    "VMC_MODELS",
    "VMC_MODES",
    "ConfigError",
    "FitConfig",
]

#: Model names (:class:`~nqs_dilated.models.ModelName`).
MODELS = tuple(m.value for m in ModelName)
TASKS = tuple(t.value for t in Task)
#: VMC modes (:class:`~nqs_dilated.training.wavefunction.VmcMode`).
VMC_MODES = tuple(m.value for m in VmcMode)
#: Named sign sources (:class:`~nqs_dilated.training.wavefunction.SignSource`); anything else must be a run directory of a sign fit.
SIGN_SOURCES = tuple(s.value for s in SignSource)
#: Named phase priors of VMC full mode (anything else must be a run directory of a sign fit).
SIGN_PRIORS = ("marshall", "none", "fit")
#: Defaults that differ by task (applied when the key is not given).
TASK_DEFAULTS = {"vmc": {"lr": VmcSpec.lr}}
#: FitConfig keys of a config file's top level, shared by every task (``task`` says which task a
#: sweep runs).
COMMON_KEYS = (
    "task",
    "lattice",
    "j1",
    "j2",
    "model",
    "channels",
    "kernel_size",
    "dilations",
    "residual",
    "hidden",
    "degree",
    "marshall_terms",
    "seed",
    "ed_method",
    "sector",
    "out",
)
#: FitConfig keys of the ``[sign]`` table (the supervised sign fit).
SIGN_KEYS = (
    "eps",
    "eps_relative_to",
    "split",
    "steps",
    "epochs",
    "patience",
    "eval_every",
    "batch_size",
    "lr",
    "n_test",
)
#: FitConfig keys of the ``[vmc]`` table (``lr`` is in both, with its own default in each).
VMC_KEYS = (
    "mode",
    "sign_source",
    "sign_prior",
    "n_iter",
    "n_samples",
    "n_chains",
    "chunk_size",
    "diag_shift",
    "diag_shift_final",
    "lr_final",
    "exact",
    "checkpoint_every",
    "timeout",
    "readout_scale",
    "dtype",
    "lr",
    "symmetrize",
    "sign_lr",
    "pretrain_eps",
    "pretrain_steps",
    "pretrain_lr",
)
#: The table of each task.
TASK_KEYS = {"sign": SIGN_KEYS, "vmc": VMC_KEYS}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the fix."""


@dataclass
class FitConfig:
    """The flat configuration keys with their defaults (the command line's flags, a config file's
    keys); :func:`~nqs_dilated.experiments.resolve.resolve` turns them into a
    :class:`~nqs_dilated.experiments.specs.RunSpec`.

    Attributes:
        task: ``"sign"`` (supervised sign fitting) or ``"vmc"`` (variational energy optimisation).
        lattice: Cluster name or TOML path.
        j1, j2: Couplings (Pauli convention).
        model: ``"dilated"``, ``"cnn"`` (all dilations 1), ``"dense"`` (Westerhout MLP), ``"gcnn"``.
        channels: Channels per convolution layer (CNN models).
        kernel_size: Convolution kernel size (CNN models).
        dilations: Dilation per layer (``"dilated"``; ``"cnn"`` uses 1 everywhere). When not
            given: :func:`default_dilations` of the cluster, ``1, 2, 3, ...`` per layer, each capped
            by the receptive-field rule ``dilation * (kernel_size - 1) <= max(L1, L2)`` (so
            ``(1, 2, 3)`` on 4x6 and 6x6, ``(1, 2, 2)`` on 4x4).
        residual: Residual connections between layers of equal width (CNN models).
        hidden: Hidden layer sizes of the dense model.
        degree: Largest monomial degree of the local Walsh series (``"walsh-local"``,
            :class:`~nqs_dilated.models.walsh.WalshSign`; 3: 218 translation orbits on 6x6).
        marshall_terms: ``"walsh-local"``: also every term times the Marshall monomial.
        eps: Training fraction: ``n_train = eps * D_ref`` (:mod:`nqs_dilated.data`).
        eps_relative_to: ``D_ref``: ``"sz0"`` (default, the Sz = 0 dimension C(N, N/2), as in
            Westerhout et al.) or ``"representatives"`` (the orbit representatives of the
            symmetric ED basis, about C(N, N/2) / 288 at 36 sites).
        split: What the validation and test sets may not share with the training set:
            ``"orbits"`` (default; no orbit of space group x spin inversion, so the test measures
            generalisation to unseen orbits) or ``"configurations"`` (only the identical
            configurations, so the test sets hold symmetry images of training configurations; to
            reproduce numbers measured that way).
        steps: Sign fit: budget in Adam steps (default 4000; ignored when ``epochs`` > 0).
        epochs: Sign fit: budget in passes over the training set instead of ``steps`` (0 = use
            ``steps``, default).
        patience: Sign fit: early stopping after this many Adam steps without a lower validation
            loss, counted once the run has left its initial plateau (default 1000; 0 = never; see
            :mod:`nqs_dilated.training.sign`). The best validation point is returned either way.
        eval_every: Sign fit: Adam steps between validations (0 = automatic: ``ceil(steps / 100)``).
        batch_size: Sign fit: samples per Adam step (0 = automatic: the power of two nearest below
            ``n_train / 16``, clipped to [32, 8192]).
        lr: Adam learning rate (sign) or SGD step of SR (vmc; default 0.02 there).
        seed: Seed of data sampling, initialisation and shuffling.
        n_test: Test-set size where the space cannot be enumerated (36 sites).
        ed_method: ED route for the reference state (``"auto"``, ``"netket"``, ``"symmetric"``).
        sector: ED sector (``"auto"`` or a label such as ``"A1+"``).
        out: Run directory (default ``runs/<lattice>_j2=<j2>_<model>_eps=<eps>_seed=<seed>``;
            vmc: ``runs/<lattice>_j2=<j2>_vmc_<model>_<mode>[_<sign>]_seed=<seed>``).
        mode: vmc: ``"full"`` (amplitude and phase learned) or ``"fixed-sign"``.
        sign_source: vmc fixed-sign: ``"exact"``, ``"marshall"``, a sign-fit run directory, or
            ``"fit"``: first run the sign fit of this configuration (its sign keys: ``eps``,
            ``steps``, ...; the ``[sign]`` table of a config file; Adam rate ``sign_lr``) into
            ``<out>/sign-fit``, then use it (:mod:`nqs_dilated.experiments.vmc_run`).
        sign_prior: vmc full mode: the phase prior at the start, ``"marshall"``, ``"none"``, a
            sign-fit run directory or ``"fit"`` (as for ``sign_source``).
        sign_lr: vmc with ``sign_source`` or ``sign_prior`` ``"fit"``: Adam learning rate of that
            sign fit (``lr`` in the ``[sign]`` table of a config file; default 0.001).
        symmetrize: vmc: project the wave function with the point group and spin inversion
            (:func:`nqs_dilated.models.wavefunction.sector_projection`): the amplitude with trivial
            characters in fixed-sign mode, the whole state onto the exact ground state's sector in
            full mode. Costs ``2|P|`` network evaluations (8 on 6x6, 4 on 4x6).
        n_iter: vmc: number of VMC_SR iterations.
        n_samples: vmc: Monte Carlo samples per iteration (a multiple of ``n_chains``).
        n_chains: vmc: Metropolis chains.
        chunk_size: vmc: configurations per forward/backward chunk (0 = no chunking).
        diag_shift: vmc: SR diagonal shift at the start.
        diag_shift_final: vmc: diagonal shift at the end (exponential decay; 0 = constant).
        lr_final: vmc: SGD step at the end (exponential decay from ``lr``; 0 = constant).
        exact: vmc: full-sum expectation values instead of sampling (<= 24 sites, debugging).
        checkpoint_every: vmc: iterations between checkpoints (0 = only at the end).
        timeout: vmc: stop after this many seconds (0 = no limit); rerun to resume.
        readout_scale: vmc: standard deviation of the initial readout kernel of the CNNs (the
            G-CNN keeps NetKet's initialisation).
        dtype: vmc: parameter dtype, ``"float64"`` or ``"float32"``.
        pretrain_eps: vmc: fit the amplitude to the exact one on this fraction of the data first
            (:class:`~nqs_dilated.training.amplitude.AmplitudeFit`; ``eps`` of the same reference
            as ``eps_relative_to``, drawn with ``|psi_ED|^2``; 0 = no pretraining).
        pretrain_steps: vmc: Adam steps of the amplitude fit.
        pretrain_lr: vmc: Adam rate of the amplitude fit.
    """

    # the defaults are those of the specs (one source); the flat keys only add "sign_source"
    # (fixed-sign mode), "sign_lr" (the [sign] lr of a chained fit) and pretrain_eps = 0 (none)
    task: str = RunSpec.task
    lattice: str = ProblemSpec.lattice
    j1: float = ProblemSpec.j1
    j2: float = ProblemSpec.j2
    model: str = ModelSpec.name
    channels: tuple[int, ...] = ModelSpec.channels
    kernel_size: int = ModelSpec.kernel_size
    dilations: tuple[int, ...] = ModelSpec.dilations
    residual: bool = ModelSpec.residual
    hidden: tuple[int, ...] = ModelSpec.hidden
    degree: int = ModelSpec.degree
    marshall_terms: bool = ModelSpec.marshall_terms
    eps: float = SignSpec.eps
    eps_relative_to: str = SignSpec.eps_relative_to
    split: str = SignSpec.split
    steps: int = SignSpec.steps
    epochs: float = SignSpec.epochs
    patience: int = SignSpec.patience
    eval_every: int = SignSpec.eval_every
    batch_size: int = SignSpec.batch_size
    lr: float = SignSpec.lr
    seed: int = RunSpec.seed
    n_test: int = SignSpec.n_test
    ed_method: str = ProblemSpec.ed_method
    sector: str = ProblemSpec.sector
    out: str | None = None
    mode: str = VmcSpec.mode
    sign_source: str = "exact"
    sign_prior: str = VmcSpec.sign_prior
    sign_lr: float = SignSpec.lr
    symmetrize: bool = VmcSpec.symmetrize
    n_iter: int = VmcSpec.n_iter
    n_samples: int = VmcSpec.n_samples
    n_chains: int = VmcSpec.n_chains
    chunk_size: int = VmcSpec.chunk_size
    diag_shift: float = VmcSpec.diag_shift
    diag_shift_final: float = VmcSpec.diag_shift_final
    lr_final: float = VmcSpec.lr_final
    exact: bool = VmcSpec.exact
    checkpoint_every: int = VmcSpec.checkpoint_every
    timeout: float = VmcSpec.timeout
    readout_scale: float = VmcSpec.readout_scale
    dtype: str = VmcSpec.dtype
    pretrain_eps: float = 0.0
    pretrain_steps: int = PretrainSpec.steps
    pretrain_lr: float = PretrainSpec.lr


#: The fields of :class:`FitConfig` by name.
CONFIG_FIELDS = {f.name: f for f in dataclasses.fields(FitConfig)}


#: FitConfig keys that may hold several values in a sweep.
SWEEP_AXES = ("j2", "eps", "model", "dilations")
