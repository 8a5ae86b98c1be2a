"""Plan comparison for district planners: outcomes, decision statistics, budgets, robustness.

Every plan is run on the same replicate seeds (common random numbers), so
plan B's replicate r meets the same turnover draws, the same decisions'
dice, as plan A's replicate r; the difference between plans is then
computed run by run (paired), and its interval is not swamped by the noise
that is common to both.  Intervals are 90% (5th to 95th percentile over
replicates).  Probabilities (best plan, pairwise, acceptability) are shares
of the paired replicates (:mod:`improvesim.analysis.decision`); costs are
the district budget of :mod:`improvesim.analysis.budget`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from improvesim.analysis.budget import RECORDED, Budget, budget
from improvesim.analysis.decision import (
    acceptability,
    cost_per_additional,
    pairwise_beats,
    probability_best,
    wtp_grid,
)
from improvesim.sim.engine import DEFAULT_BATCH, concatenate, run_replicates, simulate
from improvesim.sim.outcomes import PRINCIPLE_SHARES
from improvesim.sim.params import ParameterError, Params, load_scenario
from improvesim.sim.posterior import pinned_constants
from improvesim.sim.rng import derive_seeds

YEARS = (3, 5, 10)
#: Outcomes kept per plan: key -> (label, district metrics added up, in schools (True) or as is).
OUTCOMES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "institutionalized": ("Institutionalized schools", ("institutionalized_share",), True),
    "ever_institutionalized": ("Schools ever institutionalized", ("ever_institutionalized_share",), True),
    "at_least_partial": (
        "Schools practising at least partially authentically",
        ("authentic_share", "partial_share"),
        True,
    ),
    "authentic": ("Authentic schools (all six principles)", ("authentic_share",), True),
    "principles": ("Principles practised per school (of six)", PRINCIPLE_SHARES, False),
    "engaged": ("Engaged schools", ("engaged_share",), True),
}
#: Outcomes a plan may be chosen on (``--outcome``): counts of schools.
DECISION_OUTCOMES = ("institutionalized", "ever_institutionalized", "at_least_partial", "authentic")
#: Outcomes drawn over time in the report.
TRAJECTORY_METRICS = ("institutionalized", "at_least_partial", "engaged")
TURNOVER_KEYS = ("turnover.teacher", "turnover.principal", "turnover.lead", "turnover.coach")
#: Turnover conditions: multipliers on every staff turnover rate (NCES 2021-22: attrition in
#: high-poverty schools is about half again the average; "low" mirrors it downwards).
CONDITIONS: dict[str, dict] = {
    "low": {"turnover": 0.6, "label": "low turnover (x0.6)", "when": "turnover is low (x0.6)"},
    "typical": {"turnover": 1.0, "label": "typical turnover", "when": "turnover is typical"},
    "high": {
        "turnover": 1.5,
        "label": "high turnover (x1.5, as in high-poverty districts)",
        "when": "turnover is high (x1.5, as in high-poverty districts)",
    },
    "pandemic": {
        "turnover": 1.0,
        "shock": True,
        "label": "a pandemic in year 2 (12 months, severity 0.8)",
        "when": "a pandemic strikes in year 2",
    },
    "high_demands": {
        "turnover": 1.0,
        "set": {"time.competing_demands": 0.75},
        "label": "high competing demands",
        "when": "competing demands are high",
    },
}


@dataclass(frozen=True)
class Plan:
    name: str
    description: str
    params: Params
    path: Path | None = None


def load_plan(path: str | Path, base: Params | None = None) -> Plan:
    """A plan: a scenario file (or bundled name) whose sections change a base scenario.

    The base is the one the file's ``base`` line names, else ``base``, else
    the bundled baseline.  The plan is named by the file's ``name`` line,
    else by its file name.  Raises ParameterError for any bad input.
    """
    params = load_scenario(path, base if base is not None else load_scenario("baseline"))
    file = Path(params.source or path)
    return Plan(name=params.title or file.stem, description=params.description, params=params, path=file)


def under_condition(params: Params, condition: str) -> Params:
    """The plan's parameters under a named condition."""
    spec = CONDITIONS[condition]
    overrides = {k: min(params[k] * spec["turnover"], 0.6) for k in TURNOVER_KEYS}
    overrides.update(spec.get("set", {}))
    changed = params.with_overrides(overrides, where=f"condition {condition}")
    if spec.get("shock"):
        from improvesim.sim.params import Shock

        shocks = params.shocks + (Shock("pandemic", 12, 12, 0.8),)
        changed = replace(changed, shocks=shocks)
    return changed


def simulate_in_batches(params: list[Params], seeds: list[int]):
    """Run i of ``params`` (one Params per run) on ``seeds[i]``, in batches of the engine's size."""
    parts = [
        simulate(params[i : i + DEFAULT_BATCH], seeds[i : i + DEFAULT_BATCH])
        for i in range(0, len(params), DEFAULT_BATCH)
    ]
    return concatenate(parts)


