"""Time constraints: how much of the protected time survives competing demands.

Work integrated into existing structures (PLCs, the school improvement plan)
keeps its time; work added on top of existing duties loses a share of it to
competing demands equal to the pressure, softened by top-down protected-time
policies (Repenning and Sterman 2002: under pressure, working harder crowds
out working smarter; seed 001: integrate, do not add).

Stress, the push towards pausing, combines pressure, the shortfall of time,
a stall after losing a leader, and a pandemic.
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.jit import clip01_at, kernel
from improvesim.sim.state import ParamVectors, State, frozen
from improvesim.sim.submodels.calendar import Calendar


def time_ratio(pv: ParamVectors, cal: Calendar) -> np.ndarray:
    """Time for improvement as a share (R, S) of what full-pace work needs, 0-1 (read-only)."""
    # the share is the same while the pressure is (looking it up is cheaper than computing it)
    memo = pv.cached("time_ratio_memo", lambda pv: {})
    key = (cal.pressure.shape, cal.pressure.tobytes())
    ratio = memo.get(key)
    if ratio is None:
        if len(memo) > 8:
            memo.clear()
        ratio = memo[key] = frozen(
            _time_share(
                cal.pressure,
                pv.col("time.protected_hours"),
                pv.col("time.integrated"),
                pv.col("governance.top_down_support"),
                pv.col("time.hours_needed"),
            )
        )
    return ratio


@kernel
def _crowd_out_at(pressure, integrated, top_down_support):
    """Share, 0-1, of protected time lost to competing demands: the ``pressure``
    (0-1) on the share of the work added on top of existing duties (not
    ``integrated``), softened by ``top_down_support`` (0-1)."""
    added_on = 1.0 - integrated
    return pressure * added_on * (1.0 - 0.5 * top_down_support)


@kernel
def _time_share(pressure, protected_hours, integrated, top_down_support, hours_needed):
    """Protected hours (R,) left after the crowding out by ``pressure`` (R, S), as
    a share of the ``hours_needed`` (R,), clipped to 0-1: a fresh (R, S) array."""
    R, S = pressure.shape
    ratio = np.empty((R, S))
    for r in range(R):
        for s in range(S):
            hours = protected_hours[r] * (1.0 - _crowd_out_at(pressure[r, s], integrated[r], top_down_support[r]))
            ratio[r, s] = clip01_at(hours / hours_needed[r])
    return ratio


def stress(st: State, pv: ParamVectors, cal: Calendar, ratio: np.ndarray) -> np.ndarray:
    """Stress (R, S) on a school team, 0-1 (read-only): the strain of pressure
    and short time, plus stalled work and a pandemic."""
    return frozen(_stress(cal.pressure, ratio, st.stall, cal.pandemic))


@kernel
def _stress(pressure, ratio, stall, pandemic):
    """Stress (R, S), 0-1, a fresh array: the strain of ``pressure`` (R, S) and of
    the shortfall of time (``ratio``, (R, S)), plus 0.3 where the work ``stall``s
    (months, (R, S)) and 0.3 times a ``pandemic``'s severity ((R, 1), 0-1)."""
    R, S = pressure.shape
    out = np.empty((R, S))
    for r in range(R):
        for s in range(S):
            raw = 0.5 * pressure[r, s] + 0.5 * (1.0 - ratio[r, s])
            # (elsewhere these terms are zero, and adding them would change nothing)
            if stall[r, s] > 0:
                raw = raw + 0.3
            if pandemic[r, 0] != 0.0:
                raw = raw + 0.3 * pandemic[r, 0]
            out[r, s] = clip01_at(raw)
    return out
