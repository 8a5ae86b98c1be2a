"""End-of-run outcomes: one number per run, for sweeps and sensitivity analysis.

Every district metric (:data:`sim.outcomes.DISTRICT_METRICS`) at the final
month, plus outcomes at fixed horizons and times to events.  An outcome that
is undefined in a run (a horizon beyond the run's years, no school ever
institutionalized) is NaN, never silently dropped; analyses report how
often it is defined.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from improvesim.sim.engine import SimulationResult
from improvesim.sim.outcomes import DISTRICT_METRICS
from improvesim.sim.state import Authenticity

#: Outcomes at the end of given years (NaN when the run is shorter).
HORIZON_OUTCOMES: dict[str, tuple[str, int]] = {
    "institutionalized_share_y3": ("institutionalized_share", 3),
    "institutionalized_share_y5": ("institutionalized_share", 5),
    "institutionalized_share_y10": ("institutionalized_share", 10),
    "authentic_share_y3": ("authentic_share", 3),
    "authentic_share_y5": ("authentic_share", 5),
    "authentic_share_y10": ("authentic_share", 10),
    "faded_share_y10": ("faded_share", 10),
    "engaged_share_y5": ("engaged_share", 5),
    "cost_total_y5": ("cost_total", 5),
}

#: Outcomes over the participating schools (0 when none participate), as the
#: case studies count them: (meaning, per-school test on the result).
PARTICIPANT_OUTCOMES: dict[str, tuple[str, Callable[[SimulationResult], np.ndarray]]] = {
    "authentic_among_participants": (
        "share of participating schools authentic at the final month",
        lambda r: r.final_authenticity == Authenticity.AUTHENTIC,
    ),
    "at_least_partial_among_participants": (
        "share of participating schools at least partially authentic at the final month",
        lambda r: r.final_authenticity >= Authenticity.PARTIAL,
    ),
    "authentic_every_year_among_participants": (
        "share of participating schools that ended every school year of the run authentic",
        lambda r: r.authentic_years >= r.district.shape[1] // 12,
    ),
}

#: What each district metric measures (its value at a month; the ODD's "Observation" defines each exactly).
METRIC_MEANINGS: dict[str, str] = {
    "invited_share": "share of the district's schools invited to take part so far",
    "engaged_share": "share of schools engaged in the work this month",
    "paused_share": "share of schools that joined and have paused the work",
    "opted_out_share": "share of schools that declined the invitation or left the work",
    "not_invited_share": "share of schools not yet invited",
    "authentic_share": "share of schools practising all six principles of improvement science",
    "partial_share": "share of schools practising some but not all six principles, or using the tools",
    "inauthentic_share": "share of invited schools practising none of the principles and not using the tools",
    "institutionalized_share": "share of schools institutionalized (entered through the institutionalization hazard, not lost)",
    "ever_institutionalized_share": "share of schools institutionalized at some month so far",
    "problem_focused_share": "share of schools practising the problem-focused, user-centred principle",
    "variability_share": "share of schools practising attention to variability",
    "system_share": "share of schools practising seeing the system",
    "measurement_share": "share of schools practising measurement (embracing measurement)",
    "inquiry_share": "share of schools practising disciplined inquiry",
    "networks_share": "share of schools practising organizing as networks",
    "tool_use_share": "share of schools using the improvement tools (diagrams, templates)",
    "faded_share": "share of schools once authentic that have not been for the last 6 months or more",
    "share_with_6mo_disengagement": "of the schools that joined, the share that has had a 6-month paused or opted-out spell",
    "mean_commitment": "mean commitment of school teams (0-1)",
    "mean_skill": "mean improvement-science skill of school teams (0-1)",
    "mean_embeddedness": "mean embeddedness of the work in schools' routines (0-1)",
    "deep_bench": "groomed successors (deep bench) per school",
    "knowledge_base": "the hub's documented knowledge (0-1)",
    "message": "the message schools feel from the central office, a stock (0-1)",
    "priority": "the priority the central office gives improvement (0-1)",
    "coaches_in_post": "coach positions that exist and are filled",
    "visits_planned": "coaching visits planned this month (0 in summer)",
    "visits_delivered": "coaching visits delivered this month",
    "convening": "1 in a month with a network convening, else 0",
    "cycles_done": "PDSA cycles completed so far, over all schools",
    "cycles_succeeded": "PDSA cycles that succeeded so far, over all schools",
    "leader_changes": "central-office leaders (superintendents) who have arrived so far",
    "pandemic": "severity of a pandemic shock this month (0 when none)",
    "cost_month": "the district's cost of the improvement work this month (US dollars)",
    "cost_total": "cumulative cost since the start (US dollars)",
}

#: Every end-of-run outcome name with its meaning.
OUTCOMES: dict[str, str] = {
    **{name: f"{METRIC_MEANINGS[name]}, at the final month" for name in DISTRICT_METRICS},
    **{
        name: f"{METRIC_MEANINGS[metric]}, at the end of year {year} (NaN if the run is shorter)"
        for name, (metric, year) in HORIZON_OUTCOMES.items()
    },
    "time_to_first_institutionalization": "months to the first institutionalized school (NaN if none)",
    "median_time_to_institutionalization": (
        "median months from invitation to institutionalization over the schools that got there (NaN if none)"
    ),
    "participating_share": "share of schools that accepted their invitation (participating schools)",
    **{name: meaning for name, (meaning, _) in PARTICIPANT_OUTCOMES.items()},
}


def end_of_run_outcomes(result: SimulationResult) -> dict[str, np.ndarray]:
    """Every outcome in :data:`OUTCOMES` as an (R,) array."""
    months = result.district.shape[1]
    out = {name: result.district[:, -1, j] for j, name in enumerate(DISTRICT_METRICS)}
    for name, (metric, year) in HORIZON_OUTCOMES.items():
        month = 12 * year - 1
        out[name] = result.metric(metric)[:, month] if month < months else np.full(len(result.seeds), np.nan)
    first = result.first_institutionalized
    out["time_to_first_institutionalization"] = result.time_to_first_institutionalization
    out["median_time_to_institutionalization"] = _median_time(first, result.invited_month)
    joined = result.joined
    out["participating_share"] = joined.mean(axis=1)
    participants = np.maximum(joined.sum(axis=1), 1)
    for name, (_, school_test) in PARTICIPANT_OUTCOMES.items():
        out[name] = (school_test(result) & joined).sum(axis=1) / participants
    return out


def _median_time(first: np.ndarray, invited: np.ndarray) -> np.ndarray:
    reached = first >= 0
    months = np.where(reached, first - invited + 1, np.nan).astype(np.float64)
    out = np.full(first.shape[0], np.nan)
    has = reached.any(axis=1)
    out[has] = np.nanmedian(months[has], axis=1)
    return out


def yearly_series(result: SimulationResult) -> np.ndarray:
    """District metrics at the end of each year, (R, years, len(DISTRICT_METRICS))."""
    months = result.district.shape[1]
    return result.district[:, 11:months:12, :]
