"""Calibration by ABC-SMC (pyabc) of the screened behavioural constants on a case's counts.

A calibration experiment (``experiments/calibrate_viano2024.toml``) names a
case scenario, the case patterns it fits jointly (:mod:`analysis.validation`),
the calibrated constants with their uniform prior ranges, the nuisance
constants (drawn from their prior ranges in every replicate, never fixed),
and the ABC settings.  :func:`load_calibration` reads and checks it.

One particle is one batched :func:`~improvesim.sim.engine.simulate` call of
R replicates of the case with the particle's constants (and each
replicate's own nuisance draws).  Its summary statistics are, per
replicate, the model count of each target pattern (the participant share
times the case's schools, ``(R, targets)``).  Its distance to the data is
the mean over the R replicates of the norm (``distance``: euclidean,
manhattan or maximum) of the per-pattern gaps, in schools: a count that
rounds into the observed value or range (:meth:`CasePattern.matches`) has
gap 0, else the gap is how far it lies outside ``[low - 0.5, high + 0.5)``.

ABC-SMC (Beaumont et al. 2009; Toni et al. 2009; pyabc: Schaelte et al.
2022): generation 0 samples the prior; each later generation perturbs the
previous one's weighted particles with a multivariate normal kernel and
keeps those within a tolerance epsilon set to a quantile of the previous
generation's distances (pyabc's ``QuantileEpsilon``), and strictly below the
last epsilon (the largest distance below it when the quantile is not: with
one simulated case per particle the distances take few values).  Stopping: epsilon at
or below ``minimum_epsilon``, ``max_populations`` generations, acceptance
rate below ``min_acceptance_rate``, ``max_walltime_minutes``, or a
generation whose effective sample size (Kish) falls below
``min_ess_fraction`` of the population.  The posterior is the last
generation whose effective sample size is at least that share
(:func:`posterior_population`): a generation whose weight sits on a few
particles estimates tails and intervals from those few.  The
particles' weights are prior over proposal density, normalised: they are
importance weights, not posterior densities, and every summary here
weights by them.

Determinism: pyabc's own parallel samplers reseed every worker from the
clock, so they are not reproducible.  :class:`DeterministicSampler` gives
candidate k of generation t the seed ``derive_seeds(seed, ., "abc-t")[k]``
(both numpy's global state, which pyabc's proposals use, and the model's
replicate seeds come from it), evaluates candidates in blocks spread over
the workers, and accepts in candidate order until the population is full:
same seed, same posterior, whatever the number of workers.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from improvesim.analysis.validation import PATTERNS, CasePattern
from improvesim.sim import rng
from improvesim.sim.bundled import resolve
from improvesim.sim.end_of_run import end_of_run_outcomes
from improvesim.sim.engine import simulate
from improvesim.sim.params import ParameterError, Params, load_scenario, read_toml, show, suggest
from improvesim.sim.schema import BY_NAME

#: Sends ``fn(*args)`` to a worker and returns a future (``.result()``).
Submit = Callable[..., Any]
#: The distances an experiment may name: the norm of the per-pattern gaps of one replicate.
DISTANCES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "euclidean": lambda gaps: np.sqrt(np.sum(gaps**2, axis=-1)),
    "manhattan": lambda gaps: np.sum(np.abs(gaps), axis=-1),
    "maximum": lambda gaps: np.max(np.abs(gaps), axis=-1),
}
TOP_KEYS = {
    "description": "free text",
    "scenario": "the case scenario (file or bundled name)",
    "targets": "list of case pattern keys fitted jointly (analysis/validation.py)",
    "replicates": "R, replicates per particle (one batched model call)",
    "seed": "the calibration's seed",
    "abc": "table of ABC-SMC settings",
    "calibrated": "table of calibrated constants: name = { min = ..., max = ... }",
    "nuisance": "table of nuisance constants drawn from their prior: name = { min = ..., max = ... }",
    "sbc": "table of the simulation-based calibration check's settings",
    "structure": "table of the structure step's settings (the second edition's criteria, analysis/structure.py)",
}
ABC_KEYS = {
    "population_size": (int, 10, 100_000, "particles per generation"),
    "distance": (str, None, None, "one of " + ", ".join(DISTANCES)),
    "epsilon_quantile": (float, 0.05, 0.95, "each generation's tolerance: this quantile of the last distances"),
    "minimum_epsilon": (float, 0.0, 100.0, "stop when the tolerance reaches this (schools)"),
    "max_populations": (int, 1, 100, "stop after this many generations"),
    "min_acceptance_rate": (float, 0.0, 1.0, "stop when a generation accepts fewer than this share"),
    "max_walltime_minutes": (float, 0.1, 10_000.0, "stop starting generations after this long"),
    "min_ess_fraction": (
        float,
        0.0,
        1.0,
        "stop after a generation whose effective sample size is below this share of the population; the "
        "posterior is the last generation at or above it",
    ),
}
SBC_KEYS = {
    "datasets": (int, 2, 1000, "synthetic case datasets"),
    "population_size": ABC_KEYS["population_size"],
    "max_populations": ABC_KEYS["max_populations"],
    "replicates": (int, 1, 10_000, "R per particle in the check"),
    "level": (float, 0.5, 0.99, "credible level of the intervals checked"),
}
STRUCTURE_KEYS = {
    "replicates": (int, 10, 100_000, "replicates per arm of every criterion"),
    "seed": (int, 0, 2**63 - 1, "the seed of every arm"),
}


class CalibrationError(ValueError):
    """A calibration cannot go on (nothing accepted, no particle left)."""


@dataclass(frozen=True)
class Prior:
    """A uniform prior range of one constant."""

    name: str
    low: float
    high: float

    def sample(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * u


@dataclass(frozen=True)
class AbcSettings:
    population_size: int = 200
    distance: str = "euclidean"
    epsilon_quantile: float = 0.5
    minimum_epsilon: float = 0.0
    max_populations: int = 8
    min_acceptance_rate: float = 0.0
    max_walltime_minutes: float = 25.0
    min_ess_fraction: float = 0.0


@dataclass(frozen=True)
class SbcSettings:
    datasets: int = 20
    population_size: int = 100
    max_populations: int = 4
    replicates: int = 10
    level: float = 0.9


@dataclass(frozen=True)
class StructureSettings:
    """The structure step: the criteria of :mod:`analysis.structure` at these replicates and seed."""

    replicates: int = 200
    seed: int = 1


@dataclass(frozen=True)
class Calibration:
    """A checked calibration experiment."""

    path: Path
    name: str
    base: Params
    targets: tuple[CasePattern, ...]
    calibrated: tuple[Prior, ...]
    nuisance: tuple[Prior, ...]
    replicates: int
    seed: int
    abc: AbcSettings
    sbc: SbcSettings = field(default_factory=SbcSettings)
    description: str = ""
    structure: StructureSettings | None = None  # None: no structure step

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.calibrated)

    def prior(self, name: str) -> Prior:
        return next(p for p in self.calibrated if p.name == name)


def is_calibration(path: str | Path) -> bool:
    """Whether an experiment file is a calibration experiment (a ``[calibrated]`` table, no ``design``)."""
    data = read_toml(resolve(path, "experiment"), "experiment")
    return "calibrated" in data and "design" not in data


def _fail(where: str, key: str, message: str) -> ParameterError:
    return ParameterError(message, where, key)


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration experiment (a file, or a bundled experiment's name).

    Raises :class:`ParameterError` naming the file and key: unknown keys, an
    unknown distance or pattern, a constant the schema lacks, one without a
    prior range (``{ min, max }``) or with a range outside the parameter's
    allowed values, a constant both calibrated and nuisance.
    """
    path = resolve(path, "experiment")
    where = str(path)
    data = read_toml(path, "experiment")
    if "design" in data:
        raise _fail(
            where,
            "design",
            "this is a sweep experiment; improvesim calibrate needs a calibration experiment (targets, "
            "[calibrated], [abc]), e.g. calibrate_viano2024",
        )
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(where, key, "unknown key" + suggest(key, TOP_KEYS) + "; allowed keys: " + ", ".join(TOP_KEYS))
    for key in ("scenario", "targets", "calibrated"):
        if key not in data:
            raise _fail(where, key, f"missing; give {TOP_KEYS[key]}")
    base = load_scenario(resolve(str(data["scenario"]), "scenario", beside=path, key="scenario"))
    targets = _targets(data["targets"], base.name, where)
    calibrated = _priors(data["calibrated"], "calibrated", where)
    nuisance = _priors(data.get("nuisance", {}), "nuisance", where)
    both = sorted({p.name for p in calibrated} & {p.name for p in nuisance})
    if both:
        raise _fail(where, f"nuisance.{both[0]}", "is also calibrated; allowed: each constant in one table")
    abc = AbcSettings(**_settings(data.get("abc", {}), ABC_KEYS, "abc", where))
    if abc.distance not in DISTANCES:
        raise _fail(where, "abc.distance", f"got {show(abc.distance)}; allowed: one of " + ", ".join(DISTANCES))
    return Calibration(
        path=path,
        name=path.stem,
        base=base,
        targets=targets,
        calibrated=calibrated,
        nuisance=nuisance,
        replicates=_integer(data.get("replicates", 20), "replicates", where, 1, 10_000),
        seed=_integer(data.get("seed", 1), "seed", where, 0, 2**63 - 1),
        abc=abc,
        sbc=SbcSettings(**_settings(data.get("sbc", {}), SBC_KEYS, "sbc", where)),
        description=str(data.get("description", "")),
        structure=(
            StructureSettings(**_settings(data["structure"], STRUCTURE_KEYS, "structure", where))
            if "structure" in data
            else None
        ),
    )


