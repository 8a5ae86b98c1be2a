"""Exit clocks (issue 18): a staff seat's exits drawn as a time to the next
departure (an Exp(1) budget of cumulative hazard, sim.rng) are distributed as
a Bernoulli draw per seat a month with the month's hazard.

Seeded replicates of the production function :func:`turnover.staff_turnover`
over three years with a summer peak and a pandemic (so the hazard changes
from month to month), against the exact expectations and against Bernoulli
draws of the same hazards; tolerances are standard errors from the spread.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import draws
from scipy import stats

from improvesim.sim import rng
from improvesim.sim.params import Params, Shock, defaults
from improvesim.sim.state import ParamVectors, blank_state, exit_budget, initial_exit_budgets
from improvesim.sim.submodels import calendar, turnover

MONTHS = 36
RUNS, SCHOOLS, TEAM = 20, 200, 6
#: Standard errors an estimate may stray.
Z = 4.0


def watched_exits(seed=7):
    """Who left (months, K, R, S) month by month, the month's exit hazards
    (months, K, R) and the newcomers' skill, under the production function;
    nothing but exits (no raise after a principal leaves, nobody invited)."""
    values = (
        defaults()
        .with_overrides(
            {
                "district.schools": SCHOOLS,
                "district.team_size": TEAM,
                "run.years": MONTHS // 12,
                "turnover.after_principal_rise": 0.0,
                "turnover.pandemic_delay": 0,
                "turnover.pandemic_rise": 1.0,
                "succession.onboarding": 0.0,
                "knowledge.management": 0.0,
            }
        )
        .values
    )
    pv = ParamVectors([Params(values=values, shocks=(Shock("pandemic", 14, 12, 0.8),))] * RUNS)
    st = blank_state(RUNS, SCHOOLS, TEAM, 1, rng.derive_seeds(seed, RUNS))
    rates = turnover.seat_rates(pv, TEAM)
    by_month = turnover.hazards_by_month(rates, pv["turnover.summer_share"])
    left, hazards, newcomer_skill = [], [], []
    for t in range(MONTHS):
        cal = calendar.calendar_and_shocks(st, pv, t)
        severity = turnover.pandemic_for_exits(pv, cal)[:, 0]
        hazards.append(
            by_month[calendar.month_of_year(t)][:, :, 0] * (1.0 + pv.col("turnover.pandemic_rise") * severity)
        )
        leaves = turnover.staff_turnover(st, pv, cal, draws(st)).copy()
        left.append(leaves)
        newcomer_skill.append(st.skill[leaves])
    return np.array(left), np.array(hazards), np.concatenate(newcomer_skill), pv


@pytest.fixture(scope="module")
def watched():
    return watched_exits()


def test_the_hazard_changes_from_month_to_month(watched):
    _, hazards, _, _ = watched
    assert len(np.unique(np.round(hazards[:, 0, 0], 12))) >= 4  # school months, summer, each with a pandemic


def test_exits_each_month_are_as_many_as_bernoulli_draws_give(watched):
    """Exits per month and seat against N p(t), within Z binomial standard errors
    cell by cell, and a chi-square over all cells (each cell's count is
    Binomial(N, p) when exits are Bernoulli(p) each month)."""
    left, hazards, _, _ = watched
    counts = left.sum(axis=(2, 3))  # (months, K)
    n = RUNS * SCHOOLS
    p = hazards[:, :, 0]  # every run shares the parameters
    expected, sd = n * p, np.sqrt(n * p * (1 - p))
    z = (counts - expected) / sd
    assert np.abs(z).max() < Z, z.round(1)
    chi2 = (z**2).sum()
    assert chi2 < stats.chi2.ppf(0.999, z.size), chi2


def test_the_first_departure_month_matches_bernoulli_draws(watched):
    """Each seat's first exit month (censored at the end) against the same
    seats under Bernoulli draws of the same hazards: a two-sample test on the
    distribution, and the means within Z standard errors."""
    left, hazards, _, _ = watched
    ever = left.any(axis=0)
    first = np.where(ever, left.argmax(axis=0), MONTHS)  # (K, R, S)
    draws_ = np.random.default_rng(11).random(left.shape)  # a reference outside the model's streams
    bernoulli = draws_ < hazards[:, :, :, None]
    first_b = np.where(bernoulli.any(axis=0), bernoulli.argmax(axis=0), MONTHS)
    for k in range(TEAM):
        a, b = first[k].ravel(), first_b[k].ravel()
        se = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < Z * se, (k, a.mean(), b.mean(), se)
        assert stats.ks_2samp(a, b).pvalue > 1e-3, k


def test_a_newcomers_fresh_uniform_is_uniform(watched):
    """Newcomers start at initial skill x (newcomer_low + u): u, recovered from
    the leaver's exit budget, is uniform on [0, 1)."""
    _, _, skill, pv = watched
    fresh = skill / pv.col("district.initial_skill")[0] - pv.col("turnover.newcomer_low")[0]
    assert fresh.size > 1000
    assert stats.kstest(fresh, "uniform").pvalue > 1e-3


def test_a_budget_leaves_exactly_when_the_uniform_is_below_the_hazard():
    u = np.array([0.0, 0.1, 0.5, 0.9])
    hazard = 0.3
    assert ((exit_budget(u) < -np.log1p(-hazard)) == (u < hazard)).all()
    assert exit_budget(1.0) == np.inf


def test_the_starting_budgets_come_from_the_clock_stream_and_are_exp1():
    keys = rng.run_keys([1, 2])
    budgets = initial_exit_budgets(keys, 500, TEAM)  # (K, R, S)
    u = rng.uniform(keys, "staff_clock", 0, (500, TEAM, rng.CLOCK_START + 1))[..., rng.CLOCK_START]
    assert np.array_equal(budgets, exit_budget(np.moveaxis(u, -1, 0)))
    assert stats.kstest(budgets.ravel(), "expon").pvalue > 1e-3


def test_a_compiled_draw_is_the_streams_number():
    """rng.uniform_at (compiled, one number) gives rng.uniform's number for the
    same run, stream, month and index."""
    keys = rng.run_keys([0, 5, 2**62])
    halves = rng.stream_keys(keys, "staff_clock")
    for month in (0, 7, 119):
        block = rng.uniform(keys, "staff_clock", month, (40, 9, 2))
        for r in range(len(keys)):
            for i, j, k in ((0, 0, 0), (39, 8, 1), (13, 4, 0)):
                assert rng.uniform_at(halves[r], month, i, j, k) == block[r, i, j, k]
