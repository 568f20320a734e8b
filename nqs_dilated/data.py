"""Sign datasets from an exact ground state, after Westerhout et al., Nat. Commun. 11, 1593 (2020).

The protocol (also used by Schurov et al., arXiv 2406.08318):

* **Training set**: ``n_train = round(eps * D_ref)`` configurations drawn with probability
  ``|psi|^2`` **with replacement** (:meth:`GroundState.sample`), each then moved by a uniformly
  random element ``g`` of the space group (translations x point group) and, with probability 1/2,
  a global spin inversion ``z``. The label of a moved configuration is the exact sign of the moved
  configuration, looked up with :meth:`GroundState.amplitude`; it is therefore exact whatever the
  sector. When the state lives in a symmetry sector (``state.info.sector != "full"``) the labels
  are checked against the characters: ``sign(g z sigma) = chi(g, z) sign(sigma)``.
  For a non-degenerate ground state ``|psi(g z sigma)| = |psi(sigma)|``, so the moved set is still a
  ``|psi|^2`` sample; the move only spreads the samples over whole orbits.
* **Split** (``split``): what the validation and test sets may not share with the sets drawn
  before them. ``"orbits"`` (default): the identity of a configuration is its orbit under space
  group x spin inversion (:func:`nqs_dilated.ed.basis.orbit_labels`); a translation-invariant
  network gives one output per translation orbit, so a test configuration in a training orbit
  would measure memory, not generalisation. ``"configurations"``: only identical configurations
  are kept apart (symmetry images of training configurations stay in the test sets); kept to
  reproduce numbers measured that way (it draws exactly the sets it always drew).
* **Validation set**: drawn the same way, ``n_val = max(n_train // 4, min(1000, D_sz0 // 10))`` by
  default (:func:`default_n_val`), a draw rejected (redrawn) when it is used already (its orbit is
  a training orbit, or under ``"configurations"`` it is a training configuration), so early
  stopping and model selection see unseen orbits. Used for early stopping and model selection only.
* **Test set**: when the Sz = 0 space can be listed (at most 24 sites), ``test`` holds *every*
  configuration not used (in no training or validation orbit), once each: its metrics are exact
  over the unseen part of the space. Otherwise two samples of ``n_test`` configurations (default
  10,000), both excluding what is used: ``test_weighted``, drawn with ``|psi|^2`` and moved by
  symmetry as the training set, and ``test_uniform``: under ``"orbits"`` orbits drawn uniformly
  among the unused ones, each as a uniformly random member (:func:`uniform_orbit_configs`; the
  protocol of Westerhout et al. and Schurov et al.), under ``"configurations"`` configurations
  drawn uniformly from the Sz = 0 space (with replacement).
* **Coverage** (``info["coverage"]``, :func:`split_coverage`): the number of distinct training
  orbits, their exact ``|psi|^2`` weight and a sampled estimate of it, and the share of each
  validation and test set in training orbits (0 under ``"orbits"``).
* Configurations with ``|psi| < 1e-12 * max|psi|`` (:data:`ZERO_AMPLITUDE`) have no defined sign
  and are left out of every set (a draw that lands on one is redrawn). ``max|psi|`` is exact when
  the space is listed, else the largest amplitude among the first ``|psi|^2`` draw.

Two conventions for ``eps`` (``eps_relative_to``):

* ``"sz0"`` (default): ``D_ref = D = C(N, N/2)``, the dimension of the full Sz = 0 space
  (Westerhout et al.).
* ``"representatives"``: ``D_ref`` is the number of orbit representatives of the symmetry-adapted
  basis the state was computed in: ``state.n_representatives`` when the state exposes it, else
  ``state.info.dimension`` for a state of a sector (the dimension of the sector basis). A state of
  the full space has neither and raises ``ValueError``.

Metrics on the sets (:mod:`nqs_dilated.metrics`), each with its standard error
(:func:`~nqs_dilated.metrics.sign_metric_errors`), are defined *on the set*: on the exhaustive
``test`` set ``accuracy`` is the uniform accuracy over the rest of the space and
``weighted_accuracy``/``overlap`` are the exact ``|psi|^2``-weighted values; on the sampled sets,
the plain ``accuracy`` of ``test_uniform`` estimates the uniform accuracy (over unseen orbits,
each counted once, under ``"orbits"``) and its weighted figures are ``|psi|^2``-weighted within the
set (as reported by Westerhout et al.), and the plain
``accuracy`` of ``test_weighted`` estimates the ``|psi|^2``-weighted accuracy of the rest of the
space (its ``mean(s_pred * s_exact)`` the overlap), since those samples are already ``|psi|^2``
distributed.

Sign classes for classifiers: class 0 is sign ``+1`` and class 1 is sign ``-1``
(:func:`sign_to_class`); a one-logit model outputs the logit of class 1 (sign ``-1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .ed.basis import orbit_labels
from .ed.bits import codes_to_configs, configs_to_codes
from .ed.state import GroundState
from .metrics import psi2_sample_estimates, sign_metric_errors, sign_metrics
from .symmetry import SymmetryGroup, space_group

__all__ = [
    "EPS_CONVENTIONS",
    "SPLITS",
    "EPS_CONVENTIONS",
    "SIGN_CLASSES",
    "SPLITS",
    "ZERO_AMPLITUDE",
    "SignDataset",
    "SignDatasets",
    "MIN_VAL",
    "class_to_sign",
    "default_n_val",
    "make_datasets",
    "move_configs",
    "orbit_representatives",
    "split_coverage",
    "uniform_orbit_configs",
    "sign_to_class",
    "uniform_sz0_configs",
]

#: Sign carried by class 0 and class 1 of a sign classifier.
SIGN_CLASSES = (1, -1)
#: Accepted values of ``eps_relative_to``: what ``eps`` is a fraction of (module docstring).
EPS_CONVENTIONS = ("sz0", "representatives")
#: Accepted values of ``split``: what the training, validation and test sets may not share (module
#: docstring); ``"orbits"`` is the default, ``"configurations"`` reproduces numbers measured that way.
SPLITS = ("orbits", "configurations")

#: Relative amplitude below which a configuration has no defined sign and is left out.
ZERO_AMPLITUDE = 1e-12


_MAX_ROUNDS = 1000


def sign_to_class(signs: np.ndarray) -> np.ndarray:
    """Class index of signs ``±1``: ``+1 -> 0``, ``-1 -> 1`` (int32, same shape)."""
    signs = np.asarray(signs)
    return (signs < 0).astype(np.int32)


def class_to_sign(classes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`sign_to_class`: ``0 -> +1``, ``1 -> -1`` (int8, same shape)."""
    return (1 - 2 * np.asarray(classes)).astype(np.int8)


