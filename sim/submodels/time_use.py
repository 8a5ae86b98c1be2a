"""Time constraints: how much of the protected time survives competing demands.

Work integrated into existing structures (PLCs, the school improvement plan)
keeps its time; work added on top of existing duties loses a share of it to
competing demands equal to the pressure, softened by top-down protected-time
policies (Repenning and Sterman 2002: under pressure, working harder crowds
out working smarter; seed 001: integrate, do not add).

Improvement frees time, but only after a delay (the capability trap,
Repenning and Sterman 2002): the competing demands a school feels shrink by
``time.improvement_relief`` times its local knowledge, which only successful
PDSA cycles build (:mod:`sim.submodels.improvement`).

Stress, the push towards pausing, combines pressure, the shortfall of time,
a stall after losing a leader, and a pandemic.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.jit import clip01_at, coefficients, kernel, named, rule
from improvesim.sim.state import ParamVectors, State
from improvesim.sim.submodels.calendar import Calendar


class TimeCoefficients(NamedTuple):
    """Per-run (R,) coefficients of the time for improvement."""

    SECTIONS = ("time", "governance")

    protected_hours: np.ndarray
    hours_needed: np.ndarray
    integrated: np.ndarray
    top_down_support: np.ndarray
    support_protection: np.ndarray
    improvement_relief: np.ndarray


class StressCoefficients(NamedTuple):
    """Per-run (R,) weights of the parts of stress."""

    SECTIONS = ("time",)

    stress_pressure: np.ndarray
    stress_shortfall: np.ndarray
    stress_stall: np.ndarray
    stress_pandemic: np.ndarray


def time_ratio(pv: ParamVectors, cal: Calendar, local_knowledge: np.ndarray) -> np.ndarray:
    """Time for improvement as a share (R, S) of what full-pace work needs, 0-1
    (a fresh array), given each school's ``local_knowledge`` (R, S), 0-1."""
    return _time_share(cal.pressure, local_knowledge, coefficients(TimeCoefficients, pv))


@rule
def _crowd_out_at(pressure, integrated, top_down_support, support_protection):
    """Share, 0-1, of protected time lost to competing demands: the ``pressure``
    (0-1) on the share of the work added on top of existing duties (not
    ``integrated``), softened by ``support_protection`` x ``top_down_support`` (0-1)."""
    added_on = 1.0 - integrated
    return pressure * added_on * (1.0 - support_protection * top_down_support)


@kernel
def _time_share(pressure, local_knowledge, coef):
    """Protected hours left after the crowding out by ``pressure`` (R, S), as a
    share of the hours needed, clipped to 0-1: a fresh (R, S) array.  The
    pressure felt shrinks by ``improvement_relief`` x ``local_knowledge``
    (R, S).  ``coef`` is the :class:`TimeCoefficients`."""
    c = named(TimeCoefficients, coef)
    R, S = pressure.shape
    ratio = np.empty((R, S))
    for r in range(R):
        for s in range(S):
            felt = pressure[r, s] * (1.0 - c.improvement_relief[r] * local_knowledge[r, s])
            lost = _crowd_out_at(felt, c.integrated[r], c.top_down_support[r], c.support_protection[r])
            hours = c.protected_hours[r] * (1.0 - lost)
            ratio[r, s] = clip01_at(hours / c.hours_needed[r])
    return ratio


def stress(st: State, pv: ParamVectors, cal: Calendar, ratio: np.ndarray) -> np.ndarray:
    """Stress (R, S) on a school team, 0-1 (a fresh array, as the year of months has it, so
    that the kernels reading it meet one array type): the strain of pressure
    and short time, plus stalled work and a pandemic."""
    return _stress(cal.pressure, ratio, st.stall, cal.pandemic, coefficients(StressCoefficients, pv))


@kernel
def _stress(pressure, ratio, stall, pandemic, coef):
    """Stress (R, S), 0-1, a fresh array: the strain of ``pressure`` (R, S) and of
    the shortfall of time (``ratio``, (R, S)), plus ``stress_stall`` where the
    work ``stall``s (months, (R, S)) and ``stress_pandemic`` times a
    ``pandemic``'s severity ((R, 1), 0-1).  ``coef`` is the :class:`StressCoefficients`."""
    c = named(StressCoefficients, coef)
    R, S = pressure.shape
    out = np.empty((R, S))
    for r in range(R):
        for s in range(S):
            raw = c.stress_pressure[r] * pressure[r, s] + c.stress_shortfall[r] * (1.0 - ratio[r, s])
            # (elsewhere these terms are zero, and adding them would change nothing)
            if stall[r, s] > 0:
                raw = raw + c.stress_stall[r]
            if pandemic[r, 0] != 0.0:
                raw = raw + c.stress_pandemic[r] * pandemic[r, 0]
            out[r, s] = clip01_at(raw)
    return out
