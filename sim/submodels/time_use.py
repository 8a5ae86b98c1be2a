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

from sim.state import ParamVectors, State, anything, clip01, frozen, recall
from sim.submodels.calendar import Calendar


def crowd_out(pv: ParamVectors, pressure: np.ndarray) -> np.ndarray:
    """Share (R, S) of protected time lost to competing demands."""
    added_on = 1.0 - pv["time.integrated"]
    return pressure * added_on * (1.0 - 0.5 * pv["governance.top_down_support"])


def time_ratio(pv: ParamVectors, cal: Calendar) -> np.ndarray:
    """Time for improvement as a share (R, S) of what full-pace work needs, 0-1 (read-only)."""
    memo = pv.cached("time_ratio_memo", lambda pv: {})
    key = (cal.pressure.shape, cal.pressure.tobytes())
    ratio = memo.get(key)
    if ratio is None:
        if len(memo) > 8:
            memo.clear()
        hours = pv["time.protected_hours"] * (1.0 - crowd_out(pv, cal.pressure))
        ratio = memo[key] = clip01(hours / pv["time.hours_needed"])
        ratio.flags.writeable = False
    return ratio


def stress(st: State, cal: Calendar, ratio: np.ndarray) -> np.ndarray:
    """Stress (R, S) on a school team, 0-1 (read-only): the strain of pressure
    and short time, plus stalled work and a pandemic."""
    # the strain is the same while pressure and time are unchanged
    strain = recall(st, "strain", (cal.pressure, ratio), lambda: frozen(0.5 * cal.pressure + 0.5 * (1.0 - ratio)))
    stalled, pandemic = anything(st.stall), anything(cal.pandemic)
    if not (stalled or pandemic):  # (adding their zero terms would change nothing)
        return recall(st, "calm_stress", (cal.pressure, ratio), lambda: frozen(clip01(strain.copy())))
    raw = strain + 0.3 * (st.stall > 0) if stalled else strain
    if pandemic:
        raw = raw + 0.3 * cal.pandemic
    return frozen(clip01(raw))
