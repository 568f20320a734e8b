"""Progress bars as callbacks: VMC's (NetKet's, with the real part of the energy) and the fits'.

NetKet's own bar (``driver.run(show_progress=True)``) shows ``str(driver._loss_stats)``: for the
complex ``log psi`` of our states the mean is complex, ``Energy=-44.849-0.000j ± 0.012``, although
the energy of a Hermitian Hamiltonian is real. :class:`EnergyProgressBar` is the same bar (tqdm on
stderr, one step per iteration, process 0 only) showing :func:`energy_text`. :class:`FitProgressBar`
is the bar of the supervised fits (:mod:`nqs_dilated.training.driver`): Adam steps, with the
training loss and a validation figure of the last iteration.
"""

from __future__ import annotations

import sys
from typing import Any

import jax
import netket as nk
import numpy as np
from netket.utils import struct

__all__ = ["EnergyProgressBar", "FitProgressBar", "energy_text"]


def energy_text(stats) -> str:
    """NetKet's text of a :class:`netket.stats.Stats` with the real part of its mean:
    ``-44.849 ± 0.012 [σ²=1.1e+02, R̂=1.034]``."""
    try:
        return str(stats.replace(mean=np.real(stats.mean)))
    except (AttributeError, TypeError):  # not a Stats: its text as it is
        return str(stats)


class _Bar(nk.callbacks.AbstractCallback, mutable=True):
    """A tqdm bar (``self.bar``) closed at the end of the run, normal or not."""

    bar: Any = struct.field(pytree_node=False, serialize=False, default=None)

    def on_run_end(self, step, driver):
        self._close()

    def on_run_error(self, step, error, driver):
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EnergyProgressBar(_Bar, mutable=True):
    """Progress bar up to step ``n_steps`` of a NetKet driver, the postfix ``Energy=`` with
    :func:`energy_text` (pass it as a callback with ``show_progress=False``). A resumed driver's
    bar starts at its step count (``73/150``), not at 0."""

    n_steps: int = struct.field(pytree_node=False, serialize=False)

    def __init__(self, n_steps: int):
        self.n_steps = int(n_steps)
        self.bar = None

    def on_run_start(self, step, driver):
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=self.n_steps,
            initial=driver.step_count,
            file=sys.stderr,
            dynamic_ncols=True,
            disable=jax.process_index() != 0,
        )

    def before_parameter_update(self, step, log_data, driver):
        if self.bar is not None and driver._loss_stats is not None:
            self.bar.set_postfix_str(f"{driver._loss_name}={energy_text(driver._loss_stats)}", refresh=False)

    def on_step_end(self, step, log_data, driver):
        if self.bar is not None:
            self.bar.update(driver.step_count + 1 - self.bar.n)


class FitProgressBar(_Bar, mutable=True):
    """Progress bar of a :class:`~nqs_dilated.training.driver.FitDriver` up to step ``n_steps``
    (tqdm on stderr, ``desc``), the postfix the ``loss`` of the last iteration and its ``key``
    (``val_acc`` for the sign fit). A resumed fit's bar starts at its step count."""

    n_steps: int = struct.field(pytree_node=False, serialize=False)
    desc: str = struct.field(pytree_node=False, serialize=False)
    key: str = struct.field(pytree_node=False, serialize=False)

    def __init__(self, n_steps: int, desc: str = "sign", key: str = "val_accuracy"):
        self.n_steps, self.desc, self.key = int(n_steps), desc, key
        self.bar = None

    def on_run_start(self, step, driver):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.n_steps, initial=step, desc=self.desc, unit="step", file=sys.stderr, leave=False)

    def on_step_end(self, step, log_data, driver):
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(loss=f"{log_data['loss']:.4f}", **{self.key: f"{log_data[self.key]:.3f}"})
