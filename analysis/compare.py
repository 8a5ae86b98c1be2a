"""Plan comparison for district planners: outcomes, differences, costs, robustness.

Every plan is run on the same replicate seeds (common random numbers), so
plan B's replicate r meets the same turnover draws, the same decisions'
dice, as plan A's replicate r; the difference between plans is then
computed run by run (paired), and its interval is not swamped by the noise
that is common to both.  Intervals are 90% (5th to 95th percentile over
replicates).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from improvesim.sim.engine import run_replicates
from improvesim.sim.params import ParameterError, Params, load_scenario
from improvesim.sim.posterior import pinned_constants

YEARS = (3, 5, 10)
TRAJECTORY_METRICS = ("institutionalized_share", "authentic_share", "engaged_share")
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


@dataclass
class Comparison:
    plans: list[Plan]
    conditions: list[str]
    replicates: int
    seed: int
    schools: int
    years: int
    trajectories: dict = field(default_factory=dict)  # (condition, plan) -> {metric: (R, T)}
    at_years: dict = field(default_factory=dict)  # (condition, plan) -> {metric: {year: (R,)}}
    seeds: dict = field(default_factory=dict)  # (condition, plan) -> seeds

    @property
    def reference(self) -> str:
        return self.plans[0].name


def compare(plans: list[Plan], conditions: list[str], replicates: int, seed: int, posterior=None) -> Comparison:
    """Run every plan under every condition on the same seeds.

    With ``posterior``, replicate r of every plan and condition draws the
    same particle (its seed decides), except constants a plan sets to a
    value other than the default (they keep the plan's value).
    """
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
    comp = Comparison(plans, conditions, replicates, seed, schools.pop(), years.pop())
    for condition in conditions:
        for plan in plans:
            params = under_condition(plan.params, condition)
            pinned = pinned_constants(posterior, plan.params) if posterior is not None else ()
            result = run_replicates(params, replicates, seed, posterior=posterior, pinned=pinned)
            key = (condition, plan.name)
            comp.seeds[key] = result.seeds
            comp.trajectories[key] = {m: result.metric(m) for m in TRAJECTORY_METRICS}
            comp.at_years[key] = {
                m: {y: result.metric(m)[:, 12 * y - 1] for y in YEARS if 12 * y <= result.district.shape[1]}
                for m in (*TRAJECTORY_METRICS, "cost_total")
            }
    return comp


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    lo, hi = np.percentile(values, [5, 95])
    return float(values.mean()), float(lo), float(hi)


def outcomes_table(comp: Comparison) -> pd.DataFrame:
    """Institutionalized, authentic and engaged schools at years 3, 5 and 10, with 90% intervals."""
    rows = []
    for (condition, plan), metrics in comp.at_years.items():
        for metric in TRAJECTORY_METRICS:
            for year, values in metrics[metric].items():
                mean, lo, hi = _interval(values * comp.schools)
                rows.append(
                    {
                        "condition": condition,
                        "plan": plan,
                        "year": year,
                        "outcome": metric.replace("_share", "_schools"),
                        "mean": mean,
                        "p05": lo,
                        "p95": hi,
                    }
                )
    return pd.DataFrame(rows)


def differences_table(comp: Comparison) -> pd.DataFrame:
    """Each plan minus the reference plan, run by run on common seeds: schools institutionalized."""
    rows = []
    for condition in comp.conditions:
        ref = comp.at_years[(condition, comp.reference)]["institutionalized_share"]
        for plan in comp.plans[1:]:
            mine = comp.at_years[(condition, plan.name)]["institutionalized_share"]
            for year in ref:
                diff = (mine[year] - ref[year]) * comp.schools
                mean, lo, hi = _interval(diff)
                rows.append(
                    {
                        "condition": condition,
                        "plan": plan.name,
                        "year": year,
                        "extra_institutionalized_schools": mean,
                        "p05": lo,
                        "p95": hi,
                    }
                )
    return pd.DataFrame(rows)


def costs_table(comp: Comparison) -> pd.DataFrame:
    """Total cost per plan over the horizon, and cost per additional institutionalized school."""
    rows = []
    final = max(comp.at_years[(comp.conditions[0], comp.reference)]["cost_total"])
    for condition in comp.conditions:
        ref = comp.at_years[(condition, comp.reference)]
        for plan in comp.plans:
            mine = comp.at_years[(condition, plan.name)]
            cost, cost_lo, cost_hi = _interval(mine["cost_total"][final])
            extra_cost = float((mine["cost_total"][final] - ref["cost_total"][final]).mean())
            extra_schools = float(
                ((mine["institutionalized_share"][final] - ref["institutionalized_share"][final]) * comp.schools).mean()
            )
            per_school = extra_cost / extra_schools if plan.name != comp.reference and extra_schools > 0.05 else np.nan
            rows.append(
                {
                    "condition": condition,
                    "plan": plan.name,
                    "year": final,
                    "total_cost": cost,
                    "total_cost_p05": cost_lo,
                    "total_cost_p95": cost_hi,
                    "extra_cost": extra_cost,
                    "extra_institutionalized_schools": extra_schools,
                    "cost_per_additional_school": per_school,
                }
            )
    return pd.DataFrame(rows)


def winners(comp: Comparison, year: int) -> pd.DataFrame:
    """Which plan institutionalizes most schools by ``year`` under each condition."""
    rows = []
    for condition in comp.conditions:
        means = {
            p.name: float(comp.at_years[(condition, p.name)]["institutionalized_share"][year].mean()) * comp.schools
            for p in comp.plans
        }
        best = max(means, key=means.get)
        rows.append({"condition": condition, "year": year, "winner": best, "institutionalized_schools": means[best]})
    return pd.DataFrame(rows)


def _money(x: float) -> str:
    return f"${x:,.0f}" if abs(x) < 1e6 else f"${x / 1e6:,.1f} million"


def summary_sentences(comp: Comparison, differences: pd.DataFrame, costs: pd.DataFrame) -> list[str]:
    """Plain-language findings, one per plan, for the top of the report."""
    typical = "typical" if "typical" in comp.conditions else comp.conditions[0]
    year = final = int(costs["year"].max())
    lines = []
    for plan in comp.plans[1:]:
        d = differences[
            (differences.condition == typical) & (differences.plan == plan.name) & (differences.year == year)
        ].iloc[0]
        c = costs[(costs.condition == typical) & (costs.plan == plan.name)].iloc[0]
        n, lo, hi = d["extra_institutionalized_schools"], d["p05"], d["p95"]
        verb = "more" if n >= 0 else "fewer"
        text = (
            f"**{plan.name}** institutionalizes {abs(n):.1f} {verb} schools (90% interval {lo:+.1f} to {hi:+.1f}) "
            f"than {comp.reference} by year {year}"
        )
        if lo > 0:
            text += ", a gain the replicates agree on (its 90% interval is above zero)"
        elif hi < 0:
            text += ", a loss the replicates agree on"
        elif lo == hi == 0:
            text += ": no difference"
        else:
            text += ", a difference the replicates cannot tell from zero"
        extra = c["extra_cost"]
        if np.isfinite(c["cost_per_additional_school"]):
            text += (
                f"; over {final} years it costs {_money(extra)} {'more' if extra >= 0 else 'less'}, about "
                f"{_money(c['cost_per_additional_school'])} per additional institutionalized school"
            )
        else:
            text += f"; over {final} years it costs {_money(abs(extra))} {'more' if extra >= 0 else 'less'}"
        robust = []
        for condition in comp.conditions:
            if condition == typical:
                continue
            dc = differences[
                (differences.condition == condition) & (differences.plan == plan.name) & (differences.year == year)
            ].iloc[0]
            robust.append(
                f"{'still ahead' if dc['extra_institutionalized_schools'] > 0 else 'not ahead'} "
                f"when {CONDITIONS[condition]['when']} ({dc['extra_institutionalized_schools']:+.1f})"
            )
        if robust:
            text += "; it is " + ", and ".join(robust)
        lines.append(text + ".")
    return lines
