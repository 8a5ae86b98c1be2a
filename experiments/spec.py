"""Experiment files: parse and validate.

An experiment file (TOML) names a base scenario, a design and the
parameters it varies::

    scenario = "scenarios/baseline.toml"   # the base; parameters below override it
    design = "grid"                        # grid | lhs | sobol | morris | list
    samples = 64                           # lhs, sobol (N), morris (trajectories)
    replicates = 5
    seed = 1
    outcomes = ["institutionalized_share", "authentic_share"]   # optional; default all

    [parameters]
    "turnover.teacher" = [0.10, 0.20, 0.30]            # levels, for grid
    "coaching.coaches" = { min = 2, max = 12 }         # a range, for lhs, sobol and morris
    "governance.participation" = { choices = ["optional", "required"] }

    [set]                                  # optional constants for every run
    "run.years" = 10

Every problem is reported as a :class:`sim.params.ParameterError` naming the
file, the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from improvesim.sim.bundled import resolve
from improvesim.sim.end_of_run import OUTCOMES
from improvesim.sim.params import (
    ParameterError,
    Params,
    coerce,
    load_scenario,
    lookup,
    read_text_file,
    read_toml,
    show,
    suggest,
)
from improvesim.sim.posterior import Posterior
from improvesim.sim.posterior import fingerprint as posterior_fingerprint

DESIGNS = ("grid", "lhs", "sobol", "morris", "list")
TOP_KEYS = {
    "scenario": "path of the base scenario file",
    "design": "one of " + ", ".join(DESIGNS),
    "samples": "number of samples: lhs (points), sobol (N, a power of two), morris (trajectories)",
    "replicates": "replicates (seeds) per parameter set",
    "seed": "experiment seed",
    "outcomes": "list of end-of-run outcomes to keep (default all)",
    "second_order": "sobol: also sample for second-order indices (default true)",
    "levels": "morris: number of grid levels (default 4)",
    "groups": 'sobol, morris: "families" to sample and analyse parameter families (SALib groups) instead of parameters',
    "csv": "list: CSV file of parameter sets, one column per parameter",
    "common_random_numbers": "replicate r of every parameter set shares one seed (default true)",
    "record_schools": "also keep monthly per-school records (default false)",
    "chunk": "runs per result part file (default 256)",
    "description": "free text",
    "parameters": "table of varied parameters",
    "set": "table of constant overrides for every run",
}
#: Parameters an experiment sets with its own top-level keys, never in [set], [parameters] or a CSV column:
#: the run plan derives every run's seed from ``seed``, and repeats each set ``replicates`` times.
RUN_KEYS = {"run.seed": "seed", "run.replicates": "replicates"}
#: Top-level keys that only some designs use.
DESIGN_ONLY = {"second_order": ("sobol",), "levels": ("morris",), "groups": ("sobol", "morris")}


@dataclass(frozen=True)
class Factor:
    """A varied parameter: levels (grid) or a range/choices (lhs, sobol, morris)."""

    name: str
    kind: str  # "float", "int" or "choice"
    levels: tuple = ()  # grid levels
    low: float | None = None  # range for sampled designs
    high: float | None = None
    choices: tuple = ()  # categorical choices for sampled designs


@dataclass(frozen=True)
class Experiment:
    """A validated experiment."""

    path: Path
    name: str
    base: Params
    design: str
    factors: tuple[Factor, ...]
    replicates: int
    seed: int
    samples: int | None = None
    outcomes: tuple[str, ...] = tuple(OUTCOMES)
    second_order: bool = True
    levels: int = 4
    groups: bool = False
    csv: Path | None = None
    csv_text: str | None = field(default=None, repr=False, compare=False)  # the CSV file as read
    common_random_numbers: bool = True
    record_schools: bool = False
    chunk: int = 256
    constants: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: ``--posterior``: each run draws the constants the design does not vary from it (by the run's seed)
    posterior: Posterior | None = field(default=None, compare=False)

    def fingerprint(self) -> str:
        """A hash of everything that decides the runs and their results."""
        payload = {
            "base": self.base.as_nested(),
            "design": self.design,
            "factors": [f.__dict__ for f in self.factors],
            "replicates": self.replicates,
            "seed": self.seed,
            "samples": self.samples,
            "outcomes": self.outcomes,
            "second_order": self.second_order,
            "levels": self.levels,
            "groups": self.groups,
            "csv": self.csv_text,
            "crn": self.common_random_numbers,
            "schools": self.record_schools,
            "chunk": self.chunk,
            **({"posterior": posterior_fingerprint(self.posterior)} if self.posterior is not None else {}),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _fail(where: str, key: str, message: str) -> ParameterError:
    return ParameterError(message, where, key)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment: a file (TOML), or a bundled experiment's name (``"turnover_coaching"``).

    Raises :class:`ParameterError` naming the file and key for any bad input.
    """
    path = resolve(path, "experiment")
    where = str(path)
    data = read_toml(path, "experiment")
    if "calibrated" in data and "design" not in data:
        raise _fail(where, "calibrated", "this is a calibration experiment; run it with: improvesim calibrate " + where)
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(where, key, "unknown key" + suggest(key, TOP_KEYS) + "; allowed keys: " + ", ".join(TOP_KEYS))
    design = _required(data, "design", where)
    if design not in DESIGNS:
        raise _fail(where, "design", f"got {show(design)}; allowed: one of " + ", ".join(DESIGNS))
    for key, designs in DESIGN_ONLY.items():
        if key in data and design not in designs:
            raise _fail(where, key, f"is only used by a {' or '.join(designs)} design; leave it out")
    base = _base_scenario(data, path)
    constants = _constants(data.get("set", {}), where)
    if constants:
        base = base.with_overrides(constants, where)
    factors = _factors(data.get("parameters", {}), design, where)
    _check_horizon(base, factors, where)
    samples = _samples(data, design, len(factors), where)
    csv = _csv_path(data, design, path)
    exp = Experiment(
        path=path,
        name=path.stem,
        base=base,
        design=design,
        factors=factors,
        replicates=_int(data, "replicates", where, 1, 100_000, default=1),
        seed=_int(data, "seed", where, 0, 2**63 - 1, default=1),
        samples=samples,
        outcomes=_outcomes(data, where),
        second_order=_bool(data, "second_order", where, True),
        levels=_int(data, "levels", where, 2, 20, default=4),
        groups=_groups(data, design, where),
        csv=csv,
        csv_text=None if csv is None else read_text_file(csv, "CSV", where, "csv"),
        common_random_numbers=_bool(data, "common_random_numbers", where, True),
        record_schools=_bool(data, "record_schools", where, False),
        chunk=_int(data, "chunk", where, 1, 100_000, default=256),
        constants=constants,
        description=_text(data, "description", where),
    )
    if design == "morris" and exp.levels % 2:
        raise _fail(where, "levels", f"got {exp.levels}; Morris needs an even number of levels")
    return exp


