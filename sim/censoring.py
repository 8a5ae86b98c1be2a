"""Times to an event, censored at each run's own horizon.

A time-to-event outcome (months to the first institutionalized school, say)
is NaN in a run where the event did not happen within the run's years.
Such a run is *censored*: all that is known is that the event, if it ever
comes, comes after the run's horizon.  Runs of different lengths are
censored at different horizons, so a single horizon for every run is wrong
(a 6-year run without the event says nothing about month 121).

:func:`censor` is the one place that turns times into (duration, observed)
pairs, used by the sensitivity analysis of sweeps (and meant for survival
outcomes such as Kaplan-Meier curves, e.g. ``scipy.stats.CensoredData``).
"""

from __future__ import annotations

import numpy as np


def censor(times, horizon_months) -> tuple[np.ndarray, np.ndarray]:
    """(durations, observed) of times to an event, each censored at its run's horizon.

    Args:
        times: months to the event, shape (R,); NaN where the event did not happen.
        horizon_months: each run's horizon in months, shape (R,) or a scalar
            (a run of Y years has a horizon of 12 Y months).

    Returns:
        durations (R,) float: the time of the event where it was observed,
        else the horizon (the last month known to be event-free);
        observed (R,) bool: whether the event was seen within the horizon.
        An event recorded after the horizon given (possible when a shorter
        common horizon is asked for) counts as censored there.

    Raises:
        ValueError: a horizon is not positive.
    """
    times = np.asarray(times, dtype=np.float64)
    horizon = np.broadcast_to(np.asarray(horizon_months, dtype=np.float64), times.shape)
    if np.any(~(horizon > 0)):
        raise ValueError("every horizon must be a positive number of months")
    observed = ~np.isnan(times) & (times <= horizon)
    return np.where(observed, times, horizon), observed


def restricted_times(times, horizon_months) -> tuple[np.ndarray, float]:
    """Times to an event made comparable across runs of different horizons.

    Every run is censored at the shortest horizon ``H`` of all the runs
    (events later than ``H`` count as not seen), and a censored run counts
    as ``H + 1`` months: "not within the first H months".  Returns the
    values (R,) and ``H + 1``.  With one common horizon this is the usual
    "censored at the horizon" value.
    """
    horizon = np.broadcast_to(np.asarray(horizon_months, dtype=np.float64), np.shape(times))
    common = float(horizon.min()) if horizon.size else 0.0
    durations, observed = censor(times, common)
    return np.where(observed, durations, common + 1.0), common + 1.0