@dataclass
class Comparison:
    plans: list[Plan]
    conditions: list[str]
    replicates: int
    seed: int
    schools: int
    years: int
    outcome: str = "institutionalized"
    trajectories: dict = field(default_factory=dict)  # (condition, plan) -> {outcome: (R, T)}
    at_years: dict = field(default_factory=dict)  # (condition, plan) -> {outcome: {year: (R,)}}
    budgets: dict = field(default_factory=dict)  # (condition, plan) -> Budget
    seeds: dict = field(default_factory=dict)  # (condition, plan) -> seeds

    @property
    def reference(self) -> str:
        return self.plans[0].name

    @property
    def years_shown(self) -> list[int]:
        """The years of :data:`YEARS` within the horizon, and the horizon."""
        return sorted({y for y in YEARS if y <= self.years} | {self.years})

    def effect(self, condition: str, plan: str, year: int | None = None) -> np.ndarray:
        """(R,) the decision outcome of a plan at ``year`` (default: the horizon)."""
        return self.at_years[(condition, plan)][self.outcome][year or self.years]

    def cash(self, condition: str, plan: str) -> np.ndarray:
        """(R,) the plan's cash cost over the horizon."""
        return self.budgets[(condition, plan)].total.sum(axis=1)

    def stacked(self, condition: str) -> tuple[np.ndarray, np.ndarray]:
        """(P, R) decision outcome at the horizon and cash cost of every plan, paired by replicate."""
        names = [p.name for p in self.plans]
        return (
            np.stack([self.effect(condition, n) for n in names]),
            np.stack([self.cash(condition, n) for n in names]),
        )


def outcome_values(result, outcome: str, schools: int) -> np.ndarray:
    """(R, T) one of :data:`OUTCOMES` from a simulation result."""
    _, metrics, in_schools = OUTCOMES[outcome]
    values = sum(result.metric(m) for m in metrics)
    return values * schools if in_schools else values


def compare(
    plans: list[Plan],
    conditions: list[str],
    replicates: int,
    seed: int,
    outcome: str = "institutionalized",
    posterior=None,
) -> Comparison:
    """Run every plan under every condition on the same seeds; keep each outcome at years 3, 5, 10 and
    the horizon, and each plan's budget.  Raises ParameterError when the plans cannot be compared.

    With ``posterior``, replicate r of every plan and condition draws the same particle (its seed
    decides), except constants a plan sets to a value other than the default (they keep the plan's
    value); the budget reads each replicate's own Params, so every probability is over paired
    replicates and posterior draws alike."""
    schools = {int(p.params["district.schools"]) for p in plans}
    years = {int(p.params["run.years"]) for p in plans}
    if len(schools) > 1 or len(years) > 1:
        raise ParameterError("plans must share district.schools and run.years to be compared", "plans")
    if min(years) < YEARS[0]:
        raise ParameterError(
            f"got {min(years)}; allowed: at least {YEARS[0]} years (plans are compared at years "
            f"{', '.join(map(str, YEARS))})",
            str(plans[0].path or plans[0].name),
            "run.years",
        )
    comp = Comparison(plans, conditions, replicates, seed, schools.pop(), years.pop(), outcome)
    for condition in conditions:
        for plan in plans:
            params = under_condition(plan.params, condition)
            pinned = pinned_constants(posterior, plan.params) if posterior is not None else ()
            result = run_replicates(params, replicates, seed, posterior=posterior, pinned=pinned)
            key = (condition, plan.name)
            comp.seeds[key] = result.seeds
            values = {o: outcome_values(result, o, comp.schools) for o in OUTCOMES}
            comp.trajectories[key] = {o: values[o] for o in TRAJECTORY_METRICS}
            comp.at_years[key] = {o: {y: v[:, 12 * y - 1] for y in comp.years_shown} for o, v in values.items()}
            comp.budgets[key] = budget(list(result.params), {m: result.metric(m) for m in RECORDED})
    return comp


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    lo, hi = np.percentile(values, [5, 95])
    return float(values.mean()), float(lo), float(hi)


def outcomes_table(comp: Comparison) -> pd.DataFrame:
    """Every outcome of :data:`OUTCOMES` at years 3, 5, 10 (and the horizon), with 90% intervals."""
    rows = []
    for (condition, plan), metrics in comp.at_years.items():
        for outcome, by_year in metrics.items():
            for year, values in by_year.items():
                mean, lo, hi = _interval(values)
                rows.append(
                    {"condition": condition, "plan": plan, "year": year, "outcome": outcome}
                    | {"mean": mean, "p05": lo, "p95": hi}
                )
    return pd.DataFrame(rows)