def _required(data, key, where):
    if key not in data:
        raise _fail(where, key, f"missing; {TOP_KEYS[key]}")
    return data[key]


def _resolve(relative: str, experiment_path: Path) -> Path:
    """A path as written in an experiment file: beside the file, else from the working folder."""
    p = Path(relative)
    near = experiment_path.parent / p
    try:
        return near if not p.is_absolute() and near.exists() else p
    except (OSError, ValueError):  # a name the system cannot look up; reading it says why
        return p


def _base_scenario(data, path: Path) -> Params:
    scenario = _required(data, "scenario", str(path))
    if not isinstance(scenario, str) or not scenario.strip():
        raise _fail(
            str(path), "scenario", f"got {show(scenario)}; allowed: a scenario file's path or a bundled name, in quotes"
        )
    return load_scenario(resolve(scenario, "scenario", beside=path, key="scenario"))


def _constants(table, where) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _fail(where, "[set]", 'must be a table of "section.key" = value lines')
    for name in table:
        check_not_run_key(name, where, f"[set] {name}")
    return {name: coerce(name, value, where) for name, value in table.items()}


def check_not_run_key(name: str, where: str, key: str) -> None:
    """Refuse ``run.seed`` and ``run.replicates`` where an experiment names parameters (they would be ignored,
    or repeat identical runs), pointing to the experiment's own ``seed`` and ``replicates``."""
    if name in RUN_KEYS:
        raise _fail(
            where,
            key,
            f"an experiment sets {name} with its top-level {RUN_KEYS[name]} = ...; "
            f"allowed: parameters other than {', '.join(RUN_KEYS)}",
        )


def _check_horizon(base: Params, factors: tuple[Factor, ...], where: str) -> None:
    """Every shock of the base scenario must start within the shortest run a run.years factor gives."""
    years = next((f for f in factors if f.name == "run.years"), None)
    if years is None or not base.shocks:
        return
    shortest = min(years.levels) if years.levels else years.low
    months = int(shortest) * 12
    for i, shock in enumerate(base.shocks):
        if shock.start_month >= months:
            raise _fail(
                where,
                "run.years",
                f"{shortest} years end at month {months - 1}, before shocks[{i}] of the scenario starts "
                f"(month {shock.start_month}); allowed: at least {shock.start_month // 12 + 1} years",
            )