@dataclass(frozen=True, eq=False)
class SignDataset:
    """Configurations with their exact signs.

    Attributes:
        configs: int8 ``(M, N)``, entries ±1 (``+1`` = spin up).
        signs: int8 ``(M,)``, exact signs ±1 of ``amplitudes``.
        amplitudes: float64 ``(M,)``, exact amplitudes (the state is normalised on Sz = 0).
        weights: float64 ``(M,)``, ``|psi|^2 = amplitudes**2``.
        name: ``"train"``, ``"val"``, ``"test"``, ``"test_uniform"`` or ``"test_weighted"``.
        sampling: How the set was made: ``"psi2"`` (``|psi|^2`` draw with replacement, moved by
            symmetry), ``"uniform"`` (uniform over Sz = 0, with replacement) or ``"all"`` (every
            remaining configuration once).
    """

    configs: np.ndarray
    signs: np.ndarray
    amplitudes: np.ndarray
    weights: np.ndarray
    name: str = ""
    sampling: str = "psi2"

    def __len__(self) -> int:
        return int(self.signs.shape[0])

    @property
    def n_sites(self) -> int:
        return int(self.configs.shape[1])

    def sign_metrics(self, predicted: np.ndarray) -> dict[str, float]:
        """The sign metrics of ``predicted`` (``(M,)``, any real dtype, only its sign counts) on this set.

        On a set drawn with probability ``|psi|^2`` (``sampling == "psi2"``) the weighted figures are
        the plain-mean estimates of :func:`~nqs_dilated.metrics.psi2_sample_estimates` (weighting
        those samples by ``|psi|^2`` again would count the amplitudes twice); on the other sets they
        are the ``|psi|^2``-weighted values of :func:`~nqs_dilated.metrics.sign_metrics`.

        Returns:
            ``{"accuracy", "weighted_accuracy", "overlap", "n"}`` and their standard errors
            ``"accuracy_se"``, ``"weighted_accuracy_se"``, ``"overlap_se"``
            (:func:`~nqs_dilated.metrics.sign_metric_errors`; 0 on the exhaustive set).
        """
        m = sign_metrics(predicted, self.signs, self.weights)
        m = psi2_sample_estimates(m) if self.sampling == "psi2" else m
        return {**m, **sign_metric_errors(predicted, self.signs, self.weights, self.sampling)}

    @property
    def codes(self) -> np.ndarray:
        """Bit codes of the configurations, uint64 ``(M,)`` (see :mod:`nqs_dilated.ed.bits`)."""
        return configs_to_codes(self.configs)

    @classmethod
    def from_amplitudes(cls, configs, amplitudes, name="", sampling="psi2") -> SignDataset:
        """Build a set from configurations and their (non-zero) exact amplitudes."""
        configs = np.ascontiguousarray(configs, dtype=np.int8)
        amplitudes = np.asarray(amplitudes, dtype=np.float64)
        return cls(
            configs=configs,
            signs=np.sign(amplitudes).astype(np.int8),
            amplitudes=amplitudes,
            weights=amplitudes**2,
            name=name,
            sampling=sampling,
        )