def _integer(raw: Any, key: str, where: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise _fail(where, key, f"got {show(raw)}; allowed: an integer from {low} to {high}")
    return raw


def _targets(raw: Any, scenario: str, where: str) -> tuple[CasePattern, ...]:
    known = {p.key: p for p in PATTERNS if isinstance(p, CasePattern) and p.scenario == scenario}
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "targets", "must be a list of pattern keys; allowed: " + ", ".join(known))
    out = []
    for key in raw:
        if key not in known:
            raise _fail(
                where,
                "targets",
                f"got {show(key)}"
                + suggest(str(key), known)
                + f"; allowed (patterns observed in {scenario}): "
                + (", ".join(known) or "none"),
            )
        out.append(known[key])
    return tuple(out)


def _priors(table: Any, section: str, where: str) -> tuple[Prior, ...]:
    if not isinstance(table, Mapping):
        raise _fail(where, f"[{section}]", 'must be a table of "section.key" = { min = ..., max = ... }')
    priors = []
    for name, spec in table.items():
        key = f"{section}.{name}"
        param = BY_NAME.get(name)
        if param is None or param.kind == "choice" or param.section == "run":
            raise _fail(
                where, key, "not a numeric model parameter" + suggest(name, BY_NAME) + " (see improvesim params)"
            )
        if not isinstance(spec, Mapping) or set(spec) != {"min", "max"}:
            raise _fail(where, key, "needs a prior range; allowed: { min = LOW, max = HIGH } (a uniform prior)")
        low, high = spec["min"], spec["max"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or not low < high:
            raise _fail(where, key, f"got min {show(low)}, max {show(high)}; allowed: numbers with min < max")
        if low < param.low or high > param.high:
            raise _fail(where, key, f"range {low:g} to {high:g} leaves the parameter's: {param.allowed()}")
        priors.append(Prior(name, float(low), float(high)))
    return tuple(priors)


def _settings(table: Any, spec: dict, section: str, where: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise _fail(where, f"[{section}]", "must be a table of settings; allowed keys: " + ", ".join(spec))
    out = {}
    for key, raw in table.items():
        full = f"{section}.{key}"
        if key not in spec:
            raise _fail(where, full, "unknown key" + suggest(key, spec) + "; allowed keys: " + ", ".join(spec))
        kind, low, high, meaning = spec[key]
        if kind is str:
            if not isinstance(raw, str):
                raise _fail(where, full, f"got {show(raw)}; allowed: {meaning}")
        elif kind is int:
            raw = _integer(raw, full, where, low, high)
        elif isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
            raise _fail(where, full, f"got {show(raw)}; allowed: a number from {low:g} to {high:g} ({meaning})")
        out[key] = kind(raw)
    return out


# --- the model as pyabc sees it ---------------------------------------------------------------


@dataclass(frozen=True)
class CaseModel:
    """One particle's simulation: R replicates of the case, nuisance constants drawn per replicate.

    Called by pyabc with the particle's constants; draws from numpy's global
    random state (which :class:`DeterministicSampler` seeds per candidate).
    Returns ``{"counts": (R, targets)}``, the model count of each target.
    """

    base: Params
    targets: tuple[CasePattern, ...]
    nuisance: tuple[Prior, ...]
    replicates: int

    def __call__(self, particle: Mapping[str, float]) -> dict[str, np.ndarray]:
        seed = int(np.random.randint(0, 2**62))
        counts, nuisance = self.simulate_case(dict(particle), seed)
        return {"counts": counts, "nuisance": nuisance}

    def counts(self, constants: Mapping[str, float], seed: int) -> np.ndarray:
        """Counts (R, targets) of R replicates from ``seed`` at ``constants`` (nuisance drawn from ``seed`` too)."""
        return self.simulate_case(constants, seed)[0]

    def simulate_case(self, constants: Mapping[str, float], seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Counts (R, targets) of R replicates from ``seed`` at ``constants``, and the nuisance
        constants (R, nuisance) each replicate drew from its prior (from ``seed`` too)."""
        seeds = rng.derive_seeds(seed, self.replicates)
        u = np.random.default_rng(seed).random((self.replicates, len(self.nuisance)))
        drawn = np.array([[p.sample(u[r, j]) for j, p in enumerate(self.nuisance)] for r in range(self.replicates)])
        drawn = drawn.reshape(self.replicates, len(self.nuisance))
        params = self.base.with_overrides(_typed(constants), where="calibration")
        runs = [
            params.with_overrides(_typed({p.name: drawn[r, j] for j, p in enumerate(self.nuisance)}), "prior")
            for r in range(self.replicates)
        ]
        outcomes = end_of_run_outcomes(simulate(runs, seeds, record_every_month=False))  # (reads the last month)
        return np.stack([p.counts(outcomes) for p in self.targets], axis=1), drawn


def _typed(values: Mapping[str, float]) -> dict[str, Any]:
    return {k: int(round(v)) if BY_NAME[k].kind == "int" else float(v) for k, v in values.items()}


@dataclass(frozen=True)
class GapDistance:
    """Mean over replicates of the norm of each replicate's gaps to the observed ranges (schools)."""

    norm: str

    def __call__(self, x: Mapping[str, np.ndarray], x0: Mapping[str, np.ndarray]) -> float:
        return float(np.mean(DISTANCES[self.norm](gaps(x["counts"], x0["low"], x0["high"]))))


def gaps(counts: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """How far each count lies outside its observed range (0 when it rounds into it), same shape as ``counts``."""
    return np.maximum(0.0, np.maximum((low - 0.5) - counts, counts - (high + 0.5)))


def observed(targets: Sequence[CasePattern]) -> dict[str, np.ndarray]:
    """The data as pyabc stores them: each target's observed low and high count."""
    return {
        "low": np.array([p.low for p in targets], dtype=float),
        "high": np.array([p.high for p in targets], dtype=float),
    }


# --- a deterministic sampler ------------------------------------------------------------------


def _evaluate(payload: bytes, seeds: Sequence[int]) -> list:
    """Worker: run pyabc's ``simulate_one`` once per seed (numpy's and random's global state seeded)."""
    import cloudpickle

    simulate_one = cloudpickle.loads(payload)
    out = []
    for seed in seeds:
        np.random.seed(seed % 2**32)
        random.seed(seed)
        out.append(simulate_one())
    return out


def _make_sampler_class():
    """pyabc's Sampler base class is imported lazily (pyabc is heavy to import)."""
    import cloudpickle
    from pyabc.sampler import Sampler

    class DeterministicSampler(Sampler):
        """Candidates seeded by (seed, generation, index), accepted in index order; any number of workers.

        ``submit(fn, *args)`` sends work to a worker and returns a future
        (a process pool's or a Dask client's submit; None: in this process).  Blocks
        of ``block`` candidates per worker are evaluated at a time; candidates
        past the population's last acceptance are discarded, so the result
        does not depend on the workers or the block.
        """

        def __init__(self, seed: int, submit: Submit | None = None, workers: int = 1, block: int = 16):
            super().__init__()
            self.seed, self.submit, self.workers, self.block = seed, submit, max(1, workers), block

        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
            payload = cloudpickle.dumps(simulate_one)
            sample = self._create_empty_sample()
            walked = 0
            while sample.n_accepted < n and walked < max_eval:
                seeds = rng.derive_seeds(self.seed, walked + self.block * self.workers, salt=f"abc-{t}")[walked:]
                for particle in self._run(payload, seeds):
                    sample.append(particle)
                    walked += 1
                    if sample.n_accepted >= n or walked >= max_eval:
                        break
            self.nr_evaluations_ = walked
            if sample.n_accepted < n:
                sample.ok = False
            return sample

        def _run(self, payload: bytes, seeds: list[int]) -> list:
            if self.submit is None or self.workers == 1:
                return _evaluate(payload, seeds)
            parts = [seeds[i : i + self.block] for i in range(0, len(seeds), self.block)]
            futures = [self.submit(_evaluate, payload, part) for part in parts]
            return [p for f in futures for p in f.result()]

    return DeterministicSampler


#: Relative difference below which two distances count as the same (a quantile interpolates).
_SAME = 1e-9


def _make_epsilon_class():
    """pyabc's QuantileEpsilon with a strictly falling tolerance (pyabc is imported lazily)."""
    from pyabc.epsilon import QuantileEpsilon

    class FallingQuantileEpsilon(QuantileEpsilon):
        """Each generation's tolerance: the weighted ``alpha``-quantile of the last generation's
        distances (pyabc's QuantileEpsilon), but below the last tolerance.

        With one simulated case per particle the distances take few values (counts of 8
        schools), and when at least ``alpha`` of the weight sits on the largest accepted value
        the quantile equals the last tolerance and the run stops learning.  Then the tolerance
        is the largest distance of the last generation below the last tolerance (0 if none).
        """

        def _update(self, t, weighted_distances):
            super()._update(t, weighted_distances)
            previous = self._look_up.get(t - 1)
            if previous is None:
                return
            # the largest distance below the last tolerance: a tolerance above it accepts what the last did
            distances = weighted_distances.distance.to_numpy(dtype=float)
            below = distances[distances < previous * (1.0 - _SAME)]
            lower = float(below.max()) if below.size else 0.0
            self._look_up[t] = min(self._look_up[t], lower)

    return FallingQuantileEpsilon


def _make_smc_class():
    """pyabc's ABCSMC with one more stopping rule (pyabc is imported lazily)."""
    import pyabc

    class EssFloorABCSMC(pyabc.ABCSMC):
        """ABC-SMC that also stops after a generation whose effective sample size is below
        ``min_ess_fraction`` of its particles (pyabc's own rules still apply)."""

        min_ess_fraction = 0.0

        def check_terminate(self, t: int, acceptance_rate: float) -> bool:
            return super().check_terminate(t, acceptance_rate) or ess_below_floor(
                self.history, t, self.min_ess_fraction
            )

    return EssFloorABCSMC


def ess_below_floor(history, t: int, fraction: float) -> bool:
    """Whether generation ``t`` of a pyabc History has an effective sample size below ``fraction`` of its particles."""
    _, weights = history.get_distribution(t=t)
    weights = np.asarray(weights, dtype=float)
    return effective_sample_size(weights) < fraction * weights.size


# --- running ----------------------------------------------------------------------------------


@dataclass
class RunInfo:
    """What a run did: generations, epsilons, acceptance rates, seconds, why it stopped."""

    generations: pd.DataFrame  # t, epsilon, samples, particles, acceptance_rate, ess, seconds
    seconds: float
    stopped: str


def run_abc(
    cal: Calibration,
    db: Path,
    *,
    targets_observed: Mapping[str, np.ndarray] | None = None,
    abc: AbcSettings | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    submit: Submit | None = None,
    workers: int = 1,
    resume: bool = False,
) -> RunInfo:
    """Run (or, with ``resume``, continue) ABC-SMC into the pyabc History ``db`` (an SQLite file).

    ``targets_observed`` replaces the case's data (synthetic data of the
    simulation-based check); ``abc``, ``replicates`` and ``seed`` replace the
    experiment's.  Raises :class:`CalibrationError` when no generation is complete.
    """
    import pyabc

    abc = abc or cal.abc
    seed = cal.seed if seed is None else seed
    model = CaseModel(cal.base, cal.targets, cal.nuisance, replicates or cal.replicates)
    prior = pyabc.Distribution(**{p.name: pyabc.RV("uniform", p.low, p.high - p.low) for p in cal.calibrated})
    sampler = _make_sampler_class()(seed, submit, workers)
    np.random.seed(rng.derive_seeds(seed, 1, salt="abc-main")[0] % 2**32)  # pyabc's own draws in this process
    smc = _make_smc_class()(
        model,
        prior,
        GapDistance(abc.distance),
        population_size=abc.population_size,
        eps=_make_epsilon_class()(alpha=abc.epsilon_quantile, weighted=True),
        sampler=sampler,
    )
    smc.min_ess_fraction = abc.min_ess_fraction
    url = f"sqlite:///{db}"
    done = 0
    stopped = False
    if resume and db.is_file():
        history = smc.load(url, 1)
        done = history.max_t + 1
        # the kept run had already stopped (its results were then cut off: a full disk, Ctrl-C):
        # pyabc checks its rules only after a generation it computes, so it would go on
        stopped = done > 0 and bool(_rules_met(history, abc, generations=False))
    else:
        smc.new(url, dict(targets_observed if targets_observed is not None else observed(cal.targets)))
    started = time.perf_counter()
    remaining = 0 if stopped else abc.max_populations - done
    if remaining > 0:
        history = smc.run(
            minimum_epsilon=abc.minimum_epsilon,
            max_nr_populations=remaining,
            min_acceptance_rate=abc.min_acceptance_rate,
            max_walltime=pd.Timedelta(minutes=abc.max_walltime_minutes).to_pytimedelta(),
        )
    else:
        history = smc.history
    if history.max_t < 0:
        raise CalibrationError("no generation was completed; widen the prior or the tolerance")
    return RunInfo(generations(history), time.perf_counter() - started, stop_reason(history, abc))


def generations(history) -> pd.DataFrame:
    """One row per generation: epsilon, candidates simulated, particles, acceptance rate, ESS, seconds."""
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    rows = []
    for row in pops.itertuples():
        _, w = history.get_distribution(t=int(row.t))
        rows.append(
            {
                "t": int(row.t),
                "epsilon": float(row.epsilon),
                "samples": int(row.samples),
                "particles": int(row.particles),
                "acceptance_rate": row.particles / row.samples if row.samples else math.nan,
                "ess": effective_sample_size(np.asarray(w)),
            }
        )
    return pd.DataFrame(rows)


def stop_reason(history, abc: AbcSettings) -> str:
    """Which stopping rules the last generation met, in words (joined by "and")."""
    met = _rules_met(history, abc)
    if not met:
        return f"max_walltime_minutes ({abc.max_walltime_minutes:g}) or another of pyabc's stopping rules"
    return " and ".join(met)


def _rules_met(history, abc: AbcSettings, *, generations: bool = True) -> list[str]:
    """The stopping rules the last generation of ``history`` met, in words; ``max_populations``
    only with ``generations``."""
    pops = history.get_all_populations()
    last = pops.iloc[-1]
    rate = last["particles"] / last["samples"] if last["samples"] else 0.0
    met = []
    if last["epsilon"] <= abc.minimum_epsilon:
        met.append(f"the tolerance reached minimum_epsilon ({abc.minimum_epsilon:g})")
    if generations and history.max_t + 1 >= abc.max_populations:
        met.append(f"max_populations ({abc.max_populations}) generations")
    if rate < abc.min_acceptance_rate:
        met.append(f"the acceptance rate fell below min_acceptance_rate ({abc.min_acceptance_rate:g})")
    if ess_below_floor(history, history.max_t, abc.min_ess_fraction):
        met.append(
            f"the effective sample size fell below min_ess_fraction ({abc.min_ess_fraction:g}) of the population"
        )
    return met


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised importance weights, 1 / sum(w**2)."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    return float(1.0 / np.sum(w**2))


def particle_table(history, names: Sequence[str], nuisance: Sequence[str] = ()) -> pd.DataFrame:
    """Every generation's weighted particles: the constants ``names``, then (with one simulated
    case per particle, where a particle's nuisance draw is one value each) the ``nuisance``
    constants it drew, weight (normalised per generation), population, distance.

    With the nuisance values beside the calibrated ones, a particle is a draw from the joint
    posterior of both (the nuisance prior times the same likelihood), which ``--posterior``
    then draws together; with several replicates per particle the nuisance columns are left out.
    """
    frames = []
    for t in range(history.max_t + 1):
        particles = history.get_population(t=t).particles
        rows = []
        for p in particles:
            row = {name: float(p.parameter[name]) for name in names}
            drawn = np.asarray(p.sum_stat.get("nuisance", np.empty((0, 0))), dtype=float)
            if nuisance and drawn.shape == (1, len(nuisance)):
                row.update(zip(nuisance, drawn[0].tolist(), strict=True))
            row["weight"] = float(p.weight)
            row["distance"] = float(p.distance)
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame["weight"] = frame["weight"] / frame["weight"].sum()
        frame["population"] = t
        frames.append(frame[[c for c in frame.columns if c != "distance"] + ["distance"]])
    return pd.concat(frames, ignore_index=True)


def posterior_population(particles: pd.DataFrame, min_ess_fraction: float = 0.0) -> pd.DataFrame:
    """The posterior: the particles of the last generation whose effective sample size is at
    least ``min_ess_fraction`` (0 to 1) of its particles, weights normalised to sum to one.

    ``particles`` is :func:`particle_table`'s table (every generation).  Generation 0 samples
    the prior with equal weights, so some generation always qualifies.  A later generation
    whose weight sits on a few particles would give intervals and tails from those few.
    """
    for t in sorted(particles["population"].unique(), reverse=True):
        generation = particles[particles["population"] == t].reset_index(drop=True)
        weights = generation["weight"].to_numpy(dtype=float)
        if effective_sample_size(weights) >= min_ess_fraction * weights.size:
            return generation.assign(weight=weights / weights.sum())
    raise CalibrationError("no generation in the particle table")


# --- summaries of the posterior ---------------------------------------------------------------


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Quantile ``q`` of ``values`` under ``weights`` (midpoint rule on the sorted values)."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, dtype=float)[order], np.asarray(weights, dtype=float)[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cum, v))


def marginals(posterior: pd.DataFrame, cal: Calibration, level: float = 0.9) -> pd.DataFrame:
    """Per calibrated constant: prior range, weighted mean, median and central ``level`` interval."""
    w = posterior["weight"].to_numpy()
    tail = (1 - level) / 2
    rows = []
    for p in cal.calibrated:
        x = posterior[p.name].to_numpy(dtype=float)
        rows.append(
            {
                "parameter": p.name,
                "prior_low": p.low,
                "prior_high": p.high,
                "mean": float(np.sum(w * x)),
                "median": weighted_quantile(x, w, 0.5),
                "low": weighted_quantile(x, w, tail),
                "high": weighted_quantile(x, w, 1 - tail),
            }
        )
    return pd.DataFrame(rows)


def kde_mode(posterior: pd.DataFrame, cal: Calibration) -> dict[str, float]:
    """The mode of a weighted Gaussian kernel density estimate of the joint posterior.

    Computed on the constants scaled to [0, 1] by their prior ranges (so no
    unit dominates the bandwidth), starting from the particle of highest
    density and refined by Nelder-Mead inside the prior box.  Returns
    ``{name: value}``: the defaults' single joint point.
    """
    from scipy.optimize import minimize

    lows = np.array([p.low for p in cal.calibrated])
    spans = np.array([p.high - p.low for p in cal.calibrated])
    z = _unit(posterior, cal)
    kde = _weighted_kde(z, posterior["weight"].to_numpy(dtype=float))
    start = z[int(np.argmax(kde(z.T)))]
    result = minimize(lambda x: -kde(np.clip(x, 0, 1)[:, None])[0], start, method="Nelder-Mead")
    best = np.clip(result.x, 0, 1) if -result.fun >= kde(start[:, None])[0] else start
    return {name: float(lows[j] + spans[j] * best[j]) for j, name in enumerate(cal.names)}


# --- the structure step ----------------------------------------------------------------------


def particle_constants(posterior: pd.DataFrame, cal: Calibration) -> list[dict[str, float]]:
    """Each particle's constants (calibrated, and the nuisance values it drew when the table has them)."""
    names = [*cal.names, *(p.name for p in cal.nuisance if p.name in posterior.columns)]
    return [_typed(dict(zip(names, row, strict=True))) for row in posterior[names].to_numpy(dtype=float)]


def structure_verdicts(constants: Mapping[str, float], replicates: int, seed: int) -> dict[str, Any]:
    """Worker: :func:`analysis.structure.verdicts` of one particle, stopping at its first failure."""
    from improvesim.analysis import structure

    return structure.verdicts(constants, replicates=replicates, seed=seed, stop_at_first_failure=True)


def admissible(posterior: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """The posterior given the structure criteria too: the particles whose verdict is admissible,
    weights renormalised to sum to one.

    The criteria are a deterministic function of the constants (every arm at
    fixed seeds), so conditioning on them multiplies the likelihood by an
    indicator: restricting importance-weighted particles to the admissible
    ones is that posterior's importance sample (its effective sample size
    falls with the share kept).  ``verdicts`` has one row per particle, in
    order, with a boolean column ``admissible``.  Raises
    :class:`CalibrationError` when no particle is admissible.
    """
    keep = verdicts["admissible"].to_numpy(dtype=bool)
    if keep.size != len(posterior):
        raise CalibrationError(f"{keep.size} verdicts for {len(posterior)} particles")
    if not keep.any():
        raise CalibrationError(
            "no particle of the posterior meets the structure criteria (analysis/structure.py): the case and the "
            "structure patterns cannot be met together in this prior box"
        )
    kept = posterior[keep].reset_index(drop=True)
    return kept.assign(weight=kept["weight"] / kept["weight"].sum())


def structured_point(
    posterior: pd.DataFrame, cal: Calibration, holds: Callable[[Mapping[str, float]], bool]
) -> tuple[dict[str, float], str]:
    """The defaults' joint point of a posterior restricted to admissible particles, and how it was chosen.

    The rule (fixed before its first run): the weighted KDE mode of the
    calibrated constants (:func:`kde_mode`), if it meets the structure
    criteria itself (``holds``: with the nuisance constants at their
    defaults); otherwise the particles' calibrated constants in decreasing
    order of that KDE's density, the first that meets them.  Returns
    ``(point, "kde mode" | "particle of highest density meeting the criteria (the N-th tried)")``.
    Raises :class:`CalibrationError` when no candidate meets them.
    """
    mode = kde_mode(posterior, cal)
    if holds(mode):
        return mode, "kde mode"
    for rank, candidate in enumerate(_by_density(posterior, cal), start=2):
        if holds(candidate):
            return candidate, f"particle of highest density meeting the criteria (candidate {rank})"
    raise CalibrationError("neither the KDE mode nor any admissible particle meets the criteria at the defaults")


def _by_density(posterior: pd.DataFrame, cal: Calibration) -> list[dict[str, float]]:
    z = _unit(posterior, cal)
    density = _weighted_kde(z, posterior["weight"].to_numpy(dtype=float))(z.T)
    rows = posterior[list(cal.names)].to_numpy(dtype=float)
    return [dict(zip(cal.names, map(float, rows[i]), strict=True)) for i in np.argsort(-density, kind="stable")]


def _weighted_kde(z: np.ndarray, weights: np.ndarray):
    """A weighted Gaussian KDE of the particles ``z`` (particles, constants), scaled to the prior box.

    Raises :class:`CalibrationError` when the particles cannot carry one: fewer
    particles than constants plus one, or particles lying in a lower-dimensional
    subspace (scipy's singular covariance), as a posterior restricted by the
    structure step to a few particles can be.
    """
    from scipy.stats import gaussian_kde

    try:
        return gaussian_kde(z.T, weights=weights)
    except (ValueError, np.linalg.LinAlgError):
        raise CalibrationError(
            f"the posterior's {len(z)} particles cannot carry a kernel density estimate over {z.shape[1]} "
            f"constants (at least {z.shape[1] + 1} particles not all in one hyperplane are needed), so it has no "
            "joint point; calibrate with a larger population_size"
        ) from None


def _unit(posterior: pd.DataFrame, cal: Calibration) -> np.ndarray:
    lows = np.array([p.low for p in cal.calibrated])
    spans = np.array([p.high - p.low for p in cal.calibrated])
    return (posterior[list(cal.names)].to_numpy(dtype=float) - lows) / spans


def correlations(posterior: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Weighted Pearson correlations between the constants (a first look at identifiability)."""
    x = posterior[list(names)].to_numpy(dtype=float)
    w = posterior["weight"].to_numpy(dtype=float)
    cov = np.cov(x.T, aweights=w)
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(cov / np.outer(sd, sd), index=list(names), columns=list(names))


#: A screened outcome whose largest mu_star is below this (its own units: for the case counts, a share
#: of participating schools, a sixth of a school of 8) is noise and does not enter the score.
SCREENING_NOISE_FLOOR = 0.02


def screened_constants(morris: pd.DataFrame, at_most: int = 8, floor: float = SCREENING_NOISE_FLOOR) -> list[str]:
    """The constants a Morris screening calibrates: the ``at_most`` largest scores.

    ``morris`` has columns outcome, factor, mu_star (``morris.csv`` of
    ``improvesim sensitivity``).  A constant's score is the largest, over the
    outcomes whose largest mu_star reaches ``floor``, of its mu_star over that
    outcome's largest mu_star (each informative outcome weighs alike; an
    outcome no constant moves beyond ``floor`` cannot inform any of them).
    """
    table = morris.pivot(index="factor", columns="outcome", values="mu_star")
    informative = table.loc[:, table.max() >= floor]
    score = (informative / informative.max()).max(axis=1).reindex(table.index).fillna(0.0)
    return list(score.sort_values(ascending=False, kind="stable").index[:at_most])
