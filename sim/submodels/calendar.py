"""Calendar and shocks: the school year, the testing season, disruptions.

Month 0 is August.  June and July (months 10 and 11 of the school year) are
summer: schools are closed, no improvement work or visits happen, and most
staff exits happen then.  April and May are the testing season.  A shock of
kind "pandemic" raises demands, weakens coaching (virtual visits), cancels
convenings and raises turnover; "hub_loss" removes central-office hub
capacity (seed 003: capacity lost in year 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.state import ParamVectors, State, clip01

SUMMER = (10, 11)
TESTING = (8, 9)
SCHOOL_MONTHS = 10
PANDEMIC, HUB_LOSS = 0, 1
#: Extra demand a full-severity pandemic puts on schools (share of the protected time).
PANDEMIC_DEMAND = 0.3
#: Extra demand while a competing central-office initiative runs.
INITIATIVE_DEMAND = 0.15


@dataclass(frozen=True)
class Calendar:
    """What this month is like: the time of year, shocks and pressure on schools."""

    month: int
    summer: bool
    testing: bool
    pandemic: np.ndarray  # (R, 1) severity of a pandemic shock now, 0-1
    hub_loss: np.ndarray  # (R,) severity of hub capacity loss now, 0-1
    grant_active: np.ndarray  # (R,) the coaching grant still pays
    pressure: np.ndarray  # (R, S) competing demands on each school, 0-1


def month_of_year(month: int) -> int:
    return month % 12


def active_severity(pv: ParamVectors, month: int, kind: int) -> np.ndarray:
    """Severity (R,) of the strongest shock of ``kind`` under way in ``month``."""
    on = (pv.shock_start <= month) & (month < pv.shock_end) & (pv.shock_kind == kind)
    return np.where(on, pv.shock_severity, 0.0).max(axis=1)


def _shock_timeline(pv: ParamVectors, kind: int) -> list[np.ndarray | None]:
    """Severity (R,) of each month's shocks of ``kind``, None in months without any."""
    months = pv.params[0].months
    timeline = [active_severity(pv, m, kind) for m in range(months)]
    return [sev if sev.any() else None for sev in timeline]


def calendar_and_shocks(st: State, pv: ParamVectors, month: int) -> Calendar:
    """Work out the month: time of year, shocks under way, competing demands."""
    moy = month_of_year(month)
    testing = moy in TESTING
    pandemic = pv.cached("pandemic", lambda pv: _shock_timeline(pv, PANDEMIC))[month]
    hub_loss = pv.cached("hub_loss", lambda pv: _shock_timeline(pv, HUB_LOSS))[month]
    zeros = pv.cached("zeros", lambda pv: np.zeros(len(pv.params)))
    pandemic = zeros if pandemic is None else pandemic
    st.shock[:] = pandemic
    pressure = pv["time.competing_demands"] * st.demand_mult
    if testing:
        pressure = pressure + pv["time.testing_load"]
    if pandemic is not zeros:
        pressure = pressure + PANDEMIC_DEMAND * pandemic[:, None]
    initiative = st.initiative_months > 0
    if initiative.any():
        pressure = pressure + INITIATIVE_DEMAND * initiative[:, None]
    return Calendar(
        month=month,
        summer=moy in SUMMER,
        testing=testing,
        pandemic=pandemic[:, None],
        hub_loss=zeros if hub_loss is None else hub_loss,
        grant_active=month < pv.cached("grant_months", lambda pv: 12 * pv.col("coaching.funded_years")),
        pressure=clip01(pressure),
    )


def convening_months(per_year: np.ndarray) -> np.ndarray:
    """(R, 12) table: which months of the school year hold a convening.

    ``n`` convenings are spread evenly over the ten school months.
    """
    table = np.zeros((per_year.shape[0], 12), dtype=bool)
    for r, n in enumerate(per_year.astype(int)):
        for i in range(n):
            table[r, int((i + 0.5) * SCHOOL_MONTHS / n)] = True
    return table
