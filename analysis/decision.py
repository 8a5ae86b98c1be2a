"""Decision statistics for choosing among plans, over paired replicates.

Every plan is run on the same replicate seeds (common random numbers), so
column ``r`` of every array below is one "world": the same turnover draws,
the same dice, met by each plan.  Probabilities are shares of those worlds
(and, once replicates draw their constants from a posterior, of the
posterior draws too, since each replicate then carries its own draw).

Shapes: ``values`` (P, N) for P plans over N paired replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Resamples of the paired-replicate bootstrap of the cost per additional school.
BOOTSTRAP_RESAMPLES = 2000


def probability_best(values: np.ndarray) -> np.ndarray:
    """(P,) probability that each plan has the highest value, over the N paired replicates of
    ``values`` (P, N); a replicate where k plans tie for the highest counts 1/k for each.  Sums to 1."""
    values = np.asarray(values, dtype=float)
    top = values == values.max(axis=0, keepdims=True)
    return (top / top.sum(axis=0, keepdims=True)).mean(axis=1)


def pairwise_beats(values: np.ndarray) -> np.ndarray:
    """(P, P) matrix whose [a, b] entry is the share of paired replicates in which plan a's value is
    strictly higher than plan b's (ties count for neither; the diagonal is 0).  [a, b] + [b, a] + the
    share of ties = 1."""
    values = np.asarray(values, dtype=float)
    return (values[:, None, :] > values[None, :, :]).mean(axis=2)


def acceptability(effect: np.ndarray, cost: np.ndarray, wtp: np.ndarray) -> np.ndarray:
    """The cost-effectiveness acceptability curve: (W, P) probability that each plan has the highest
    net benefit ``wtp x effect - cost`` at each willingness to pay ``wtp`` (W,) (dollars per unit of
    effect, e.g. per institutionalized school), over paired replicates of ``effect`` and ``cost``
    (P, N).  Raises ValueError when ``wtp`` is not strictly increasing."""
    wtp = np.asarray(wtp, dtype=float)
    if wtp.ndim != 1 or len(wtp) == 0 or np.any(np.diff(wtp) <= 0):
        raise ValueError("willingness to pay must be a strictly increasing list of amounts")
    effect, cost = np.asarray(effect, dtype=float), np.asarray(cost, dtype=float)
    return np.stack([probability_best(w * effect - cost) for w in wtp])


@dataclass(frozen=True)
class CostPerSchool:
    """Cost per additional unit of effect (e.g. per institutionalized school) against the reference.

    ``verdict``: "dominant" (more effect for no more money), "dominated" (no more effect for more
    money), "no gain" (no more effect, for less money, or less effect), "no difference" (the same
    effect and cost on average), "gain" (more effect for more money, the effect
    clearly above zero: ``ratio`` in [``low``, ``high``]), or "uncertain gain" (more effect for more
    money on average, but the effect cannot be told from zero: ``high`` is infinite, no upper limit).
    ``extra_cost`` and ``extra_effect`` are paired means; ``ratio``, ``low``, ``high`` are NaN where
    they mean nothing."""

    verdict: str
    extra_cost: float
    extra_effect: float
    ratio: float
    low: float
    high: float


def cost_per_additional(
    extra_cost: np.ndarray, extra_effect: np.ndarray, seed: int, level: float = 0.90
) -> CostPerSchool:
    """Mean extra cost over mean extra effect, from paired differences (N,) against the reference,
    with a percentile bootstrap interval at ``level`` (resampling the N paired replicates
    :data:`BOOTSTRAP_RESAMPLES` times, from a generator seeded by ``seed``).

    The ratio is given only when it means "dollars per additional school": when the mean extra
    effect is not above zero the plan is "dominated" or gives "no gain", and when the effect's own
    bootstrap interval reaches zero the ratio has no upper limit ("uncertain gain")."""
    d_cost, d_effect = np.asarray(extra_cost, dtype=float), np.asarray(extra_effect, dtype=float)
    mean_cost, mean_effect = float(d_cost.mean()), float(d_effect.mean())
    nan = float("nan")
    if mean_effect <= 0:
        verdict = "dominated" if mean_cost > 0 else "no gain" if mean_cost < 0 or mean_effect < 0 else "no difference"
        return CostPerSchool(verdict, mean_cost, mean_effect, nan, nan, nan)
    if mean_cost <= 0:
        return CostPerSchool("dominant", mean_cost, mean_effect, nan, nan, nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d_cost), size=(BOOTSTRAP_RESAMPLES, len(d_cost)))
    boot_cost, boot_effect = d_cost[idx].mean(axis=1), d_effect[idx].mean(axis=1)
    tail = (1 - level) / 2
    ratio = mean_cost / mean_effect
    # a resample without more effect has no finite cost per additional school: infinitely dear
    boot_ratio = np.full(len(boot_effect), np.inf)
    np.divide(boot_cost, boot_effect, out=boot_ratio, where=boot_effect > 0)
    if np.quantile(boot_effect, tail) <= 0:
        low = float(np.quantile(boot_ratio, tail))
        return CostPerSchool("uncertain gain", mean_cost, mean_effect, ratio, low, float("inf"))
    low, high = np.quantile(boot_ratio, [tail, 1 - tail])
    return CostPerSchool("gain", mean_cost, mean_effect, ratio, float(low), float(high))


def wtp_grid(costs: np.ndarray, effects: np.ndarray, points: int = 41) -> np.ndarray:
    """A willingness-to-pay grid (points,) from 0 to twice the largest positive ratio of a plan's mean
    extra cost to its mean extra effect, over the first plan (the reference) or over the cheapest plan
    (at least $100,000), with steps that are whole thousands of dollars: wide enough to show where even
    the dearest plan that adds schools becomes the best buy.  ``costs`` and ``effects`` are (P, N)."""
    cost_means, effect_means = np.mean(costs, axis=1), np.mean(effects, axis=1)
    ratios = []
    for base in (0, int(np.argmin(cost_means))):
        d_cost, d_effect = cost_means - cost_means[base], effect_means - effect_means[base]
        gains = (d_effect > 0) & (d_cost > 0)
        ratios += list(d_cost[gains] / d_effect[gains])
    top = max([100_000.0, *(2 * r for r in ratios)])
    step = 1000.0 * (points - 1)
    return np.linspace(0.0, np.ceil(top / step) * step, points)
