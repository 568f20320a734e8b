"""The experiment layer: configurations, run directories, sweeps, searches, executors, tables, plots.

An experiment turns a configuration (:mod:`.config`) into a run directory (:mod:`.rundir`) by
calling the training drivers of :mod:`nqs_dilated.training`: one sign fit (:mod:`.sign_run`), one
VMC run (:mod:`.vmc_run`, with its sign source, :mod:`.sign_source`), a sweep over J2/J1, eps,
models and seeds (:mod:`.sweep`, run by :mod:`.executors`, summarised by :mod:`.tables` and
:mod:`.plots`), or a hyperparameter search (:mod:`.search`).
"""
