"""The second edition's structure criteria (issue 14), as code: what the model must show in a typical district.

These are the patterns the district model's second edition was built to
show.  Their criteria were stated and committed before its dynamics first
ran (``tests/test_second_edition_patterns.py``, issue 14), and are not
changed here: this module is that file's criteria, moved into production so
that the tests and the calibration's structure step
(:func:`improvesim.analysis.calibration.admissible`) call the same code.
Each criterion is a replicate mean of a named outcome at a named month,
over ``REPLICATES`` replicates from ``SEED`` (common random numbers between
arms), against a stated range.

They chose the model's structure, so they are data about the model's
typical district, not tests of it: a parameter set that breaks one makes
practice come too easily (or not at all) where the sources say it does not.
The calibration treats them as data with an indicator likelihood
(``docs/validation.md``, *The structure step*).

Sources (each cited for the number it contains):

- Scheirer (2005), American Journal of Evaluation 26(3): in 14 of 17 studies
  at least 60% of sites sustained at least one component of a programme.
- Taylor (2006), JESPAR 11(3-4): nearly a third of 395 low-achieving urban
  schools ended their relationship with the reform model's developer within
  about two years.
- Bryk et al. (2010), Organizing Schools for Improvement: schools strong in
  most essential supports were about ten times likelier to improve
  substantially than schools weak in most.
- Seed 003 (Viano et al. 2024), 5.1.2: measurement and networking were the
  persistent weaknesses among the principles.
- Seed 001 (Anderson et al. 2024): "at least a 10-year journey"
  (institutionalization takes years).

The "high" and "low" levels of the supports are an assumption: about twice
and about a third of the baseline's value of each lever.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from improvesim.sim.engine import SimulationResult, run_replicates
from improvesim.sim.outcomes import PRINCIPLE_SHARES
from improvesim.sim.params import Params, load_scenario
from improvesim.sim.state import Authenticity

#: Replicates per arm and the seed of every arm (the committed tests' settings).
REPLICATES, SEED = 200, 1
#: Month index of the end of each school year 1 to 10.
YEAR_END = {year: 12 * year - 1 for year in range(1, 11)}

#: Supports all high or all low (assumption: about twice and about a third of the baseline's value).
SUPPORTS_HIGH = {
    "time.protected_hours": 12.0,
    "coaching.coaches": 8,
    "coaching.visits_per_month": 2.0,
    "governance.top_down_support": 0.9,
}
SUPPORTS_LOW = {
    "time.protected_hours": 2.0,
    "coaching.coaches": 1,
    "coaching.visits_per_month": 0.35,
    "governance.top_down_support": 0.15,
}
#: Nothing: no protected time, no coaches, no top-down support.
NO_SUPPORT = {"time.protected_hours": 0.0, "coaching.coaches": 0, "governance.top_down_support": 0.0}

#: The arms: (scenario, overrides on it).  The baseline also keeps per-school records.
ARMS: dict[str, tuple[str, Mapping[str, Any]]] = {
    "baseline": ("baseline", {}),
    "supports_high": ("baseline", SUPPORTS_HIGH),
    "supports_low": ("baseline", SUPPORTS_LOW),
    "no_support": ("baseline", NO_SUPPORT),
    "framework_full": ("framework_full", {}),
    "mandate": ("mandate", {}),
    "high_churn": ("high_churn", {}),
}


class Arms:
    """The arms' results for one set of constants, each run on first use and kept.

    ``constants`` (``{"section.key": value}``) override every arm's scenario:
    empty for the defaults, or one posterior particle's calibrated and
    nuisance constants; an arm's own overrides (the supports' levels) win
    over them, so a calibrated lever does not undo what the arm is.  Every arm runs ``replicates`` replicates from
    ``seed``; only the baseline records every month (the others' criteria
    read the ends of years, which are the same bytes either way).
    """

    def __init__(self, constants: Mapping[str, Any] | None = None, replicates: int = REPLICATES, seed: int = SEED):
        self.constants = dict(constants or {})
        self.replicates, self.seed = replicates, seed
        self._done: dict[str, SimulationResult] = {}

    def params(self, arm: str) -> Params:
        scenario, overrides = ARMS[arm]
        # the arm's own levers win: "no support" has no coaches whatever coaching.coaches a particle drew
        return load_scenario(scenario).with_overrides({**self.constants, **overrides}, where=f"structure arm {arm}")

    def __getitem__(self, arm: str) -> SimulationResult:
        if arm not in self._done:
            baseline = arm == "baseline"
            self._done[arm] = run_replicates(
                self.params(arm),
                self.replicates,
                self.seed,
                record_schools=baseline,
                record_every_month=baseline,
            )
        return self._done[arm]


def among_participants(result: SimulationResult, month: int, level: int) -> float:
    """Replicate mean of the share of participating schools at ``level`` of authenticity at ``month``."""
    joined = result.schools["joined"][:, month, :].astype(bool)
    at_level = result.schools["authenticity"][:, month, :] == level
    return float(((at_level & joined).sum(axis=1) / np.maximum(joined.sum(axis=1), 1)).mean())


def _mean(result: SimulationResult, metric: str, month: int) -> float:
    return float(result.metric(metric)[:, month].mean())


# --- the criteria: each returns (what was measured, whether it holds) ---------------------------------------------


def authentic_is_rare_after_one_year(arms: Arms) -> tuple[dict, bool]:
    share = among_participants(arms["baseline"], YEAR_END[1], Authenticity.AUTHENTIC)
    return {"authentic_y1": share}, share < 0.25


def partial_is_at_least_as_common_as_authentic(arms: Arms) -> tuple[dict, bool]:
    measured, holds = {}, True
    for year in (1, 2, 3):
        partial = among_participants(arms["baseline"], YEAR_END[year], Authenticity.PARTIAL)
        authentic = among_participants(arms["baseline"], YEAR_END[year], Authenticity.AUTHENTIC)
        measured |= {f"partial_y{year}": partial, f"authentic_y{year}": authentic}
        holds &= partial >= authentic
    return measured, holds


def measurement_and_networking_are_weakest(arms: Arms) -> tuple[dict, bool]:
    shares = {name: _mean(arms["baseline"], name, YEAR_END[3]) for name in PRINCIPLE_SHARES}
    lowest_two = sorted(shares, key=shares.get)[:2]
    return shares, set(lowest_two) == {"measurement_share", "networks_share"}


def partial_sustainment_is_the_norm(arms: Arms) -> tuple[dict, bool]:
    month = YEAR_END[5]
    practised = arms["baseline"].schools["principles_practised"][:, : month + 1, :]
    ever = (practised > 0).any(axis=1)
    still = practised[:, -1, :] > 0
    share = float(((ever & still).sum(axis=1) / np.maximum(ever.sum(axis=1), 1)).mean())
    return {"still_practising_y5": share}, share > 0.5


def leaving_is_common_and_early(arms: Arms) -> tuple[dict, bool]:
    opted_out = _mean(arms["baseline"], "opted_out_share", YEAR_END[3])
    return {"opted_out_y3": opted_out}, 0.15 <= opted_out <= 0.45


def institutionalization_takes_years(arms: Arms) -> tuple[dict, bool]:
    result = arms["baseline"]
    none_by_y2 = float((result.metric("institutionalized_share")[:, YEAR_END[2]] == 0).mean())
    first = result.time_to_first_institutionalization
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no run with a first: NaN, and the criterion fails
        median = float(np.nanmedian(first))
    return {"runs_without_by_y2": none_by_y2, "median_months_to_first": median}, none_by_y2 > 0.9 and median > 36


def supports_matter_together(arms: Arms) -> tuple[dict, bool]:
    high = _mean(arms["supports_high"], "authentic_share", YEAR_END[5])
    low = _mean(arms["supports_low"], "authentic_share", YEAR_END[5])
    return {"authentic_y5_high": high, "authentic_y5_low": low}, high > 0.05 and high >= 5 * low


def without_support_practice_does_not_take_hold(arms: Arms) -> tuple[dict, bool]:
    share = _mean(arms["no_support"], "authentic_share", YEAR_END[10])
    return {"authentic_y10": share}, share < 0.05


def the_full_framework_institutionalizes_some_by_year_six(arms: Arms) -> tuple[dict, bool]:
    result = arms["framework_full"]
    month = YEAR_END[6]
    first = result.first_institutionalized
    ever_by = float(((first >= 0) & (first <= month)).mean(axis=1).mean())
    ever_share = _mean(result, "ever_institutionalized_share", month)
    return {"ever_by_y6": ever_by, "ever_share_y6": ever_share}, ever_by >= 0.05 and ever_share >= 0.05


def _less_than_the_baseline(arm: str) -> Callable[[Arms], tuple[dict, bool]]:
    def check(arms: Arms) -> tuple[dict, bool]:
        other = _mean(arms[arm], "institutionalized_share", YEAR_END[10])
        base = _mean(arms["baseline"], "institutionalized_share", YEAR_END[10])
        return {f"institutionalized_y10_{arm}": other, "institutionalized_y10_baseline": base}, other < base

    check.__name__ = f"{arm}_institutionalizes_less_than_the_baseline"
    return check


@dataclass(frozen=True)
class Criterion:
    """One structure criterion: a key, its statement and source, and the check on :class:`Arms`."""

    key: str
    statement: str
    source: str
    check: Callable[[Arms], tuple[dict, bool]]


#: The criteria, those reading only the baseline first (the structure step stops at the first that fails).
CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "authentic_rare_after_one_year",
        "under a quarter of the baseline's participants authentic at the end of year 1",
        "issue 14 (practice takes years)",
        authentic_is_rare_after_one_year,
    ),
    Criterion(
        "partial_before_authentic",
        "partial practice at least as common as authentic among participants at the end of years 1 to 3",
        "issue 14 (tools before principles)",
        partial_is_at_least_as_common_as_authentic,
    ),
    Criterion(
        "institutionalization_takes_years",
        "over 90% of baseline runs with no institutionalized school at the end of year 2, and the median time "
        "to the first above 36 months",
        "Seed 001 (Anderson et al. 2024): at least a 10-year journey",
        institutionalization_takes_years,
    ),
    Criterion(
        "measurement_networking_weakest",
        "measurement and networking the two least practised principles at the end of year 3",
        "Seed 003 (Viano et al. 2024), 5.1.2",
        measurement_and_networking_are_weakest,
    ),
    Criterion(
        "partial_sustainment_is_the_norm",
        "of the schools that ever practised a principle, over half still practise one at the end of year 5",
        "Scheirer (2005)",
        partial_sustainment_is_the_norm,
    ),
    Criterion(
        "leaving_is_common_and_early",
        "opted-out share at the end of year 3 between 0.15 and 0.45",
        "Taylor (2006): nearly a third within about two years",
        leaving_is_common_and_early,
    ),
    Criterion(
        "mandate_institutionalizes_less",
        "a mandate institutionalizes fewer schools than the baseline by year 10",
        "Seed 003 (Viano et al. 2024), 3; Seed 001",
        _less_than_the_baseline("mandate"),
    ),
    Criterion(
        "churn_institutionalizes_less",
        "high turnover institutionalizes fewer schools than the baseline by year 10",
        "Seed 001 (Anderson et al. 2024)",
        _less_than_the_baseline("high_churn"),
    ),
    Criterion(
        "supports_matter_together",
        "authentic share at year 5 with every support high above 0.05 and at least five times all low",
        "Bryk et al. (2010)",
        supports_matter_together,
    ),
    Criterion(
        "no_support_no_practice",
        "without protected time, coaching or top-down support, authentic share at year 10 below 0.05",
        "issue 14 (practice takes work)",
        without_support_practice_does_not_take_hold,
    ),
    Criterion(
        "framework_institutionalizes_by_year_six",
        "the full framework: at least 5% of schools institutionalized at some point by the end of year 6",
        "issue 14 (the framework can work)",
        the_full_framework_institutionalizes_some_by_year_six,
    ),
)
BY_KEY = {c.key: c for c in CRITERIA}


def verdicts(
    constants: Mapping[str, Any] | None = None,
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
    stop_at_first_failure: bool = False,
) -> dict[str, Any]:
    """Every criterion's verdict for ``constants`` (overrides of every arm; empty: the defaults).

    Returns ``{"admissible": bool, "failed": first failing key or "", KEY: True/False/None, ...}``
    (None: not checked, after the first failure when ``stop_at_first_failure``) and each
    criterion's measured values under ``"KEY.NAME"``.  Raises
    :class:`~improvesim.sim.params.ParameterError` for constants the schema refuses.
    """
    arms = Arms(constants, replicates, seed)
    out: dict[str, Any] = {"admissible": True, "failed": ""}
    for criterion in CRITERIA:
        if stop_at_first_failure and not out["admissible"]:
            out[criterion.key] = None
            continue
        measured, holds = criterion.check(arms)
        out[criterion.key] = bool(holds)
        out |= {f"{criterion.key}.{name}": float(value) for name, value in measured.items()}
        if not holds and out["admissible"]:
            out["admissible"], out["failed"] = False, criterion.key
    return out
