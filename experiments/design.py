"""Designs: the parameter sets of an experiment.

* ``grid``: every combination of the listed levels (full factorial).
* ``lhs``: Latin hypercube of ``samples`` points (SALib's ``latin``).
* ``sobol``: Saltelli's extension of Sobol' sequences, ``samples * (2D + 2)``
  sets with second order, ``samples * (D + 2)`` without (SALib's ``sobol``).
* ``morris``: ``samples`` trajectories of ``D + 1`` sets each (SALib's ``morris``).
* ``list``: the rows of a CSV file.

Sampled designs draw in the unit interval mapped to each factor's range.
Integer and categorical factors are mapped without rounding surprises: an
integer range ``[min, max]`` is sampled on ``[min, max + 1)`` and floored,
so each integer is equally likely; a categorical factor with n choices is
sampled on ``[0, n)`` and floored to a choice.  Morris designs draw on a
grid of ``levels`` points instead, so an integer or categorical factor of n
values is sampled on ``[0, n - 1]`` (integers: ``[min, max]``) and grid
level k goes to value ``k (n - 1) / (levels - 1)`` when that is a whole
number for every k (distinct, evenly spread values), else, when ``levels``
is a multiple of n, to value ``floor(k n / levels)`` (each value on the same
number of levels); any other combination would draw some values more often
than others and is refused (:func:`check_morris_levels`).  The raw sample
matrix is kept beside the applied values, for sensitivity analysis.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from improvesim.experiments.spec import Experiment, Factor, check_not_run_key
from improvesim.sim.params import ParameterError, coerce, lookup, suggest
from improvesim.sim.schema import BY_NAME

#: A number as a CSV cell may write it: ASCII digits only (no full-width "４"), no "nan", "inf" or "1_000".
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INTEGER = re.compile(r"[+-]?[0-9]+")
#: Longest CSV cell read (characters).
MAX_CELL = 100


@dataclass(frozen=True)
class Design:
    """The parameter sets: ``values`` (one row per set, one column per factor),
    the raw sample matrix ``X`` (sampled designs) and SALib's ``problem``."""

    values: pd.DataFrame
    X: np.ndarray | None = None
    problem: dict | None = None

    @property
    def sets(self) -> int:
        return len(self.values)

    def overrides(self, i: int) -> dict[str, Any]:
        """The parameter overrides of set ``i``, in their schema types."""
        # column by column: a row of mixed types would turn integers into floats
        return {name: _native(self.values[name].iloc[i]) for name in self.values.columns}


def _native(v):
    return v.item() if hasattr(v, "item") else v


def salib_problem(factors: tuple[Factor, ...], groups: bool = False, morris: bool = False) -> dict:
    """SALib's problem: names and unit-mapped bounds (see the module docstring);
    with ``groups``, each parameter's family (its scenario section) as its group;
    with ``morris``, the bounds of a Morris grid (integer and categorical factors end on their last value)."""
    bounds = []
    top = 0.0 if morris else 1.0
    for f in factors:
        if f.kind == "choice":
            bounds.append([0.0, float(len(f.choices)) - 1.0 + top])
        elif f.kind == "int":
            bounds.append([float(f.low), float(f.high) + top])
        else:
            bounds.append([float(f.low), float(f.high)])
    problem = {"num_vars": len(factors), "names": [f.name for f in factors], "bounds": bounds}
    if groups:
        problem["groups"] = [BY_NAME[f.name].family for f in factors]
    return problem


def discrete_values(factor: Factor) -> int:
    """How many values an integer or categorical factor takes (0 for a continuous one)."""
    if factor.kind == "choice":
        return len(factor.choices)
    if factor.kind == "int":
        return int(factor.high) - int(factor.low) + 1
    return 0


