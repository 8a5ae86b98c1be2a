"""Time to events, school by school: institutionalization and fading, with Kaplan-Meier estimates.

Each school of each run contributes one record per event kind:

- ``institutionalized``: at risk from the month the school was invited
  (schools never invited are not at risk); the event is the first month it
  counts as institutionalized.
- ``faded``: at risk from the first month the school practised all six
  principles (schools never authentic are not at risk); the event is the
  first month it counts as faded (:mod:`improvesim.sim.outcomes`).

A school without the event is right-censored at its run's own last month,
so runs of different lengths are censored each at its own horizon.
``duration_months`` counts the months at risk up to and including the
event (or censoring) month.  Kaplan-Meier estimates come from SciPy
(:func:`scipy.stats.ecdf` on :class:`scipy.stats.CensoredData`) with
pointwise confidence intervals (Greenwood's formula, log-log transform).
Schools of one run share a district and are not independent, so the
intervals understate the uncertainty between districts; they describe the
pooled schools of the replicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from improvesim.sim.engine import SimulationResult
from improvesim.sim.state import Authenticity

#: The events, each with what the curve shows and the month at-risk time starts from.
EVENTS: dict[str, str] = {
    "institutionalized": "months from invitation to institutionalization",
    "faded": "months from first authentic practice to fading",
}
COLUMNS = ("replicate", "school", "event", "origin_month", "month", "duration_months", "censored")


def _first_month(flags: np.ndarray) -> np.ndarray:
    """First month (axis 1) where ``flags`` (R, T, S) holds, -1 where it never does; (R, S)."""
    first = flags.argmax(axis=1)
    return np.where(flags.any(axis=1), first, -1)


def survival_frame(result: SimulationResult, first_replicate: int = 0) -> pd.DataFrame:
    """One row per replicate, school and event kind at risk: the columns of :data:`COLUMNS`.

    Needs the per-school records (``record_schools=True``); raises ValueError
    without them.  Replicates are numbered from ``first_replicate``.
    """
    if result.schools is None:
        raise ValueError("survival needs the per-school records (record_schools=True)")
    R, T, S = result.schools["institutionalized"].shape
    origins = {
        "institutionalized": result.invited_month,
        "faded": _first_month(result.schools["authenticity"] == Authenticity.AUTHENTIC),
    }
    frames = []
    for event in EVENTS:
        origin = origins[event]
        happened = _first_month(result.schools[event])
        at_risk = origin >= 0
        censored = happened < 0
        month = np.where(censored, T - 1, happened)
        r, s = np.nonzero(at_risk)
        frames.append(
            pd.DataFrame(
                {
                    "replicate": (r + first_replicate).astype(np.int32),
                    "school": s.astype(np.int32),
                    "event": pd.Categorical([event] * len(r), categories=list(EVENTS)),
                    "origin_month": origin[r, s].astype(np.int32),
                    "month": month[r, s].astype(np.int32),
                    "duration_months": (month[r, s] - origin[r, s] + 1).astype(np.int32),
                    "censored": censored[r, s],
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["replicate", "school", "event"], ignore_index=True)


def kaplan_meier(frame: pd.DataFrame, event: str, confidence: float = 0.9) -> pd.DataFrame:
    """Kaplan-Meier estimate of the share of schools still without ``event`` after t months at risk.

    ``frame`` is a :func:`survival_frame`.  Returns one row per distinct
    duration with ``months``, ``survival`` and its pointwise interval
    (``low``, ``high``, at ``confidence``), starting from ``months`` 0 at 1.
    Empty when no school was at risk.
    """
    rows = frame[frame["event"] == event]
    if rows.empty:
        return pd.DataFrame(columns=["months", "survival", "low", "high"])
    durations = rows["duration_months"].to_numpy(dtype=float)
    censored = rows["censored"].to_numpy(dtype=bool)
    data = stats.CensoredData(uncensored=durations[~censored], right=durations[censored])
    estimate = stats.ecdf(data).sf
    interval = estimate.confidence_interval(confidence, method="log-log")
    table = pd.DataFrame(
        {
            "months": estimate.quantiles,
            "survival": estimate.probabilities,
            "low": interval.low.probabilities,
            "high": interval.high.probabilities,
        }
    )
    start = pd.DataFrame({"months": [0.0], "survival": [1.0], "low": [1.0], "high": [1.0]})
    return pd.concat([start, table], ignore_index=True)
