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

from .coverage import split_coverage
from .orbits import move_configs, orbit_representatives
from .sampling import uniform_orbit_configs, uniform_sz0_configs
from .sets import SIGN_CLASSES, SignDataset, SignDatasets, class_to_sign, sign_to_class
from .splits import BYTES_PER_SITE_DRAW as BYTES_PER_SITE_DRAW
from .splits import EPS_CONVENTIONS, MIN_VAL, SPLITS, ZERO_AMPLITUDE, default_n_val, make_datasets

__all__ = [
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
