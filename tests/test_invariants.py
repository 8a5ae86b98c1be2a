"""Invariants every run must satisfy, on every bundled scenario."""

import numpy as np
import pytest
from conftest import SCENARIOS

from improvesim.sim.engine import run_replicates
from improvesim.sim.params import load_scenario


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda p: p.stem)
def result(request):
    return run_replicates(load_scenario(request.param), 4, seed=3, record_schools=True)


def test_no_nan_and_shares_in_unit_interval(result):
    assert not np.isnan(result.district).any()
    for name in [
        "engaged_share",
        "authentic_share",
        "partial_share",
        "inauthentic_share",
        "institutionalized_share",
        "faded_share",
        "share_with_6mo_disengagement",
        "invited_share",
    ]:
        v = result.metric(name)
        assert ((v >= 0) & (v <= 1)).all(), name


def test_classes_add_up(result):
    engagement = sum(
        result.metric(n) for n in ["engaged_share", "paused_share", "opted_out_share", "not_invited_share"]
    )
    authenticity = sum(
        result.metric(n) for n in ["authentic_share", "partial_share", "inauthentic_share", "not_invited_share"]
    )
    assert np.allclose(engagement, 1.0) and np.allclose(authenticity, 1.0)


def test_stocks_stay_in_range(result):
    s = result.schools
    for name in ["commitment", "skill", "embeddedness"]:
        assert ((s[name] >= 0) & (s[name] <= 1)).all(), name
    assert ((s["bench"] >= 0) & (s["bench"] <= 2)).all()
    assert ((s["principles_practised"] >= 0) & (s["principles_practised"] <= 6)).all()


def test_counters_never_decrease(result):
    for name in ["cost_total", "cycles_done", "cycles_succeeded", "leader_changes"]:
        assert (np.diff(result.metric(name), axis=1) >= 0).all(), name
    assert (result.metric("cycles_succeeded") <= result.metric("cycles_done")).all()


def test_institutionalized_schools_stay_counted_as_ever_institutionalized_and_faded_ones_were_authentic(result):
    s = result.schools
    assert (s["ever_institutionalized"][s["institutionalized"]]).all()
    assert (np.diff(s["ever_institutionalized"].astype(np.int8), axis=1) >= 0).all()  # once there, always counted
    assert not (s["faded"] & (s["authenticity"] == 2)).any()


def test_authenticity_agrees_with_the_principles_and_the_tools(result):
    s = result.schools
    bits = s["principle_bits"].astype(np.uint8)
    counted = np.unpackbits(bits[..., None], axis=-1).sum(axis=-1)
    assert (counted == s["principles_practised"]).all()
    authentic = s["authenticity"] == 2
    assert (s["principles_practised"][authentic] == 6).all()
    partial_without_principles = (s["authenticity"] == 1) & (s["principles_practised"] == 0)
    assert s["tool_use"][partial_without_principles].all()


def test_delivered_visits_never_exceed_what_was_planned_in_total(result):
    planned = result.metric("visits_planned").sum(axis=1)
    delivered = result.metric("visits_delivered").sum(axis=1)
    assert (delivered <= planned + 1e-9).all()
