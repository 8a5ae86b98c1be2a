"""The cost against institutionalization frontier over a sweep of levers.

A parameter set P is dropped only when some set Q costs no more (the mean of
the paired cost differences, Q minus P, is at most zero) and institutionalizes
more schools than P in at least :data:`BEATS` of the paired replicates
(replicate r of every set shares one seed: common random numbers; with a
posterior, one posterior draw too).  The sets left are the frontier; each
dropped set names the Q that beats it with the highest probability, and that
probability.  Means of cost and schools are over replicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COST, EFFECT = "cost_total", "institutionalized_share"
#: Probability over paired replicates with which a plan costing no more must beat another to drop it.
BEATS = 0.95


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


def paired(outcomes: pd.DataFrame, column: str) -> np.ndarray:
    """(sets, replicates) values of ``column`` of the runs that finished ("ok"), NaN elsewhere, rows in
    the order of the sets, columns by replicate (so column r of every row shares a seed)."""
    ok = outcomes[outcomes["status"] == "ok"]
    return ok.pivot(index="set", columns="replicate", values=column).sort_index().to_numpy(dtype=float)


def beaten_by(cost: np.ndarray, effect: np.ndarray, beats: float = BEATS) -> tuple[np.ndarray, np.ndarray]:
    """For each set P (rows of ``cost`` and ``effect``, (sets, replicates), NaN where a run is missing):
    the set Q that costs no more on the paired mean and has more effect than P in the largest share of
    the replicates both finished, and that share.  Returns (index of Q or -1 when no Q reaches
    ``beats``, probability (sets,) with which the best such Q beats P, NaN when no Q costs no more)."""
    both = ~np.isnan(cost)[:, None, :] & ~np.isnan(cost)[None, :, :] & ~np.isnan(effect)[:, None, :]
    both &= ~np.isnan(effect)[None, :, :]
    shared = both.sum(axis=2)
    with np.errstate(invalid="ignore"):
        d_cost = np.where(both, cost[:, None, :] - cost[None, :, :], 0.0).sum(axis=2) / shared  # [q, p]
        more = np.where(both, effect[:, None, :] > effect[None, :, :], False).sum(axis=2) / shared
    candidate = (d_cost <= 0) & (shared > 0)
    np.fill_diagonal(candidate, False)
    prob = np.where(candidate, more, -1.0)
    best_q = prob.argmax(axis=0)
    best_prob = prob[best_q, np.arange(len(best_q))]
    dropped = best_prob >= beats
    return np.where(dropped, best_q, -1), np.where(best_prob >= 0, best_prob, np.nan)


def frontier(outcomes: pd.DataFrame, factors: list[str], schools: int, beats: float = BEATS) -> pd.DataFrame:
    """One row per parameter set (:func:`set_summary`) with ``on_frontier`` (not dropped),
    ``beaten_by`` (the levers of the set that drops it, as "factor=value, ..."), ``beaten_by_set`` and
    ``probability_beaten`` (the share of paired replicates in which that set institutionalizes more
    schools); on the frontier first, cheapest first."""
    table = set_summary(outcomes, factors, schools)
    q, prob = beaten_by(paired(outcomes, COST), paired(outcomes, EFFECT), beats)
    sets = table["set"].to_numpy()
    columns = [table[f].tolist() for f in factors]  # each column keeps its own type (2, not 2.0)
    levers = np.array(
        [", ".join(f"{f}={v}" for f, v in zip(factors, values, strict=True)) for values in zip(*columns, strict=True)]
    )
    table["on_frontier"] = q < 0
    table["beaten_by_set"] = np.where(q >= 0, sets[np.maximum(q, 0)], -1)
    table["beaten_by"] = np.where(q >= 0, levers[np.maximum(q, 0)], "")
    table["probability_beaten"] = prob
    return table.sort_values(["on_frontier", "cost_total"], ascending=[False, True]).reset_index(drop=True)
