"""Directional tests over seeded replicates (common random numbers).

Each compares a scenario with a changed one on the same replicate seeds and
looks at the paired differences; tolerances are multiples of the standard
error of the mean difference, so they follow the replicate spread.
"""

import numpy as np
import pytest
from conftest import ROOT

from improvesim.sim.end_of_run import end_of_run_outcomes
from improvesim.sim.engine import run_replicates
from improvesim.sim.params import defaults, load_scenario

N = 40  # replicates per arm
Z = 3.0  # standard errors


def paired(base, changed, metric, month=-1, seed=1):
    a = run_replicates(base, N, seed).metric(metric)[:, month]
    b = run_replicates(changed, N, seed).metric(metric)[:, month]
    d = b - a
    return d.mean(), d.std(ddof=1) / np.sqrt(N)


def more(base, overrides, metric, **kw):
    """Mean paired difference and its standard error for ``overrides`` on ``base``."""
    return paired(base, base.with_overrides(overrides), metric, **kw)


@pytest.fixture(scope="module")
def base():
    return defaults()


@pytest.mark.parametrize("metric", ["institutionalized_share", "authentic_share"])
def test_more_turnover_does_not_raise_institutionalization(base, metric):
    diff, se = more(base, {"turnover.teacher": 0.3, "turnover.principal": 0.35, "turnover.lead": 0.3}, metric)
    assert diff <= Z * se


def test_more_turnover_lowers_institutionalization(base):
    diff, se = more(
        base, {"turnover.teacher": 0.35, "turnover.principal": 0.4, "turnover.lead": 0.35}, "institutionalized_share"
    )
    assert diff < -Z * se


def test_integrated_work_takes_hold_added_work_does_not(base):
    diff, se = paired(
        base.with_overrides({"time.integrated": 0.0}),
        base.with_overrides({"time.integrated": 1.0}),
        "institutionalized_share",
    )
    assert diff > Z * se


def test_a_deep_bench_keeps_the_work_going(base):
    diff, se = more(base, {"succession.deep_bench": 1.0}, "institutionalized_share")
    assert diff > Z * se


def test_a_mandate_brings_participation_without_authentic_practice():
    base = load_scenario(ROOT / "scenarios/baseline.toml")
    mandate = load_scenario(ROOT / "scenarios/mandate.toml")
    engaged, se_e = paired(base, mandate, "engaged_share")
    # more schools take part, but a smaller share of the participants practise all six principles
    a, b = (end_of_run_outcomes(run_replicates(p, N, 1))["authentic_among_participants"] for p in (base, mandate))
    d = b - a
    assert engaged > Z * se_e and d.mean() < -Z * d.std(ddof=1) / np.sqrt(N)


def test_the_grant_cliff_lowers_engagement_after_funding_ends():
    base = load_scenario(ROOT / "scenarios/baseline.toml")
    cliff = load_scenario(ROOT / "scenarios/grant_cliff.toml")
    before, se_b = paired(base, cliff, "engaged_share", month=59)
    after, se_a = paired(base, cliff, "engaged_share", month=119)
    assert abs(before) <= Z * se_b + 1e-12  # identical until the grant ends
    assert after < -Z * se_a


def test_bottom_up_with_top_down_support_beats_either_extreme(base):
    both = base.with_overrides({"governance.top_down_support": 0.8, "governance.school_autonomy": 0.8})
    for extreme in (
        {"governance.top_down_support": 0.8, "governance.school_autonomy": 0.1},
        {"governance.top_down_support": 0.1, "governance.school_autonomy": 0.8},
    ):
        diff, se = paired(base.with_overrides(extreme), both, "institutionalized_share")
        assert diff > Z * se, extreme
