"""The cost against institutionalization frontier over a sweep of levers.

A parameter set is on the frontier when no other set institutionalizes at
least as many schools for no more money, and more schools or less money on
one of the two (Pareto efficiency).  Means are over replicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COST, EFFECT = "cost_total", "institutionalized_share"


def set_summary(outcomes: pd.DataFrame, factors: list[str], schools: int) -> pd.DataFrame:
    """Mean cost and institutionalized schools per parameter set, with 90% intervals of the schools."""
    ok = outcomes[outcomes["status"] == "ok"]
    grouped = ok.groupby("set")
    table = grouped[factors].first()
    table["cost_total"] = grouped[COST].mean()
    table["institutionalized_schools"] = grouped[EFFECT].mean() * schools
    table["institutionalized_p05"] = grouped[EFFECT].quantile(0.05) * schools
    table["institutionalized_p95"] = grouped[EFFECT].quantile(0.95) * schools
    table["replicates"] = grouped.size()
    return table.reset_index()


def pareto_front(cost: np.ndarray, effect: np.ndarray) -> np.ndarray:
    """Mask of points no other point dominates (cheaper or equal and at least as effective, one strictly)."""
    order = np.lexsort((-effect, cost))  # by cost, then by effect descending
    on = np.zeros(len(cost), dtype=bool)
    best = -np.inf
    for i in order:
        if effect[i] > best:
            on[i] = True
            best = effect[i]
    return on


def frontier(outcomes: pd.DataFrame, factors: list[str], schools: int) -> pd.DataFrame:
    table = set_summary(outcomes, factors, schools)
    table["on_frontier"] = pareto_front(table["cost_total"].to_numpy(), table["institutionalized_schools"].to_numpy())
    return table.sort_values(["on_frontier", "cost_total"], ascending=[False, True]).reset_index(drop=True)
