"""What a configuration implies for the model and the sign-fit budget (shared by every driver).

:func:`model_options` gives the keywords of :func:`nqs_dilated.models.make_model`,
:func:`budget_options` those of :func:`~nqs_dilated.training.sign.train_sign`. The sign fit,
VMC, the sweep and the search all build their networks from the same configuration through here,
so that a run directory's ``model_options`` mean the same network everywhere.
"""

from __future__ import annotations

from .config import FitConfig

__all__ = ["budget_options", "model_options"]


def model_options(cfg: FitConfig) -> dict:
    """The :func:`nqs_dilated.models.make_model` options a configuration implies (sign head).

    ``channels`` are the per-layer features of the G-CNN; ``hidden`` the dense layer sizes.
    """
    if cfg.model in ("dilated", "cnn"):
        opts = dict(channels=tuple(cfg.channels), kernel_size=cfg.kernel_size, residual=cfg.residual)
        if cfg.model == "dilated":
            opts["dilations"] = tuple(cfg.dilations)
        return opts
    if cfg.model == "dense":
        return dict(hidden=tuple(cfg.hidden))
    return dict(features=tuple(cfg.channels))


def budget_options(cfg: FitConfig) -> dict:
    """The budget keywords of :func:`~nqs_dilated.training.sign.train_sign` a configuration
    implies (0 in the configuration = automatic or off)."""
    return dict(
        steps=cfg.steps,
        epochs=cfg.epochs or None,
        batch_size=cfg.batch_size or None,
        eval_every=cfg.eval_every or None,
        patience=cfg.patience or None,
    )
