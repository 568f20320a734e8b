"""Signs learned by a sign fit, as the fixed sign (or phase prior) of a VMC run.

:func:`sign_from_source` turns a sign source of a configuration into a sign module: the names of
:class:`~nqs_dilated.training.wavefunction.SignSource` through
:func:`~nqs_dilated.training.wavefunction.make_sign`, the run directory of a finished sign fit
through :func:`load_sign_fit`, which refuses a fit too poor to serve (:func:`check_sign_fit`).
"""

from __future__ import annotations

from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from ..lattice import Cluster, load_lattice
from ..models import make_model
from ..models.wavefunction import NetworkSign, freeze_params
from ..training.wavefunction import SignSource, make_sign
from .results import SignResult
from .rundir import CONFIG, PARAMS, SUMMARY, read_spec, read_summary

__all__ = [
    "MIN_SIGN_OVERLAP",
    "SIGN_MARGIN",
    "SignQualityError",
    "check_sign_fit",
    "load_sign_fit",
    "sign_from_source",
]

#: A learned sign whose test overlap lies below this is refused as a fixed sign or phase prior
#: (its wrongly signed |psi|^2 weight, (1 - overlap) / 2, would exceed a quarter).
MIN_SIGN_OVERLAP = 0.5
#: ... and so is one whose test overlap lies below the Marshall sign rule's on the same test set
#: by more than this.
SIGN_MARGIN = 0.01


class SignQualityError(ValueError):
    """A learned sign too poor to fix the sign (or seed the phase) of a VMC state."""


def check_sign_fit(path: str | Path, force: bool = False) -> dict:
    """Check that a finished sign fit is good enough to serve as a VMC sign.

    The fit's test overlap (``summary.json``) must reach :data:`MIN_SIGN_OVERLAP` and must not lie
    below the Marshall sign rule's overlap on the same test set by more than :data:`SIGN_MARGIN`:
    a fixed sign with more wrongly signed weight than the Marshall rule gives a worse energy than
    the Marshall rule, and the VMC run would report a meaningless error.

    Args:
        path: The sign fit's run directory.
        force: Return instead of raising when the fit is below a bound (``"forced": True``).

    Returns:
        ``{"test_overlap", "marshall_test_overlap", "split", "forced"}`` of the fit.

    Raises:
        SignQualityError: the fit is below either bound and not ``force`` (one line naming both
            figures and the fix).
        ValueError: no ``summary.json`` (an unfinished fit).
    """
    path = Path(path)
    summary_file = path / SUMMARY
    if not path.is_dir():
        raise ValueError(
            f"unknown sign source {str(path)!r}: use exact, marshall, fit or the run directory of a finished sign fit"
        )
    if not summary_file.is_file():
        raise ValueError(f"sign fit {path} is not finished (no summary.json); rerun it to completion first")
    s = SignResult.from_json(read_summary(path))
    overlap, marshall = float(s.test_overlap), float(s.marshall_test_overlap)
    poor = overlap < MIN_SIGN_OVERLAP or overlap < marshall - SIGN_MARGIN
    figures = {
        "test_overlap": overlap,
        "marshall_test_overlap": marshall,
        "split": s.split,
        "forced": bool(poor and force),
    }
    if poor and not force:
        bound = (
            f"the Marshall sign rule's {marshall:.3f} on the same test set"
            if overlap < marshall - SIGN_MARGIN
            else f"the minimum {MIN_SIGN_OVERLAP}"
        )
        raise SignQualityError(
            f"sign fit {path} has test overlap {overlap:.3f}, below {bound} ({(1 - overlap) / 2:.0%} of the "
            "|psi|^2 weight wrongly signed): refit it (more data or steps), use --sign-source marshall, or pass "
            "--force-sign to use it anyway"
        )
    return figures


def load_sign_fit(path: str | Path, cluster: Cluster, force: bool = False):
    """The fitted sign network of a finished sign-fit run directory, as a fixed sign.

    Args:
        path: Run directory of ``nqs-dilated sign`` (``config.json``, ``params.msgpack``, ``summary.json``).
        cluster: The cluster the VMC runs on (must be the fit's).
        force: Use the fit even when :func:`check_sign_fit` refuses it.

    Returns:
        A parameter-free :class:`~nqs_dilated.models.wavefunction.NetworkSign` returning ±1.

    Raises:
        ValueError: not a run directory of a finished sign fit, a fit of another task or cluster,
            or parameters that do not fit its model.
        SignQualityError: a sign fit below the bounds of :func:`check_sign_fit` (unless ``force``).
    """
    path = Path(path)
    cfg_file, params_file = path / CONFIG, path / PARAMS
    if not (path.is_dir() and cfg_file.is_file() and params_file.is_file()):
        raise ValueError(
            f"unknown sign source {str(path)!r}: use exact, marshall, fit or the run directory of a "
            "finished sign fit (with config.json and params.msgpack)"
        )
    try:
        spec = read_spec(path)
    except ValueError as err:
        raise ValueError(f"{cfg_file}: {err}") from None
    if spec.task != "sign":
        raise ValueError(f"{path} is a {spec.task!r} run, not a sign fit")
    if load_lattice(spec.problem.lattice).content_hash != cluster.content_hash:
        raise ValueError(f"{path} was fitted on {spec.problem.lattice}, not on {cluster.name}")
    network = make_model(spec.model.name, cluster, **spec.model.options())
    x0 = jnp.ones((1, cluster.n_sites), jnp.int8)
    target = jax.eval_shape(network.init, jax.random.key(0), x0)
    try:
        params = flax.serialization.from_bytes(target, params_file.read_bytes())
    except Exception as err:  # noqa: BLE001 - msgpack/flax raise various types
        raise ValueError(f"{params_file} does not match the model in {cfg_file}: {err}") from None
    # from_bytes keeps the stored arrays whatever their shapes: compare them with the model's
    shapes = jax.tree_util.tree_map(lambda t, a: tuple(t.shape) == tuple(np.shape(a)), target, params)
    if not all(jax.tree_util.tree_leaves(shapes)):
        raise ValueError(f"{params_file} does not match the model in {cfg_file} (parameter shapes differ)")
    check_sign_fit(path, force)
    return NetworkSign(network=network, frozen=freeze_params(params))


def sign_from_source(source: str | Path, cluster: Cluster, ground=None, *, force: bool = False):
    """The fixed sign named by ``source``: ``"exact"`` (needs ``ground``), ``"marshall"``, or the
    path of a finished sign-fit run directory (:func:`load_sign_fit`).

    Raises:
        ValueError: as :func:`~nqs_dilated.training.wavefunction.make_sign` and :func:`load_sign_fit`.
        SignQualityError: a sign fit below the bounds of :func:`check_sign_fit` (unless ``force``).
    """
    if str(source) in (SignSource.EXACT, SignSource.MARSHALL):
        return make_sign(str(source), cluster, ground)
    return load_sign_fit(Path(source), cluster, force)