def _factors(table, design: str, where: str) -> tuple[Factor, ...]:
    if not isinstance(table, dict):
        raise _fail(where, "[parameters]", 'must be a table of "section.key" = levels or range lines')
    if design == "list":
        if table:
            raise _fail(
                where,
                "[parameters]",
                "a list design reads its parameter sets from the csv file; leave [parameters] out",
            )
        return ()
    if not table:
        raise _fail(where, "[parameters]", "missing: name at least one parameter to vary")
    for name in table:
        check_not_run_key(name, where, name)
    return tuple(_factor(name, spec, design, where) for name, spec in table.items())


def _factor(name: str, spec: Any, design: str, where: str) -> Factor:
    p = lookup(name, where)
    if design == "grid":
        if not isinstance(spec, list) or not spec:
            raise _fail(where, name, "a grid needs a list of levels, e.g. [0.1, 0.2, 0.3]")
        levels = tuple(coerce(name, v, where) for v in spec)
        if len(set(levels)) != len(levels):
            raise _fail(where, name, "levels repeat")
        return Factor(name, p.kind, levels=levels)
    if not isinstance(spec, dict):
        raise _fail(
            where, name, f"a {design} design needs a range {{ min = ..., max = ... }} (or {{ choices = [...] }})"
        )
    if p.kind == "choice":
        choices = spec.get("choices")
        if set(spec) != {"choices"} or not isinstance(choices, list) or len(choices) < 2:
            raise _fail(
                where, name, 'a categorical parameter needs { choices = ["...", "..."] } with at least two choices'
            )
        values = tuple(coerce(name, c, where) for c in choices)
        if len(set(values)) < len(values):
            raise _fail(where, name, "choices repeat; allowed: each choice once")
        return Factor(name, "choice", choices=values)
    if set(spec) != {"min", "max"}:
        raise _fail(where, name, f"a range needs exactly min and max; allowed: {p.allowed()}")
    low, high = coerce(name, spec["min"], where), coerce(name, spec["max"], where)
    if not low < high:
        raise _fail(where, name, f"min ({low}) must be below max ({high})")
    return Factor(name, p.kind, low=low, high=high)


def _samples(data, design: str, n_factors: int, where: str) -> int | None:
    if design in ("grid", "list"):
        if "samples" in data:
            raise _fail(where, "samples", f"is not used by a {design} design; leave it out")
        return None
    samples = _int(data, "samples", where, 1, 10_000_000, default=None)
    if samples is None:
        raise _fail(where, "samples", f"missing; {TOP_KEYS['samples']}")
    if design == "sobol" and samples & (samples - 1):
        lower = 1 << (samples.bit_length() - 1)
        raise _fail(
            where,
            "samples",
            f"got {samples}; Sobol' sequences keep their balance only for a power of two: use {lower} or {lower * 2}",
        )
    return samples


def _groups(data, design: str, where: str) -> bool:
    value = data.get("groups", False)
    if value is False:
        return False
    if value != "families":
        raise _fail(where, "groups", f'got {value!r}; allowed: "families" (or leave it out)')
    if design not in ("sobol", "morris"):
        raise _fail(where, "groups", "is only used by sobol and morris designs")
    return True


def _int(data, key, where, low, high, default):
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(where, key, f"got {show(value)}; allowed: an integer from {low} to {high}")
    return value


def _bool(data, key, where, default):
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise _fail(where, key, f"got {show(value)}; allowed: true or false")
    return value


def _text(data, key, where) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise _fail(where, key, f"got {show(value)}; allowed: text in quotes")
    return value


def _outcomes(data, where) -> tuple[str, ...]:
    names = data.get("outcomes", list(OUTCOMES))
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _fail(where, "outcomes", "must be a list of outcome names; run `improvesim outcomes` to list them")
    for name in names:
        if name not in OUTCOMES:
            raise _fail(where, "outcomes", f"unknown outcome {show(name)}" + suggest(name, OUTCOMES))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise _fail(where, "outcomes", f"{', '.join(repeated)} named twice; allowed: each outcome once")
    return tuple(names)


def _csv_path(data, design: str, path: Path) -> Path | None:
    if design != "list":
        if "csv" in data:
            raise _fail(str(path), "csv", "is only used by a list design")
        return None
    csv = _required(data, "csv", str(path))
    if not isinstance(csv, str) or not csv.strip():
        raise _fail(str(path), "csv", f"got {show(csv)}; allowed: the path of a CSV file, in quotes")
    return _resolve(csv, path)
