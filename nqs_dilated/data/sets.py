"""Sign sets: configurations with their exact signs and amplitudes, and the sign classes.

:class:`SignDataset` holds one set (configurations, exact signs, amplitudes, ``|psi|^2`` weights
and how it was drawn) and computes the sign metrics of predictions on it; :class:`SignDatasets`
holds the splits of :func:`~nqs_dilated.data.make_datasets`. A sign classifier's class 0 is sign
``+1`` and class 1 sign ``-1`` (:data:`SIGN_CLASSES`, :func:`sign_to_class`, :func:`class_to_sign`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ed.bits import configs_to_codes
from ..metrics import psi2_sample_estimates, sign_metric_errors, sign_metrics

__all__ = ["SIGN_CLASSES", "SignDataset", "SignDatasets", "class_to_sign", "sign_to_class"]


#: Sign carried by class 0 and class 1 of a sign classifier.
SIGN_CLASSES = (1, -1)


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