@dataclass(frozen=True, eq=False)
class SignDatasets:
    """The splits made by :func:`make_datasets` and how they were made.

    Attributes:
        train, val: Training and validation sets (``|psi|^2`` draws moved by symmetry).
        test: Every remaining non-zero configuration when the space was listed, else ``None``.
        test_uniform, test_weighted: The two sampled test sets when it was not, else ``None``.
        info: Resolved settings: ``eps``, ``eps_relative_to``, ``reference_dimension``,
            ``n_train``, ``n_val``, ``n_test``, ``exhaustive``, ``seed``, ``sector``,
            ``zero_threshold`` (absolute), ``max_amplitude``, ``lattice``, ``j1``, ``j2``.
    """

    train: SignDataset
    val: SignDataset
    test: SignDataset | None = None
    test_uniform: SignDataset | None = None
    test_weighted: SignDataset | None = None
    info: dict = field(default_factory=dict)

    def splits(self) -> dict[str, SignDataset]:
        """The present sets by name, in the order train, val, test(s)."""
        names = ("train", "val", "test", "test_uniform", "test_weighted")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


def move_configs(configs: np.ndarray, perms: np.ndarray, elements: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """Apply a group element and an optional spin flip to each configuration.

    Follows :mod:`nqs_dilated.symmetry`: element ``g`` moves the spin on site ``i`` to site
    ``perms[g, i]``, so ``new[m, perms[g_m, i]] = old[m, i]``; then ``new *= -1`` where ``flips``.

    Args:
        configs: ``(M, N)`` ±1 configurations.
        perms: int ``(G, N)`` site permutations.
        elements: int ``(M,)`` element index per configuration.
        flips: bool ``(M,)`` spin inversion per configuration.

    Returns:
        Array of the dtype of ``configs``, shape ``(M, N)``.
    """
    configs = np.asarray(configs)
    new = np.empty_like(configs)
    np.put_along_axis(new, np.asarray(perms)[np.asarray(elements)], configs, axis=1)
    return np.where(np.asarray(flips, dtype=bool)[:, None], -new, new).astype(configs.dtype)


def orbit_representatives(
    configs: np.ndarray, perms: np.ndarray, chunk: int = 1 << 20
) -> tuple[np.ndarray, np.ndarray]:
    """One configuration per orbit of a set under a group of site permutations, and the map back.

    Two configurations of ``configs`` are in one orbit when a permutation of ``perms`` (element
    ``g`` moves the spin on site ``i`` to site ``perms[g, i]``, :mod:`nqs_dilated.symmetry`) maps
    one onto the other. A network invariant under ``perms`` (the translation-invariant CNNs under
    ``group.translations``) has one output per orbit, so it need only be evaluated on the
    representatives: ``output(configs) == output(configs[index])[inverse]`` up to float rounding.
    The orbit label of a configuration is the smallest bit code over its images
    (:func:`nqs_dilated.ed.bits.configs_to_codes`); the bits are permuted on the codes, in chunks
    of ``chunk`` configurations.

    Args:
        configs: ``(M, N)`` ±1 configurations.
        perms: int ``(G, N)`` site permutations forming a group (identity included).
        chunk: Configurations per chunk (bounds the memory to a few arrays of ``chunk`` codes).

    Returns:
        ``(index, inverse)``: int64 ``(R,)`` position in ``configs`` of the first member of each
        of the ``R`` orbits, in increasing order of orbit label, and int64 ``(M,)`` the orbit of
        each configuration, so ``configs[index][inverse]`` is in the orbit of ``configs``.

    Raises:
        ValueError: ``perms`` does not act on ``N`` sites.
    """
    configs = np.asarray(configs)
    perms = np.asarray(perms, dtype=np.uint64)
    m, n = configs.shape
    if perms.ndim != 2 or perms.shape[1] != n:
        raise ValueError(f"perms must have shape (G, {n}), got {perms.shape}")
    labels = np.empty(m, dtype=np.uint64)
    one = np.uint64(1)
    for lo in range(0, m, chunk):
        codes = configs_to_codes(configs[lo : lo + chunk])
        best = codes.copy()
        moved = np.empty_like(codes)
        bit = np.empty_like(codes)
        for perm in perms:
            moved[:] = 0
            for i in range(n):
                np.right_shift(codes, np.uint64(i), out=bit)
                np.bitwise_and(bit, one, out=bit)
                np.left_shift(bit, perm[i], out=bit)
                np.bitwise_or(moved, bit, out=moved)
            np.minimum(best, moved, out=best)
        labels[lo : lo + chunk] = best
    _, index, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return index.astype(np.int64), inverse.astype(np.int64).reshape(m)


def uniform_sz0_configs(n: int, n_sites: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` configurations drawn uniformly from the Sz = 0 space (with replacement), int8 ``(n, N)``."""
    ranks = np.argsort(rng.random((n, n_sites)), axis=1)
    return np.where(ranks < n_sites // 2, 1, -1).astype(np.int8)


#: Uniform Sz = 0 candidates per round of :func:`uniform_orbit_configs`.
_ORBIT_CANDIDATES = 1 << 16


def uniform_orbit_configs(
    n: int, cluster, group: SymmetryGroup, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` configurations whose orbits are drawn uniformly (with replacement) among the
    orbits of the Sz = 0 space under space group x spin inversion, each a uniformly random member
    of its orbit.

    Rejection sampling: a uniform Sz = 0 configuration lies in orbit ``O`` with probability
    ``|O| / D``; accepting it with probability ``1 / |O|`` leaves every orbit equally likely, and
    the accepted configuration is uniform within its orbit (a representative moved by a random
    group element, as in the protocol of Westerhout et al. and Schurov et al.). About
    ``1 / |G'|`` of the candidates are accepted (1/288 on 6x6); one call draws at most
    :data:`_ORBIT_CANDIDATES` candidates (or ``n |G'|``, whichever is smaller), so it may return
    fewer than ``n`` configurations.

    Returns:
        int8 ``(M, N)`` configurations and uint64 ``(M,)`` their orbit labels
        (:func:`nqs_dilated.ed.basis.orbit_labels`), ``M <= n``.
    """
    n_sites = cluster.n_sites
    k = int(min(_ORBIT_CANDIDATES, max(n, 1) * 2 * len(group)))
    base = np.repeat(np.array([1, -1], dtype=np.int8), n_sites // 2)
    configs = rng.permuted(np.broadcast_to(base, (k, n_sites)), axis=1)
    labels, sizes = orbit_labels(cluster, configs_to_codes(configs), group, sizes=True)
    keep = rng.random(k) * sizes < 1.0
    return configs[keep][:n], labels[keep][:n]


def _reference_dimension(state: GroundState, eps_relative_to: str) -> int:
    if eps_relative_to == "sz0":
        return int(state.dimension)
    if eps_relative_to == "representatives":
        n_reps = getattr(state, "n_representatives", None)
        if n_reps is not None:
            return int(n_reps)
        if state.info.sector != "full" and state.info.dimension > 0:
            return int(state.info.dimension)
        raise ValueError(
            "eps_relative_to='representatives' needs a state computed in a symmetry sector (it "
            f"counts the orbit representatives of its basis); {state.info.lattice} was solved in "
            "the full Sz = 0 space: use eps_relative_to='sz0'"
        )
    raise ValueError(f"unknown eps_relative_to {eps_relative_to!r}; use one of {EPS_CONVENTIONS}")


class _Drawer:
    """Draws ``|psi|^2`` samples moved by random group elements, checking signs against characters."""

    def __init__(self, state: GroundState, group: SymmetryGroup, rng: np.random.Generator):
        self.state, self.group, self.rng = state, group, rng
        sector = state.info.sector
        self.characters = None if sector in ("full", "", None) else group.characters(sector)

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` moved configurations, their amplitudes and the amplitudes before the move."""
        configs, amps0 = self.state.sample(n, self.rng)
        elements = self.rng.integers(0, len(self.group), size=n)
        flips = self.rng.random(n) < 0.5
        moved = move_configs(configs, self.group.perms, elements, flips)
        amps = self.state.amplitude(moved)
        if self.characters is not None:
            chi = self.characters[flips.astype(np.int64), elements]
            big = (np.abs(amps0) > 0) & (np.abs(amps) > 0)
            bad = big & (np.sign(amps) != chi * np.sign(amps0))
            if np.any(bad):
                raise RuntimeError(
                    f"{int(bad.sum())} moved configurations have a sign that disagrees with the "
                    f"characters of sector {self.state.info.sector}: the state or the group is wrong"
                )
        return moved, amps, amps0


#: Largest number of draws per round of :func:`_collect` when it adapts to the acceptance.
_MAX_DRAW = 1 << 20


def _collect(draw, n: int, keep, what: str, adaptive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Call ``draw(k)`` until ``n`` configurations pass ``keep(configs, amps)``.

    ``k`` is the number still missing (at least 16); with ``adaptive`` it is divided by the
    acceptance seen so far (at most :data:`_MAX_DRAW`), so that a small acceptance (a test set of
    unseen orbits when the training orbits hold most of the weight) needs few rounds.
    """
    configs_out, amps_out, total, drawn = [], [], 0, 0
    for _ in range(_MAX_ROUNDS):
        if total >= n:
            break
        k = max(n - total, 16)
        if adaptive and drawn:
            k = int(min(_MAX_DRAW, max(k, 1.2 * k * drawn / max(total, 1))))
        configs, amps = draw(k)
        drawn += len(amps)
        ok = keep(configs, amps)
        configs, amps = configs[ok][: n - total], amps[ok][: n - total]
        configs_out.append(configs)
        amps_out.append(amps)
        total += len(amps)
    else:
        raise RuntimeError(
            f"could not draw {n} {what} configurations in {_MAX_ROUNDS} rounds: almost all draws "
            "are zero amplitudes or already used; lower eps or the set size"
        )
    if not configs_out:
        return np.zeros((0, 0), np.int8), np.zeros(0)
    return np.concatenate(configs_out), np.concatenate(amps_out)


#: Smallest default validation set (when the space is large enough, see :func:`default_n_val`).
MIN_VAL = 1000


#: Bytes per site and configuration taken for the draw of the training and validation sets: one
#: ``|psi|^2`` draw of 12 million 36-site configurations (``GroundState.sample``) peaked 284 bytes
#: per configuration above the loaded state, about ``8 (N + 4)`` with ``N = 36``.
BYTES_PER_SITE_DRAW = 8


def _check_memory(n: int, n_sites: int, eps: float, eps_relative_to: str) -> None:
    """Refuse, before drawing, a training plus validation set that would not fit in memory.

    Raises:
        MemoryError: one line with the set size, the estimate and the fix.
    """
    import psutil

    need = n * BYTES_PER_SITE_DRAW * (n_sites + 4)
    free = psutil.virtual_memory().available
    if need > 0.8 * free:
        raise MemoryError(
            f"eps = {eps:g} of the {eps_relative_to} reference is {n:,} training and validation configurations "
            f"(~{need / 2**30:.1f} GiB to draw, {free / 2**30:.1f} GiB available): lower eps, or take eps relative "
            "to the orbit representatives (eps_relative_to = representatives)"
        )


def default_n_val(n_train: int, dimension: int) -> int:
    """Default validation-set size: ``max(n_train // 4, min(MIN_VAL, dimension // 10))``.

    A quarter of the training set, but at least :data:`MIN_VAL` = 1000 configurations (the
    standard error of a validation accuracy near 0.5 is then at most 0.016), except on clusters
    whose Sz = 0 space (``dimension``) is too small to spare them. The validation labels come on
    top of the ``eps * D_ref`` training labels; ``summary.json`` records ``n_val``.
    """
    return max(1, n_train // 4, min(MIN_VAL, dimension // 10))


def make_datasets(
    state: GroundState,
    group: SymmetryGroup | None = None,
    eps: float = 0.01,
    *,
    seed: int | None = 0,
    rng: np.random.Generator | None = None,
    n_val: int | None = None,
    n_test: int = 10_000,
    eps_relative_to: str = "sz0",
    exhaustive: bool | None = None,
    split: str = "orbits",
) -> SignDatasets:
    """Training, validation and test sign sets of an exact ground state (module docstring).

    Args:
        state: The exact ground state; symmetric under ``group`` x spin inversion.
        group: Space group used to move the training configurations and to define the orbits
            (default ``space_group(state.cluster)``).
        eps: Training-set size as a fraction of ``D_ref`` (``n_train = max(1, round(eps * D_ref))``).
        seed: Seed of the NumPy generator (ignored when ``rng`` is given).
        rng: NumPy generator to draw from.
        n_val: Validation-set size (default :func:`default_n_val`).
        n_test: Size of each sampled test set when the space is not listed (default 10,000), and
            of the ``|psi|^2`` sample that estimates the training orbits' weight.
        eps_relative_to: ``"sz0"`` (default) or ``"representatives"`` (module docstring).
        exhaustive: List the whole rest of the space as the test set (default: when
            ``state.enumerable``); ``False`` forces the two sampled test sets.
        split: ``"orbits"`` (default): validation and test sets share no orbit of space group x
            spin inversion with the training set (nor the test sets with the validation set);
            ``"configurations"``: only the identical configurations are kept apart (symmetry images
            of training configurations stay in the test sets; to reproduce numbers measured so).

    Returns:
        :class:`SignDatasets`; deterministic for a given ``seed`` (or generator state). Its
        ``info`` holds the coverage of :func:`split_coverage` under ``"coverage"``.

    Raises:
        ValueError: ``eps <= 0``, bad sizes, an unknown ``eps_relative_to`` or ``split``, or
            ``"representatives"`` for a full-space state.
        RuntimeError: moved signs disagree with the sector's characters, or the sets cannot be
            filled (nearly every draw already used).
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    if n_test < 1 or (n_val is not None and n_val < 1):
        raise ValueError(f"set sizes must be >= 1, got n_val={n_val!r}, n_test={n_test!r}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    if group is None:
        group = space_group(state.cluster)
    if group.perms.shape[1] != state.n_sites:
        raise ValueError(f"group acts on {group.perms.shape[1]} sites, state has {state.n_sites}")
    seed_used = None if rng is not None else seed
    rng = rng if rng is not None else np.random.default_rng(seed)
    d_ref = _reference_dimension(state, eps_relative_to)
    n_train = max(1, int(round(eps * d_ref)))
    n_val = default_n_val(n_train, int(state.dimension)) if n_val is None else int(n_val)
    _check_memory(n_train + n_val, state.n_sites, eps, eps_relative_to)
    exhaustive = state.enumerable if exhaustive is None else bool(exhaustive)
    by_orbit = split == "orbits"

    def labels(codes):
        return orbit_labels(state.cluster, codes, group)

    def key(configs):  # what a set may not share with the sets before it
        codes = configs_to_codes(configs)
        return labels(codes) if by_orbit else codes

    drawer = _Drawer(state, group, rng)
    if exhaustive:
        all_codes, all_amps = state.enumerate_codes()
        max_amp = float(np.max(np.abs(all_amps)))
    else:
        _, amps0 = state.sample(max(n_train, 1000), np.random.default_rng(rng.integers(2**63)))
        max_amp = float(np.max(np.abs(amps0)))
    threshold = ZERO_AMPLITUDE * max_amp

    def psi2_draw(k):
        moved, amps, _ = drawer.draw(k)
        return moved, amps

    def nonzero(configs, amps):
        return np.abs(amps) >= threshold

    train_c, train_a = _collect(psi2_draw, n_train, nonzero, "training")
    used = np.unique(key(train_c))

    def unused(configs, amps):
        return nonzero(configs, amps) & ~np.isin(key(configs), used)

    val_c, val_a = _collect(psi2_draw, n_val, unused, "validation", by_orbit)
    used = np.union1d(used, key(val_c))
    sets = {
        "train": SignDataset.from_amplitudes(train_c, train_a, "train", "psi2"),
        "val": SignDataset.from_amplitudes(val_c, val_a, "val", "psi2"),
    }
    test_labels = None
    if exhaustive:
        all_labels = labels(all_codes)
        rest = ~np.isin(all_labels if by_orbit else all_codes, used) & (np.abs(all_amps) >= threshold)
        test_labels = all_labels[rest]
        del all_labels
        sets["test"] = SignDataset.from_amplitudes(
            codes_to_configs(all_codes[rest], state.n_sites), all_amps[rest], "test", "all"
        )
        sizes = len(sets["test"])
    else:
        if by_orbit:

            def uniform_draw(k):
                configs, _ = uniform_orbit_configs(k, state.cluster, group, rng)
                return configs, state.amplitude(configs)
        else:

            def uniform_draw(k):
                configs = uniform_sz0_configs(k, state.n_sites, rng)
                return configs, state.amplitude(configs)

        c, a = _collect(uniform_draw, n_test, unused, "uniform test", by_orbit)
        sets["test_uniform"] = SignDataset.from_amplitudes(c, a, "test_uniform", "uniform")
        c, a = _collect(psi2_draw, n_test, unused, "weighted test", by_orbit)
        sets["test_weighted"] = SignDataset.from_amplitudes(c, a, "test_weighted", "psi2")
        sizes = n_test
    info = dict(
        lattice=state.cluster.name,
        j1=float(state.info.j1),
        j2=float(state.info.j2),
        sector=str(state.info.sector),
        split=split,
        eps=float(eps),
        eps_relative_to=eps_relative_to,
        reference_dimension=int(d_ref),
        n_train=n_train,
        n_val=n_val,
        n_test=int(sizes),
        exhaustive=exhaustive,
        seed=seed_used,
        max_amplitude=max_amp,
        zero_threshold=threshold,
    )
    datasets = SignDatasets(info=info, **sets)
    # drawn after every set, so the sets of a seed do not depend on it
    sample = state.sample_codes(n_test, rng)
    info["coverage"] = split_coverage(datasets, state, group, sample=sample, test_labels=test_labels)
    return datasets


def split_coverage(
    datasets: SignDatasets,
    state: GroundState,
    group: SymmetryGroup | None = None,
    *,
    sample: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
) -> dict:
    """How much of the state the training set covers, and what the other sets share with it.

    Orbits are those of space group x spin inversion (:func:`nqs_dilated.ed.basis.orbit_labels`).
    The ``|psi|^2`` weight of an orbit is ``|O| psi(sigma)^2`` for any member ``sigma`` (the state
    is symmetric), so the weight of the training orbits is exact at every cluster size.

    Args:
        datasets: The sets (any split).
        state: Their ground state.
        group: The space group (default that of ``state.cluster``).
        sample: Optional uint64 ``(S,)`` codes drawn from ``|psi|^2`` (:meth:`GroundState.sample_codes`)
            for the sampled estimate of the training orbits' weight.
        test_labels: Optional uint64 orbit labels of the exhaustive test set's configurations,
            if already computed (saves one pass over the space).

    Returns:
        A dict: ``n_train_orbits`` (distinct training orbits), ``train_orbit_weight`` (exact
        ``|psi|^2`` weight of the training orbits), with ``sample``
        ``train_orbit_weight_sampled`` and its binomial ``train_orbit_weight_sampled_se`` and
        ``n_sample``; ``val_orbits_in_train`` (fraction of the validation set's distinct orbits
        that are training orbits); and per test set ``"<name>_in_train_orbits"``: the fraction
        of its weight in training orbits, weighted as its metrics are (``|psi|^2`` on the
        exhaustive and uniform sets, by count on the ``|psi|^2``-drawn set). All leakage figures
        are 0 for ``split = "orbits"``.
    """
    cluster = state.cluster
    group = space_group(cluster) if group is None else group
    train_orbits, sizes = orbit_labels(cluster, np.unique(datasets.train.codes), group, sizes=True)
    train_orbits, first = np.unique(train_orbits, return_index=True)
    weight = float(np.sum(sizes[first] * state.amplitude_codes(train_orbits) ** 2))
    out: dict = {"n_train_orbits": int(train_orbits.size), "train_orbit_weight": weight}
    if sample is not None and len(sample):
        f = float(np.mean(np.isin(orbit_labels(cluster, sample, group), train_orbits)))
        out.update(
            train_orbit_weight_sampled=f,
            train_orbit_weight_sampled_se=float(np.sqrt(f * (1 - f) / len(sample))),
            n_sample=int(len(sample)),
        )
    val_orbits = np.unique(orbit_labels(cluster, datasets.val.codes, group))
    out["val_orbits_in_train"] = float(np.mean(np.isin(val_orbits, train_orbits))) if val_orbits.size else 0.0
    for name in ("test", "test_uniform", "test_weighted"):
        ds = getattr(datasets, name)
        if ds is None or not len(ds):
            continue
        lab = test_labels if name == "test" and test_labels is not None else orbit_labels(cluster, ds.codes, group)
        inside = np.isin(lab, train_orbits)
        w = np.ones(len(ds)) if ds.sampling == "psi2" else ds.weights
        out[f"{name}_in_train_orbits"] = float(np.sum(w * inside) / np.sum(w))
    return out
