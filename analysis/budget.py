"""A plan's district budget, year by year: cost items a budget office recognises.

Computed from what the engine records every month (coaches in post,
convenings held, engaged and paused schools, groomed successors) and the
unit costs of the ``costs.*`` parameters, so the model itself is untouched:

========================  =========================================================  ======
item                      quantity x unit cost                                        funder
========================  =========================================================  ======
coach salaries            coaches in post x costs.coach_wage / 12                     grant while the grant pays for the position, then district
coach benefits            coach salaries x costs.benefits_rate                        as salaries
coach training            coaches hired x costs.coach_training                        as salaries
coach contracts           external coaches in post x costs.external_coach_daily       as salaries
                          x costs.coach_days / 12
substitutes (release)     added protected hours x team members x engaged schools      district
                          / costs.substitute_day_hours x costs.substitute_daily
                          (school months; the share 1 - time.integrated)
lead stipends             engaged schools x costs.lead_stipend / 12                   district
data systems              engaged and paused schools x costs.data_system / 12         district
convenings                held x (costs.convening + attendees x                       district
                          (costs.convening_attendee + costs.substitute_daily))
                          with attendees = engaged schools x costs.attendees_per_school
hub staff                 knowledge.hub_staff x costs.hub_salary / 12                 district
successor stipends        groomed successors x costs.successor_stipend / 12           district
========================  =========================================================  ======

External coaches (``coaching.model = "external"``) are billed by the day,
all costs included: their contracts replace the salary, benefits and
training lines, which are zero for them; hired and internal coaches are
paid salary and benefits.

Integrated time (the share ``time.integrated`` of protected hours, folded
into meetings teachers already hold) costs no cash: it displaces other work,
valued at ``costs.staff_hourly``, and is reported apart as an opportunity cost.

The grant's share of the coach items is the grant's share of the coach
positions, ``round(coaching.grant_share x coaching.coaches) / coaching.coaches``,
while the grant runs (``coaching.funded_years``); after it, the positions the
district keeps (``coaching.retained_after_grant``) are on its own budget.
Coach hires are counted from the monthly coaches in post (the first coaches,
and every month's rise): a coach who leaves and is replaced within the same
month is not seen, so training is a lower bound.

This budget is the cost basis of ``improvesim compare``; the engine's own
``cost_total`` (sweeps, ``frontier``) remains its simpler running cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from improvesim.sim.params import Params
from improvesim.sim.structure import MONTHS_PER_YEAR, SUMMER

#: Cash items, in the order the report lists them: key -> label.
CASH_ITEMS: dict[str, str] = {
    "coach_salaries": "Coach salaries",
    "coach_benefits": "Coach benefits",
    "coach_training": "Coach training",
    "coach_contracts": "External coach contracts (day rate)",
    "substitutes": "Substitutes for protected time",
    "lead_stipends": "Improvement lead stipends",
    "data_systems": "Data systems",
    "convenings": "Convenings (venue, attendees, their substitutes)",
    "hub_staff": "Hub staff (salary and benefits)",
    "successor_stipends": "Successor stipends (deep bench)",
}
#: Cash items the grant pays a share of (the coach positions).
GRANT_ITEMS = ("coach_salaries", "coach_benefits", "coach_training", "coach_contracts")
#: District metrics the budget reads, (R, T) each.
RECORDED = ("coaches_in_post", "convening", "engaged_share", "paused_share", "deep_bench")


@dataclass(frozen=True)
class Budget:
    """A plan's budget per replicate and year: ``items`` maps each of :data:`CASH_ITEMS` to (R, Y)
    dollars; ``grant`` (R, Y) is the grant-funded part of them; ``opportunity`` (R, Y) the value of the
    integrated time (not cash)."""

    items: dict[str, np.ndarray]
    grant: np.ndarray
    opportunity: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """(R, Y) cash dollars."""
        return sum(self.items.values())

    @property
    def district(self) -> np.ndarray:
        """(R, Y) cash dollars on the district's own budget."""
        return self.total - self.grant


def _col(params: list[Params], name: str) -> np.ndarray:
    """(R, 1) the parameter ``name`` of each replicate."""
    return np.array([float(p[name]) for p in params])[:, None]


def _by_year(monthly: np.ndarray) -> np.ndarray:
    """(R, T) monthly amounts -> (R, T // 12) yearly sums."""
    runs, months = monthly.shape
    return monthly[:, : months - months % MONTHS_PER_YEAR].reshape(runs, -1, MONTHS_PER_YEAR).sum(axis=2)


def budget(params: list[Params], recorded: dict[str, np.ndarray]) -> Budget:
    """The budget of R replicates: ``params`` (one Params per replicate, as they were run) and
    ``recorded`` mapping each of :data:`RECORDED` to its (R, T) monthly district metric."""
    col = lambda name: _col(params, name)  # noqa: E731
    schools = col("district.schools")
    team = col("district.team_size")
    months = recorded["coaches_in_post"].shape[1]
    school_month = ~np.isin(np.arange(months) % MONTHS_PER_YEAR, SUMMER)[None, :]
    coaches = recorded["coaches_in_post"].astype(float)
    engaged = recorded["engaged_share"] * schools
    taking_part = (recorded["engaged_share"] + recorded["paused_share"]) * schools
    member_hours = engaged * col("time.protected_hours") * team * school_month
    integrated = col("time.integrated")
    hires = np.concatenate([coaches[:, :1], np.maximum(np.diff(coaches, axis=1), 0.0)], axis=1)
    attendees = engaged * col("costs.attendees_per_school")
    external = np.array([p["coaching.model"] == "external" for p in params])[:, None]
    employed = np.where(external, 0.0, coaches)
    wages = employed * col("costs.coach_wage") / MONTHS_PER_YEAR
    monthly = {
        "coach_salaries": wages,
        "coach_benefits": wages * col("costs.benefits_rate"),
        "coach_training": np.where(external, 0.0, hires) * col("costs.coach_training"),
        "coach_contracts": np.where(external, coaches, 0.0)
        * col("costs.external_coach_daily")
        * col("costs.coach_days")
        / MONTHS_PER_YEAR,
        "substitutes": member_hours
        * (1 - integrated)
        / col("costs.substitute_day_hours")
        * col("costs.substitute_daily"),
        "lead_stipends": engaged * col("costs.lead_stipend") / MONTHS_PER_YEAR,
        "data_systems": taking_part * col("costs.data_system") / MONTHS_PER_YEAR,
        "convenings": recorded["convening"]
        * (col("costs.convening") + attendees * (col("costs.convening_attendee") + col("costs.substitute_daily"))),
        "hub_staff": np.broadcast_to(
            col("knowledge.hub_staff") * col("costs.hub_salary") / MONTHS_PER_YEAR, wages.shape
        ),
        "successor_stipends": recorded["deep_bench"] * schools * col("costs.successor_stipend") / MONTHS_PER_YEAR,
    }
    grant_months = np.arange(months)[None, :] < MONTHS_PER_YEAR * col("coaching.funded_years")
    positions = col("coaching.coaches")
    grant_share = np.where(
        positions > 0, np.round(col("coaching.grant_share") * positions) / np.maximum(positions, 1), 0
    )
    grant = sum(monthly[k] for k in GRANT_ITEMS) * grant_share * grant_months
    return Budget(
        items={k: _by_year(v) for k, v in monthly.items()},
        grant=_by_year(grant),
        opportunity=_by_year(member_hours * integrated * col("costs.staff_hourly")),
    )
