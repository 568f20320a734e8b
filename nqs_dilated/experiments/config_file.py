"""Config files: TOML with the common keys at the top level and one table per task.

::

    lattice = "triangular-4x6"      # common keys at the top level (COMMON_KEYS)
    j2 = 1.0
    model = "dilated"

    [sign]                          # the sign fit (SIGN_KEYS): nqs-dilated sign
    eps = 0.01
    lr = 0.001                      # Adam

    [vmc]                           # VMC (VMC_KEYS): nqs-dilated vmc
    mode = "fixed-sign"
    lr = 0.02                       # SGD step of SR

    [sweep]                         # nqs-dilated sweep / search (SweepConfig keys and the axes)
    j2 = "0:1.4:0.2"
    model = ["dilated", "cnn"]

``nqs-dilated sign`` reads the top level and ``[sign]``, ``nqs-dilated vmc`` the top level and
``[vmc]`` (:func:`config_values`); the command line overrides the file. A key in the wrong
section, or a file in the old flat form, is an error naming the table the key belongs in; each
task has its own defaults (:func:`task_defaults`).
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from .config import COMMON_KEYS, SWEEP_AXES, TASK_DEFAULTS, TASK_KEYS, TASKS, ConfigError, FitConfig
from .resolve import axis_values
from .sweep_config import SWEEP_TABLE, SweepConfig

__all__ = ["config_values", "load_toml", "task_defaults"]

_SWEEP_FIELDS = {f.name for f in dataclasses.fields(SweepConfig)}


def task_defaults(task: str = "sign") -> dict[str, Any]:
    """The defaults of one task: the common keys and those of its table (``lr`` is 0.001 for the
    sign fit, 0.02 for VMC), as ``--help`` shows them.

    Raises:
        ConfigError: an unknown task.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; use one of {TASKS}")
    defaults = {**dataclasses.asdict(FitConfig()), **TASK_DEFAULTS.get(task, {}), "task": task}
    return {k: defaults[k] for k in (*COMMON_KEYS, *TASK_KEYS[task])}


def _table_of(key: str) -> str:
    """Where a key belongs in a config file: ``top level``, ``[sign]``, ``[vmc]``, ``[sign] or [vmc]``, ``[sweep]``."""
    if key in COMMON_KEYS:
        return "the top level"
    tables = [f"[{t}]" for t, keys in TASK_KEYS.items() if key in keys]
    if tables:
        return " or ".join(tables)
    if key in _SWEEP_FIELDS:
        return f"[{SWEEP_TABLE}]"
    return ""


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML config file (module docstring): :data:`COMMON_KEYS` at the top level,
    tables ``[sign]`` (:data:`SIGN_KEYS`), ``[vmc]`` (:data:`VMC_KEYS`) and ``[sweep]``
    (:class:`~nqs_dilated.experiments.sweep_config.SweepConfig` keys and the sweep axes ``j2``, ``eps``, ``model``, ``dilations``; a
    sweep also reads a list on an axis at the top level or in the task's table as that axis).

    Returns:
        The document as read (nested dicts); :func:`config_values` flattens it for one task.

    Raises:
        ConfigError: missing file, malformed TOML, an unknown key, or a key outside its table
            (the old flat form: the message names the table, e.g. ``eps`` belongs in ``[sign]``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML ({err})") from None
    tables = (*TASK_KEYS, SWEEP_TABLE)
    for table in tables:
        if table in data and not isinstance(data[table], dict):
            raise ConfigError(f"{path}: {table!r} must be a table ([{table}]), got {data[table]!r}")
    for key in data:
        if key in tables or key in COMMON_KEYS:
            continue
        where = _table_of(key)
        if where:
            raise ConfigError(
                f"{path}: key {key!r} belongs in the {where} table (config files keep the common keys at "
                f"the top level and the others in [sign], [vmc] and [sweep]); move it there"
            )
        raise ConfigError(
            f"{path}: unknown key {key!r}; known top-level keys: {list(COMMON_KEYS)} and the "
            f"tables {[f'[{t}]' for t in tables]}"
        )
    for table, keys in TASK_KEYS.items():
        for key in data.get(table, {}):
            if key not in keys:
                where = _table_of(key)
                hint = f"it belongs in {where}" if where else f"known keys of [{table}]: {list(keys)}"
                raise ConfigError(f"{path}: unknown key {key!r} in [{table}]; {hint}")
    allowed = set(_SWEEP_FIELDS) | set(SWEEP_AXES) | {"out"}
    for key in data.get(SWEEP_TABLE, {}):
        if key not in allowed:
            where = _table_of(key)
            hint = f"it belongs in {where}" if where else f"known keys: {sorted(allowed)}"
            raise ConfigError(f"{path}: unknown key {key!r} in [{SWEEP_TABLE}]; {hint}")
    return data


def config_values(data: dict[str, Any], task: str, sweep: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flatten a config document (:func:`load_toml`) for one task.

    Args:
        data: The document.
        task: ``"sign"`` or ``"vmc"``: the table read besides the top level.
        sweep: Read the ``[sweep]`` table too (a sweep or search); a single run ignores it.

    Returns:
        ``(values, sweep_values)``: FitConfig keys (the top level updated by the task's table and,
        for a sweep, by the axes of ``[sweep]``) and the other keys of ``[sweep]`` (SweepConfig
        keys; ``models`` is read as the ``model`` axis; empty unless ``sweep``).

    Raises:
        ConfigError: an unknown task, a file meant for another task (``task = "vmc"`` given to
            the sign fit), or, for a single run, several values on a sweep axis.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; use one of {TASKS}")
    if data.get("task", task) != task:
        raise ConfigError(
            f"this config file is for task {data['task']!r} (task = {data['task']!r}); "
            f"run it with `nqs-dilated {data['task']}` or drop the key"
        )
    values = {k: v for k, v in data.items() if k in COMMON_KEYS}
    if task == "vmc":  # the sign fit of a chain (sign_source or sign_prior "fit") reads [sign]
        sign_table = dict(data.get("sign", {}))
        if "lr" in sign_table:
            sign_table["sign_lr"] = sign_table.pop("lr")
        values.update(sign_table)
    values.update(data.get(task, {}))
    values["task"] = task
    sweep_values = dict(data.get(SWEEP_TABLE, {})) if sweep else {}
    if "models" in sweep_values:
        sweep_values["model"] = sweep_values.pop("models")
    axes = {k: sweep_values.pop(k) for k in SWEEP_AXES if k in sweep_values}
    values = {**values, **axes}
    if not sweep:
        for key in SWEEP_AXES:
            if axis_values(values, key) is not None:
                raise ConfigError(
                    f"{key} = {values[key]!r} holds several values, a sweep: run this file with "
                    "`nqs-dilated sweep` (sweep axes go in the [sweep] table)"
                )
    return values, sweep_values
