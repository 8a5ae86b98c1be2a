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

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from improvesim.experiments.spec import Experiment, Factor
from improvesim.sim.params import ParameterError, coerce, lookup, suggest
from improvesim.sim.schema import BY_NAME


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


def apply(factor: Factor, x: np.ndarray, morris_levels: int | None = None) -> list:
    """Map raw samples of one factor to parameter values (``morris_levels``: from a Morris grid)."""
    n = discrete_values(factor)
    if morris_levels and n:
        low = 0 if factor.kind == "choice" else int(factor.low)
        span = max(n - 1, 1)
        level = np.rint((np.asarray(x, dtype=float) - low) / span * (morris_levels - 1)).astype(np.int64)
        index = morris_value_index(level, n, morris_levels)
        if factor.kind == "choice":
            return [factor.choices[i] for i in index]
        return (low + index).astype(np.int64).tolist()
    if factor.kind == "choice":
        idx = np.minimum(np.floor(x).astype(int), len(factor.choices) - 1)
        return [factor.choices[i] for i in idx]
    if factor.kind == "int":
        return np.minimum(np.floor(x).astype(np.int64), factor.high).tolist()
    return np.clip(x, factor.low, factor.high).astype(float).tolist()


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
    from SALib.sample import latin, morris, sobol

    problem = salib_problem(exp.factors, exp.groups, morris=exp.design == "morris")
    if exp.design == "morris":
        check_morris_levels(exp)
    if exp.design == "lhs":
        X = latin.sample(problem, exp.samples, seed=exp.seed)
    elif exp.design == "sobol":
        X = sobol.sample(problem, exp.samples, calc_second_order=exp.second_order, scramble=True, seed=exp.seed)
    else:
        X = morris.sample(problem, exp.samples, num_levels=exp.levels, seed=exp.seed)
    if exp.groups and len(set(problem["groups"])) < 2:
        raise ParameterError("groups need parameters from at least two families", str(exp.path), "groups")
    levels = exp.levels if exp.design == "morris" else None
    values = pd.DataFrame({f.name: apply(f, X[:, j], levels) for j, f in enumerate(exp.factors)})
    return Design(values=values, X=X, problem=problem)


def _from_csv(exp: Experiment) -> Design:
    where = str(exp.csv)
    try:
        table = pd.read_csv(exp.csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ParameterError(f"not a readable CSV file: {exc}", where) from None
    if table.empty:
        raise ParameterError("has no parameter sets", where)
    for name in table.columns:
        if name not in BY_NAME:
            raise ParameterError("unknown parameter column" + suggest(name, BY_NAME), where, name)
    columns = {}
    for name in table.columns:
        kind = lookup(name).kind
        columns[name] = [
            coerce(name, _parse_cell(cell, kind), f"{where} row {i + 2}") for i, cell in enumerate(table[name])
        ]
    return Design(values=pd.DataFrame(columns))


def _parse_cell(cell: str, kind: str):
    text = cell.strip()
    if kind == "choice":
        return text
    try:
        return int(text) if kind == "int" and text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text  # coerce() names the file, row and column