def differences_table(comp: Comparison) -> pd.DataFrame:
    """Each plan minus the reference plan, run by run on common seeds, on the decision outcome."""
    rows = []
    for condition in comp.conditions:
        for plan in comp.plans[1:]:
            for year in comp.years_shown:
                diff = comp.effect(condition, plan.name, year) - comp.effect(condition, comp.reference, year)
                mean, lo, hi = _interval(diff)
                rows.append(
                    {"condition": condition, "plan": plan.name, "year": year, "outcome": comp.outcome}
                    | {"difference": mean, "p05": lo, "p95": hi}
                )
    return pd.DataFrame(rows)


def best_table(comp: Comparison) -> pd.DataFrame:
    """Probability that each plan is the best on the decision outcome at the horizon, per condition."""
    rows = []
    for condition in comp.conditions:
        effect, _ = comp.stacked(condition)
        for plan, p in zip(comp.plans, probability_best(effect), strict=True):
            rows.append({"condition": condition, "plan": plan.name, "outcome": comp.outcome, "probability_best": p})
    return pd.DataFrame(rows)


def pairwise_table(comp: Comparison) -> pd.DataFrame:
    """For every ordered pair of plans and condition: the probability that plan A beats plan B on the
    decision outcome at the horizon (strictly more), that they tie, and the paired mean difference."""
    rows = []
    for condition in comp.conditions:
        effect, cash = comp.stacked(condition)
        beats = pairwise_beats(effect)
        for a, plan_a in enumerate(comp.plans):
            for b, plan_b in enumerate(comp.plans):
                if a != b:
                    rows.append(
                        {
                            "condition": condition,
                            "plan": plan_a.name,
                            "other": plan_b.name,
                            "probability_beats": beats[a, b],
                            "probability_tie": 1.0 - beats[a, b] - beats[b, a],
                            "mean_difference": float((effect[a] - effect[b]).mean()),
                            "extra_cost": float((cash[a] - cash[b]).mean()),
                        }
                    )
    return pd.DataFrame(rows)


def costs_table(comp: Comparison) -> pd.DataFrame:
    """Cash over the horizon per plan (grant, district), integrated time's value, and the cost per
    additional school (decision outcome) against the reference with its bootstrap interval."""
    rows = []
    boot_seed = derive_seeds(comp.seed, 1, salt="bootstrap")[0]
    for condition in comp.conditions:
        for plan in comp.plans:
            b: Budget = comp.budgets[(condition, plan.name)]
            cash = b.total.sum(axis=1)
            mean, lo, hi = _interval(cash)
            row = {
                "condition": condition,
                "plan": plan.name,
                "years": comp.years,
                "total_cost": mean,
                "total_cost_p05": lo,
                "total_cost_p95": hi,
                "grant_funded": float(b.grant.sum(axis=1).mean()),
                "district_funded": float(b.district.sum(axis=1).mean()),
                "integrated_time_value": float(b.opportunity.sum(axis=1).mean()),
            }
            if plan.name != comp.reference:
                per = cost_per_additional(
                    cash - comp.cash(condition, comp.reference),
                    comp.effect(condition, plan.name) - comp.effect(condition, comp.reference),
                    boot_seed,
                )
                row |= {
                    "extra_cost": per.extra_cost,
                    "extra_schools": per.extra_effect,
                    "verdict": per.verdict,
                    "cost_per_additional_school": per.ratio,
                    "cost_per_school_p05": per.low,
                    "cost_per_school_p95": per.high,
                }
            rows.append(row)
    return pd.DataFrame(rows)


def budget_table(comp: Comparison) -> pd.DataFrame:
    """Mean dollars per plan, condition, year and line: each cash item, grant, district, total, and
    the value of integrated time (not cash)."""
    rows = []
    for (condition, plan), b in comp.budgets.items():
        lines = {**b.items, "grant_funded": b.grant, "district_funded": b.district, "total_cash": b.total}
        lines["integrated_time_value"] = b.opportunity
        for line, values in lines.items():
            for year, amount in enumerate(values.mean(axis=0), start=1):
                rows.append(
                    {"condition": condition, "plan": plan, "year": year, "line": line, "dollars": float(amount)}
                )
    return pd.DataFrame(rows)


def acceptability_table(comp: Comparison, wtp: np.ndarray | None = None) -> pd.DataFrame:
    """The acceptability curve per condition: for each willingness to pay per additional school
    (dollars; default :func:`wtp_grid` of each condition in turn, so that each curve reaches twice that
    condition's largest cost per additional school), the probability that each plan has the
    highest net benefit.  Raises ValueError for a grid that is not strictly increasing."""
    rows = []
    for condition in comp.conditions:
        effect, cash = comp.stacked(condition)
        grid = wtp_grid(cash, effect) if wtp is None else wtp
        curve = acceptability(effect, cash, grid)
        for w, probs in zip(grid, curve, strict=True):
            for plan, p in zip(comp.plans, probs, strict=True):
                rows.append({"condition": condition, "wtp": float(w), "plan": plan.name, "probability_best_buy": p})
    return pd.DataFrame(rows)
