"""Decision statistics over paired replicates: hand-made outcomes with known answers."""

import warnings

import numpy as np
import pytest

from improvesim.analysis.decision import (
    acceptability,
    cost_per_additional,
    pairwise_beats,
    probability_best,
    wtp_grid,
)


def test_probability_best_counts_worlds_and_shares_ties():
    # three plans, four paired replicates: A best in 2, B best in 1, A and C tie in the last
    values = np.array([[5, 6, 1, 4], [3, 2, 9, 1], [1, 1, 1, 4]])
    assert probability_best(values) == pytest.approx([(2 + 0.5) / 4, 1 / 4, 0.5 / 4])
    assert probability_best(values).sum() == pytest.approx(1.0)


def test_pairwise_beats_is_strict_and_pairs_ties():
    values = np.array([[5, 6, 1, 4], [3, 2, 9, 1], [1, 1, 1, 4]])
    m = pairwise_beats(values)
    assert m[0, 1] == pytest.approx(3 / 4) and m[1, 0] == pytest.approx(1 / 4)
    assert m[0, 2] == pytest.approx(2 / 4) and m[2, 0] == 0.0  # two ties: neither beats
    assert np.all(np.diag(m) == 0)


def test_pairing_matters():
    # B is always one school ahead of A in the same world, though their ranges overlap
    a = np.arange(10.0)
    values = np.stack([a, a + 1])
    assert pairwise_beats(values)[1, 0] == 1.0 and probability_best(values)[1] == 1.0


def test_acceptability_curve_crosses_where_known():
    # reference: no schools, no cost; the plan: 2 schools for $100,000 in every world -> $50,000 a school
    effect = np.array([[0.0] * 4, [2.0] * 4])
    cost = np.array([[0.0] * 4, [100_000.0] * 4])
    curve = acceptability(effect, cost, np.array([0.0, 40_000, 49_000, 51_000, 60_000, 200_000]))
    assert curve[:, 1].tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert curve.sum(axis=1) == pytest.approx(1.0)
    # per-world ratios 25k, 50k, 100k, 200k: the curve climbs a quarter at each
    effect = np.array([[0.0] * 4, [4.0, 2.0, 1.0, 0.5]])
    cost = np.array([[0.0] * 4, [100_000.0] * 4])
    curve = acceptability(effect, cost, np.array([10_000.0, 30_000, 60_000, 150_000, 300_000]))
    assert curve[:, 1].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("wtp", [[0, 10, 10], [5, 1], []])
def test_acceptability_refuses_a_grid_that_is_not_increasing(wtp):
    with pytest.raises(ValueError, match="strictly increasing"):
        acceptability(np.zeros((2, 3)), np.zeros((2, 3)), np.array(wtp, dtype=float))


def test_cost_per_additional_school_verdicts():
    rng = np.random.default_rng(0)
    gain = cost_per_additional(np.full(200, 100_000.0) + rng.normal(0, 5_000, 200), 2 + rng.normal(0, 0.5, 200), 1)
    assert gain.verdict == "gain" and gain.low < gain.ratio < gain.high
    assert gain.ratio == pytest.approx(gain.extra_cost / gain.extra_effect)
    assert gain.low > 40_000 and gain.high < 60_000
    unsure = cost_per_additional(np.full(50, 100_000.0), np.tile([-2.0, 2.4], 25), 1)  # mean 0.2, sd 2.2
    assert unsure.verdict == "uncertain gain" and unsure.high == np.inf
    assert cost_per_additional(np.full(5, 10.0), np.zeros(5), 1).verdict == "dominated"
    assert cost_per_additional(np.full(5, -10.0), np.full(5, -1.0), 1).verdict == "no gain"
    assert cost_per_additional(np.full(5, -10.0), np.ones(5), 1).verdict == "dominant"
    assert cost_per_additional(np.zeros(5), np.zeros(5), 1).verdict == "no difference"
    assert np.isnan(cost_per_additional(np.full(5, 10.0), np.zeros(5), 1).ratio)


def test_bootstrap_is_reproducible():
    rng = np.random.default_rng(3)
    c, e = rng.normal(1e5, 1e4, 30), rng.normal(3, 1, 30)
    assert cost_per_additional(c, e, 7) == cost_per_additional(c, e, 7)


def test_wtp_grid_spans_the_crossings():
    grid = wtp_grid(np.array([[0.0], [100_000.0]]), np.array([[0.0], [2.0]]))
    assert grid[0] == 0 and grid[-1] >= 100_000 and np.all(np.diff(grid) > 0)
    assert np.all(grid % 1000 == 0)
    # a dear plan ($3 million for 2 more schools than the reference) is reached, twice over
    grid = wtp_grid(np.array([[1e6], [0.9e6], [4e6]]), np.array([[1.0], [5.0], [3.0]]))
    assert grid[-1] >= 3_000_000


def test_a_gain_has_a_finite_interval_even_when_some_resamples_add_no_school():
    """Few replicates of whole-school counts: some bootstrap resamples draw only replicates where the plan
    adds no school (0 more schools, $0 more).  They have no finite cost per additional school (infinitely
    dear), never NaN, so the verdict's interval stays finite and no warning is raised."""
    effect = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 2], dtype=float)
    cost = np.array([0, 0, 0, 0, 0, 0, 0, 100, 100, 200], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = cost_per_additional(cost, effect, seed=1)
    assert result.verdict == "gain"
    assert np.isfinite(result.low) and np.isfinite(result.high) and result.low <= result.ratio <= result.high
