"""Capacity-gated rollout (rollout.capacity_gate): a later cohort waits until the hub can carry it."""

import numpy as np
import pytest
from conftest import small

from improvesim.sim.engine import run_replicates
from improvesim.sim.params import load_scenario
from improvesim.sim.state import Engagement
from improvesim.sim.submodels import calendar, central_office

SETTING = {
    "district.schools": 10,
    "rollout.initial_schools": 3,
    "rollout.cohort_size": 4,
    "rollout.cohort_interval_months": 12,
    "governance.participation": "required",
    "knowledge.schools_per_hub_staff": 5.0,
}


def invited_after_a_year(gate: int, hub_staff: float) -> int:
    pv, st = small(SETTING | {"rollout.capacity_gate": gate, "knowledge.hub_staff": hub_staff}, schools=10)
    st.engagement[:] = Engagement.NOT_INVITED
    for month in (0, 12):
        central_office.rollout(st, pv, calendar.calendar_and_shocks(st, pv, month), np.zeros((1, 10)))
    return int((st.engagement[0] != Engagement.NOT_INVITED).sum())


@pytest.mark.parametrize(
    "gate,hub_staff,invited",
    [
        (0, 1.0, 7),  # no gate: the cohort comes on schedule
        (1, 1.0, 3),  # a hub for 5 schools cannot carry 3 + 4: the cohort waits
        (1, 2.0, 7),  # a hub for 10 schools can
    ],
)
def test_a_cohort_waits_for_room_at_the_hub(gate, hub_staff, invited):
    assert invited_after_a_year(gate, hub_staff) == invited


def test_the_gate_off_changes_nothing():
    p = load_scenario("plans/phased_rollout").with_overrides({"run.years": 3})
    off = run_replicates(p, 3, 4).district
    again = run_replicates(p.with_overrides({"rollout.capacity_gate": 0}), 3, 4).district
    assert np.array_equal(off, again, equal_nan=True)


def test_a_gated_rollout_only_delays_cohorts():
    p = load_scenario("plans/capacity_gated_rollout").with_overrides({"run.years": 5})
    result = run_replicates(p, 4, 2)
    invited = result.metric("invited_share") * p["district.schools"]
    ungated = run_replicates(p.with_overrides({"rollout.capacity_gate": 0}), 4, 2)
    assert (invited[:, -1] <= ungated.metric("invited_share")[:, -1] * p["district.schools"]).all()
