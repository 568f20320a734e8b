"""The experiment layer: configurations, run directories, sweeps, searches, executors, tables, plots.

An experiment turns a typed run spec (:mod:`.specs`, resolved once from the flat keys of the command
line and config files, :mod:`.config` and :mod:`.resolve`) into a run directory (:mod:`.rundir`)
holding a typed result (:mod:`.results`) by
calling the training drivers of :mod:`nqs_dilated.training`: one sign fit (:mod:`.sign_run`), one
VMC run (:mod:`.vmc_run`, with its sign source, :mod:`.sign_source`), a sweep over J2/J1, eps,
models and seeds (:mod:`.sweep`, run by :mod:`.executors`, summarised by :mod:`.tables` and
:mod:`.plots`), or a hyperparameter search (:mod:`.search`).
"""
