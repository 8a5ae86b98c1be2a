"""Calendar and shocks: the school year, the testing season, disruptions.

Month 0 is August.  June and July (months 10 and 11 of the school year) are
summer: schools are closed, no improvement work or visits happen, and most
staff exits happen then.  April and May are the testing season.  A shock of
kind "pandemic" raises demands, weakens coaching (virtual visits), cancels
convenings and raises turnover; "hub_loss" removes central-office hub
capacity (seed 003: capacity lost in year 3).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.state import ParamVectors, State, anything, clip01, recall

SUMMER = (10, 11)
TESTING = (8, 9)
SCHOOL_MONTHS = 10
PANDEMIC, HUB_LOSS = 0, 1
#: Extra demand a full-severity pandemic puts on schools (share of the protected time).
PANDEMIC_DEMAND = 0.3
#: Extra demand while a competing central-office initiative runs.
INITIATIVE_DEMAND = 0.15


class Calendar(NamedTuple):
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
    """Severity (R,) of each month's shocks of ``kind``, None in months without any.

    The same as :func:`active_severity` month by month, for all months at once.
    """
    months = np.arange(pv.params[0].months)[:, None, None]  # (T, 1, 1) against (R, n) shocks
    on = (pv.shock_start <= months) & (months < pv.shock_end) & (pv.shock_kind == kind)
    timeline = np.where(on, pv.shock_severity, 0.0).max(axis=2)  # (T, R)
    return [sev if any_ else None for sev, any_ in zip(timeline, timeline.any(axis=1), strict=True)]


def _calm_pressure(st: State, pv: ParamVectors, testing: bool) -> np.ndarray:
    """Pressure (R, S) in a month without a pandemic or a competing initiative
    (read-only), reused while the school demands are unchanged."""

    def compute():
        pressure = pv["time.competing_demands"] * st.demand_mult
        if testing:
            pressure = pressure + pv["time.testing_load"]
        pressure = clip01(pressure)
        pressure.flags.writeable = False
        return pressure

    return recall(st, ("calm_pressure", pv, testing), (st.demand_mult,), compute)


def _calendar_tables(pv: ParamVectors) -> tuple:
    """Per-run constants of the calendar, month by month: pandemic and hub loss
    severities (None in months without), whether the grant still pays, zeros."""
    months = pv.params[0].months
    grant_months = 12 * pv.col("coaching.funded_years")
    zeros = np.zeros(len(pv.params))
    return (
        _shock_timeline(pv, PANDEMIC),
        _shock_timeline(pv, HUB_LOSS),
        list(np.arange(months)[:, None] < grant_months),  # (R,) rows, month by month
        zeros,
        zeros[:, None],
    )


def calendar_and_shocks(st: State, pv: ParamVectors, month: int) -> Calendar:
    """Work out the month: time of year, shocks under way, competing demands."""
    moy = month_of_year(month)
    testing = moy in TESTING
    pandemic_by_month, hub_loss_by_month, grant_by_month, zeros, zeros_col = pv.cached("calendar", _calendar_tables)
    pandemic = pandemic_by_month[month]
    hub_loss = hub_loss_by_month[month]
    if pandemic is None:
        st.shock[:] = 0.0
    else:
        st.shock[:] = pandemic
    initiative = st.initiative_months > 0
    if pandemic is None and not anything(initiative):
        pressure = _calm_pressure(st, pv, testing)
    else:
        pressure = pv["time.competing_demands"] * st.demand_mult
        if testing:
            pressure = pressure + pv["time.testing_load"]
        if pandemic is not None:
            pressure = pressure + PANDEMIC_DEMAND * pandemic[:, None]
        if anything(initiative):
            pressure = pressure + INITIATIVE_DEMAND * initiative[:, None]
        pressure = clip01(pressure)
    return Calendar(
        month=month,
        summer=moy in SUMMER,
        testing=testing,
        pandemic=zeros_col if pandemic is None else pandemic[:, None],
        hub_loss=zeros if hub_loss is None else hub_loss,
        grant_active=grant_by_month[month],
        pressure=pressure,
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
