"""The scenario, plan and experiment files that ship with improvesim.

They are package data (``improvesim.scenarios``, ``improvesim.scenarios.plans``
and ``improvesim.experiments``), read through :mod:`importlib.resources`, so
they are found the same way from a checkout, an editable install or a wheel.

A name is resolved in one order everywhere (the command line, experiment
files, plan files, the workshop page):

1. a name given on the command line or in Python: an existing file at that
   path (relative to the working folder); a name written inside a file
   (``scenario =`` in an experiment, ``base =`` in a plan or scenario): the
   file of that name (``.toml`` may be left off) beside the naming file, or
   an absolute path, never the working folder, so that the folder a command
   runs in cannot change what a bundled experiment or plan is built on;
2. a bundled file of that name: ``baseline``, ``plans/deep_bench``,
   ``turnover_coaching`` (``.toml`` may be added).

Anything else raises :class:`~improvesim.sim.params.ParameterError` listing
the bundled names.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SCENARIO_PACKAGE = "improvesim.scenarios"
EXPERIMENT_PACKAGE = "improvesim.experiments"


def _folder(package: str) -> Path:
    return Path(str(files(package)))


def _names(package: str, pattern: str) -> list[str]:
    folder = _folder(package)
    return sorted(p.relative_to(folder).with_suffix("").as_posix() for p in folder.glob(pattern) if p.is_file())


def bundled_scenarios() -> list[str]:
    """Names of the bundled scenarios (``baseline``, ...), sorted."""
    return _names(SCENARIO_PACKAGE, "*.toml")


def bundled_plans() -> list[str]:
    """Names of the bundled plan files (``plans/deep_bench``, ...), sorted."""
    return _names(SCENARIO_PACKAGE, "plans/*.toml")


def bundled_experiments() -> list[str]:
    """Names of the bundled experiment files (``turnover_coaching``, ...), sorted."""
    return _names(EXPERIMENT_PACKAGE, "*.toml")


def bundled_scenario_path(name: str) -> Path:
    """The file of a bundled scenario or plan by name (``baseline``, ``plans/deep_bench``).

    Raises KeyError when there is no such bundled file.
    """
    return _bundled_path(name, SCENARIO_PACKAGE, bundled_scenarios() + bundled_plans())


def is_bundled_file(path: str | Path | None, name: str) -> bool:
    """Whether ``path`` is the bundled scenario or plan file called ``name`` (not a user's file of that name)."""
    try:
        return path is not None and Path(path).resolve() == bundled_scenario_path(name).resolve()
    except KeyError:
        return False


def _bundled_path(name: str, package: str, names: list[str]) -> Path:
    stem = name.removesuffix(".toml")
    if stem not in names:
        raise KeyError(name)
    return _folder(package) / f"{stem}.toml"


def resolve(name: str | Path, kind: str = "scenario", beside: str | Path | None = None, key: str | None = None) -> Path:
    """The file meant by ``name``, in the order of the module docstring.

    ``kind`` is ``"scenario"`` (scenarios and plans) or ``"experiment"``;
    ``beside`` is the file that wrote the name and ``key`` its key there.
    Raises :class:`~improvesim.sim.params.ParameterError` naming the file (and
    key) and listing the bundled names when nothing matches.
    """
    from improvesim.sim.params import ParameterError

    if not str(name).strip():
        raise ParameterError(f"an empty name; give a {kind} file or a bundled name", str(beside or "''"), key)
    path = Path(name)
    if beside is None or path.is_absolute():
        if _is_file(path):
            return path
    else:
        for near in (Path(beside).parent / path, Path(beside).parent / f"{name}.toml"):
            if _is_file(near):
                return near
    if kind == "experiment":
        names, package = bundled_experiments(), EXPERIMENT_PACKAGE
    else:
        names, package = bundled_scenarios() + bundled_plans(), SCENARIO_PACKAGE
    try:
        return _bundled_path(str(name), package, names)
    except KeyError:
        pass
    where, named = (str(beside), f'"{name}": ') if beside is not None else (str(name), "")
    if _exists(path):
        raise ParameterError(f"{named}not a regular {kind} file", where, key)
    raise ParameterError(
        f"{named}no such {kind} file, and no bundled {kind} of that name; bundled: {', '.join(names)}", where, key
    )


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a regular file; a name the system cannot look up (too long, a NUL byte) is not."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False
