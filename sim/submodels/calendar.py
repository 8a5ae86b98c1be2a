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

from improvesim.sim.jit import clip01_at, coefficients, kernel, named
from improvesim.sim.schema import SHOCK_KINDS
from improvesim.sim.state import ParamVectors, State
from improvesim.sim.structure import CONVENING_SLOT_CENTRE, MONTHS_PER_YEAR, SCHOOL_MONTHS, SUMMER, TESTING

#: Shock kinds as the arrays hold them (``ParamVectors.shock_kind``): their place in the schema's SHOCK_KINDS.
PANDEMIC, HUB_LOSS = (SHOCK_KINDS.index(kind) for kind in ("pandemic", "hub_loss"))


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
    return month % MONTHS_PER_YEAR


def _shock_timeline(pv: ParamVectors, kind: int) -> list[np.ndarray | None]:
    """Severity (R,) of each month's strongest shock of ``kind`` under way (a
    shock runs from its start month for its length), None in months without any."""
    months = np.arange(pv.params[0].months)[:, None, None]  # (T, 1, 1) against (R, n) shocks
    on = (pv.shock_start <= months) & (months < pv.shock_end) & (pv.shock_kind == kind)
    timeline = np.where(on, pv.shock_severity, 0.0).max(axis=-1)  # (T, R)
    return [sev if any_ else None for sev, any_ in zip(timeline, timeline.any(axis=1), strict=True)]


def pandemic_by_month(pv: ParamVectors) -> list[np.ndarray | None]:
    """Severity (R,) of the strongest pandemic under way, month by month; None in
    months without one in any run."""
    return _shock_timeline(pv, PANDEMIC)


def _calendar_tables(pv: ParamVectors) -> list[tuple]:
    """Month by month, what the calendar and the per-run constants say: summer,
    the testing season, the pandemic severity (R,) (zeros in months without
    one), whether a pandemic is under way in any run, the severity as a column
    (R, 1), the hub loss severity (R,) and whether the grant still pays (R,)."""
    months = pv.params[0].months
    grant_months = MONTHS_PER_YEAR * pv.col("coaching.funded_years")
    zeros = np.zeros(len(pv.params))
    zeros_col = zeros[:, None]
    tables = []
    for month, pandemic, hub_loss, grant in zip(
        range(months),
        pandemic_by_month(pv),
        _shock_timeline(pv, HUB_LOSS),
        np.arange(months)[:, None] < grant_months,  # (R,) rows, month by month
        strict=True,
    ):
        moy = month_of_year(month)
        on = pandemic is not None
        severity, column = (pandemic, pandemic[:, None]) if on else (zeros, zeros_col)
        hub_loss = zeros if hub_loss is None else hub_loss
        tables.append((moy in SUMMER, moy in TESTING, severity, on, column, hub_loss, grant))
    return tables


class DemandCoefficients(NamedTuple):
    """Per-run (R,) coefficients of the competing demands on schools."""

    SECTIONS = ("time",)

    competing_demands: np.ndarray
    testing_load: np.ndarray
    pandemic_demand: np.ndarray
    initiative_demand: np.ndarray


@kernel
def _shocks_and_pressure(demand_mult, coef, testing, pandemic, pandemic_on, initiative_months, shock):
    """Competing demands (R, S) on schools, 0-1: the run's ``competing_demands``
    x each school's ``demand_mult``, plus the ``testing_load`` in the testing
    season, plus ``pandemic_demand`` x the ``pandemic`` severity (R,) when
    ``pandemic_on`` in any run, plus ``initiative_demand`` in runs with a competing
    initiative (``initiative_months`` > 0) when any run has one; clipped to
    [0, 1].  Sets ``shock`` (R,) to the pandemic severity.  ``coef`` is the
    :class:`DemandCoefficients`."""
    c = named(DemandCoefficients, coef)
    runs, schools = demand_mult.shape
    initiative_on = False
    for r in range(runs):
        shock[r] = pandemic[r]
        if initiative_months[r] > 0:
            initiative_on = True
    pressure = np.empty((runs, schools))
    for r in range(runs):
        initiative = 1.0 if initiative_months[r] > 0 else 0.0
        for s in range(schools):
            p = c.competing_demands[r] * demand_mult[r, s]
            if testing:
                p = p + c.testing_load[r]
            if pandemic_on:
                p = p + c.pandemic_demand[r] * pandemic[r]
            if initiative_on:
                p = p + c.initiative_demand[r] * initiative
            pressure[r, s] = clip01_at(p)
    return pressure


def calendar_and_shocks(st: State, pv: ParamVectors, month: int) -> Calendar:
    """Work out the month: time of year, shocks under way, competing demands."""
    by_month = pv.cached("calendar_by_month", _calendar_tables)
    summer, testing, pandemic, pandemic_on, pandemic_col, hub_loss, grant_active = by_month[month]
    pressure = _shocks_and_pressure(
        st.demand_mult,
        coefficients(DemandCoefficients, pv),
        testing,
        pandemic,
        pandemic_on,
        st.initiative_months,
        st.shock,
    )
    return Calendar(month, summer, testing, pandemic_col, hub_loss, grant_active, pressure)


def convening_months(per_year: np.ndarray) -> np.ndarray:
    """(R, 12) table: which months of the school year hold a convening.

    ``n`` convenings are spread evenly over the ten school months.
    """
    table = np.zeros((per_year.shape[0], MONTHS_PER_YEAR), dtype=bool)
    for r, n in enumerate(per_year.astype(int)):
        for i in range(n):
            table[r, int((i + CONVENING_SLOT_CENTRE) * SCHOOL_MONTHS / n)] = True
    return table