def morris_value_index(level: np.ndarray, values: int, levels: int) -> np.ndarray | None:
    """Value index (0 to ``values - 1``) of each Morris grid level (0 to ``levels - 1``).

    None when no mapping gives every value the same share of the levels.
    """
    if values <= 1:
        return np.zeros_like(level)
    if (values - 1) % (levels - 1) == 0:  # distinct, evenly spread values
        return level * ((values - 1) // (levels - 1))
    if levels % values == 0:  # each value on levels / values grid points
        return level * values // levels
    return None


def check_morris_levels(exp: Experiment) -> None:
    """Refuse integer or categorical factors a Morris grid of ``exp.levels`` would draw unevenly.

    Raises :class:`ParameterError` naming the experiment file, the factor and what is allowed.
    """
    p = exp.levels
    for f in exp.factors:
        n = discrete_values(f)
        if n and morris_value_index(np.arange(p), n, p) is None:
            if f.kind == "int":
                spread = max(1, round((n - 1) / (p - 1)))
                allowed = f"a range of max - min a multiple of {p - 1} (e.g. max = {int(f.low) + (p - 1) * spread})"
                values = f"{n} values ({f.low} to {f.high})"
            else:
                allowed = f"levels a multiple of {n} (e.g. levels = {2 * n})"
                values = f"{n} choices"
            raise ParameterError(
                f"a Morris grid of {p} levels over {values} would draw some values more often than others; "
                f"allowed: {allowed}",
                str(exp.path),
                f.name,
            )


def apply(factor: Factor, x: np.ndarray, morris_levels: int | None = None) -> np.ndarray | list:
    """Map raw samples of one factor to parameter values (``morris_levels``: from a Morris grid):
    an int64 or float64 array, or for a choice a list of the choices."""
    n = discrete_values(factor)
    if morris_levels and n:
        low = 0 if factor.kind == "choice" else int(factor.low)
        span = max(n - 1, 1)
        level = np.rint((np.asarray(x, dtype=float) - low) / span * (morris_levels - 1)).astype(np.int64)
        index = morris_value_index(level, n, morris_levels)
        if factor.kind == "choice":
            return [factor.choices[i] for i in index]
        return (low + index).astype(np.int64)
    if factor.kind == "choice":
        idx = np.minimum(np.floor(x).astype(int), len(factor.choices) - 1)
        return [factor.choices[i] for i in idx]
    if factor.kind == "int":
        return np.minimum(np.floor(x).astype(np.int64), factor.high)
    return np.clip(x, factor.low, factor.high).astype(np.float64)


def build_design(exp: Experiment) -> Design:
    """The parameter sets of ``exp``."""
    if exp.design == "grid":
        return _grid(exp.factors)
    if exp.design == "list":
        return _from_csv(exp)
    return _sampled(exp)


def _grid(factors: tuple[Factor, ...]) -> Design:
    rows = list(itertools.product(*(f.levels for f in factors)))
    return Design(values=pd.DataFrame(rows, columns=[f.name for f in factors]))


def _sampled(exp: Experiment) -> Design:
    problem = salib_problem(exp.factors, exp.groups, morris=exp.design == "morris")
    if exp.design == "morris":
        check_morris_levels(exp)
    # each sampler imported only when used: SALib's Sobol sampler loads scipy.stats (about 0.7 s)
    if exp.design == "lhs":
        from SALib.sample import latin

        X = latin.sample(problem, exp.samples, seed=exp.seed)
    elif exp.design == "sobol":
        from SALib.sample import sobol

        X = sobol.sample(problem, exp.samples, calc_second_order=exp.second_order, scramble=True, seed=exp.seed)
    else:
        from SALib.sample import morris

        X = morris.sample(problem, exp.samples, num_levels=exp.levels, seed=exp.seed)
    if exp.groups and len(set(problem["groups"])) < 2:
        raise ParameterError("groups need parameters from at least two families", str(exp.path), "groups")
    levels = exp.levels if exp.design == "morris" else None
    values = pd.DataFrame({f.name: apply(f, X[:, j], levels) for j, f in enumerate(exp.factors)})
    return Design(values=values, X=X, problem=problem)


def _from_csv(exp: Experiment) -> Design:
    """The parameter sets of a list design: one per row of its CSV file, one column per parameter.

    Raises :class:`ParameterError` naming the CSV file, the row or column and
    what is allowed, for: an unknown, repeated, empty or run (seed,
    replicates) column; a row whose number of cells differs from the
    header's; a cell that is not a value of its parameter.
    """
    where = str(exp.csv)
    header, rows = csv_rows(exp.csv_text or "", where)
    columns: dict[str, list] = {name: [] for name in header}
    kinds = [lookup(name).kind for name in header]
    for line, cells in rows:
        for name, kind, cell in zip(header, kinds, cells, strict=True):
            columns[name].append(
                coerce(name, parse_cell(cell, kind, name, f"{where}: row {line}"), f"{where}: row {line}")
            )
    return Design(values=pd.DataFrame(columns))


def csv_rows(text: str, where: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (parameter names) and the rows (line number, cells) of a list design's CSV text.

    Blank lines are skipped; every other row must have one cell per column.
    """
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for cells in reader:
            if not cells or cells == [""]:
                continue
            if header is None:
                header = [c.strip() for c in cells]
                _check_header(header, where)
                continue
            if len(cells) != len(header):
                raise ParameterError(
                    f"has {len(cells)} cells for {len(header)} columns ({', '.join(header)}); "
                    "allowed: one cell per column",
                    where,
                    f"row {reader.line_num}",
                )
            rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ParameterError(f"not a readable CSV file: {exc}", where, f"row {reader.line_num}") from None
    if header is None:
        raise ParameterError("is empty; allowed: a header of parameter names, then one row per parameter set", where)
    if not rows:
        raise ParameterError("has no parameter sets; allowed: one row per parameter set under the header", where)
    return header, rows


def _check_header(header: list[str], where: str) -> None:
    for name in header:
        if not name:
            raise ParameterError("a column has no name; allowed: parameter names such as turnover.teacher", where)
        check_not_run_key(name, where, name)
        if name not in BY_NAME:
            raise ParameterError(
                "unknown parameter column" + suggest(name, BY_NAME) + "; run `improvesim params` to list them",
                where,
                name,
            )
        if header.count(name) > 1:
            raise ParameterError("column named twice; allowed: each parameter once", where, name)


def parse_cell(cell: str, kind: str, name: str, where: str):
    """A CSV cell as a value for :func:`coerce`: text for a choice, else an int or float written in ASCII digits.

    Anything else is returned as text, which :func:`coerce` refuses naming what is allowed.
    """
    text = cell.strip()
    if len(text) > MAX_CELL:
        raise ParameterError(f"got a cell of {len(text):,} characters; allowed: {lookup(name).allowed()}", where, name)
    if kind == "choice" or not NUMBER.fullmatch(text):
        return text
    return int(text) if INTEGER.fullmatch(text) else float(text)


#: Bytes of memory, from measurements (benchmarks/sizes.py) with 50 to 70% to spare: the sweep's own process
#: with Python, NumPy, pandas, Numba and SALib loaded (250 MB measured); each worker process; per run of the
#: plan (its table, the copies made while it is written, and the manifest), and per factor of each run; per set
#: of a sampled design and factor (the sample matrix, SALib's working copies, the values); per run and school
#: of a batch in a worker (4.3 to 4.9 kB measured), per month (25 B measured); per run, school and month of a
#: chunk when per-school records are kept (41 B a row, in about three copies).
BASE_BYTES = 300 * 2**20
WORKER_BYTES = 300 * 2**20
RUN_BYTES = 400
RUN_FACTOR_BYTES = 30
SET_FACTOR_BYTES = 48
BATCH_SCHOOL_BYTES = 5_000
BATCH_SCHOOL_MONTH_BYTES = 30
RECORD_SCHOOL_MONTH_BYTES = 120


@dataclass(frozen=True)
class SizeEstimate:
    """How big an experiment is, worked out before anything is computed.

    ``sets`` parameter sets, ``runs`` runs (sets × replicates), and
    ``peak_bytes``, the memory the sweep needs at its peak: its own process
    (design, plan, manifest) and ``workers`` worker processes each with a
    batch of runs.
    """

    sets: int
    runs: int
    peak_bytes: int


def count_sets(exp: Experiment) -> int:
    """Parameter sets of ``exp``, counted without building them (exact; may be astronomically large)."""
    if exp.design == "grid":
        return math.prod(len(f.levels) for f in exp.factors)
    if exp.design == "list":
        return _from_csv(exp).sets
    dimensions = len({BY_NAME[f.name].family for f in exp.factors}) if exp.groups else len(exp.factors)
    samples = int(exp.samples or 0)
    if exp.design == "lhs":
        return samples
    if exp.design == "sobol":
        return samples * (2 * dimensions + 2 if exp.second_order else dimensions + 2)
    return samples * (dimensions + 1)  # morris


def estimate_size(exp: Experiment, workers: int = 1) -> SizeEstimate:
    """The :class:`SizeEstimate` of ``exp`` with ``workers`` local processes computing batches (0: all remote)."""
    from improvesim.experiments.runner import BATCH

    listed = _from_csv(exp).values if exp.design == "list" else None
    sets = count_sets(exp) if listed is None else len(listed)
    runs = sets * exp.replicates
    factors = len(exp.factors) if listed is None else listed.shape[1]
    sampled = exp.design in ("lhs", "sobol", "morris")
    plan = runs * (RUN_BYTES + RUN_FACTOR_BYTES * factors) + (sets * SET_FACTOR_BYTES * factors if sampled else 0)
    schools, months = _largest(exp, "district.schools", listed), 12 * _largest(exp, "run.years", listed)
    batch = min(BATCH, exp.chunk, runs) * schools * (BATCH_SCHOOL_BYTES + months * BATCH_SCHOOL_MONTH_BYTES)
    # per-school records pile up for a whole chunk in its worker, and again in this process as it is saved
    records = min(exp.chunk, runs) * schools * months * RECORD_SCHOOL_MONTH_BYTES if exp.record_schools else 0
    local = max(workers, 0) * (WORKER_BYTES + batch + records)
    return SizeEstimate(sets, runs, BASE_BYTES + plan + local + records)


def _largest(exp: Experiment, name: str, listed: pd.DataFrame | None) -> int:
    """The largest value any run of ``exp`` gives parameter ``name`` (``listed``: a list design's sets)."""
    values = [exp.base[name]]
    for f in exp.factors:
        if f.name == name:
            values += [*f.levels, *([f.high] if f.high is not None else [])]
    if listed is not None and name in listed:
        values.append(listed[name].max())
    return int(max(values))


def check_size(
    exp: Experiment, workers: int = 1, available: int | None = None, workers_option: str = "--workers"
) -> SizeEstimate:
    """Refuse, before anything is computed, an experiment whose estimated peak memory exceeds half of
    ``available`` bytes (default: the memory available now, :func:`available_memory`).

    Returns the :class:`SizeEstimate`; raises :class:`ParameterError` naming the experiment file, the
    key that sets the size, the estimate and the limit; or, when the study would fit with fewer local
    ``workers``, naming ``workers_option`` (the command's option that set them) and the most that fit.
    """
    available = available_memory() if available is None else available
    size = estimate_size(exp, workers)
    too_big = size.peak_bytes > available // 2
    fitting = _most_workers_that_fit(exp, workers, available // 2) if too_big else workers
    if 1 <= fitting < workers:  # the study fits with fewer workers: they, not the design, are too many
        check_memory(
            size.peak_bytes,
            f"{workers} workers (each holding a batch of {exp.path}'s runs) and {size.runs:,} runs",
            f"use at most {fitting} workers",
            workers_option,
            None,
            available,
        )
    check_memory(
        size.peak_bytes,
        f"{size.sets:,} parameter sets x {exp.replicates:,} replicates = {size.runs:,} runs",
        "use fewer levels, samples, replicates, schools or workers",
        str(exp.path),
        {"grid": "[parameters]", "list": "csv"}.get(exp.design, "samples"),
        available,
    )
    return size


def _most_workers_that_fit(exp: Experiment, workers: int, limit: int) -> int:
    """The most local workers, up to ``workers``, with which ``exp``'s estimated peak memory is at most
    ``limit`` bytes (0 if not even one; the estimate grows by the same amount with each worker)."""
    one = estimate_size(exp, 1).peak_bytes
    if one > limit:
        return 0
    each = estimate_size(exp, 2).peak_bytes - one
    return workers if each <= 0 else min(workers, 1 + (limit - one) // each)


def check_memory(
    need: int, what: str, advice: str, where: str, key: str | None = None, available: int | None = None
) -> None:
    """Refuse, with :class:`ParameterError` naming ``where`` and ``key``, a job whose estimated peak
    memory ``need`` (bytes) exceeds half of ``available`` (default: :func:`available_memory`); the
    message gives ``what`` is asked for, the estimate, the limit and ``advice``."""
    limit = (available_memory() if available is None else available) // 2
    if need > limit:
        raise ParameterError(
            f"{what} need about {_gigabytes(need)} of memory; allowed: at most {_gigabytes(limit)} "
            f"(half the memory available now); {advice}",
            where,
            key,
        )


def _gigabytes(n: int) -> str:
    return f"{n / 2**30:,.1f} GB" if n < 2**70 else f"{n / 2**30:.2e} GB"


def available_memory() -> int:
    """Bytes of memory available to this process now: Linux's MemAvailable, lowered by a cgroup limit if any."""
    available = _meminfo_available()
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(available, 0)


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
