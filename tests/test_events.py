"""The event log: each event fires in a situation that should cause it, and stories agree with the states."""

import numpy as np
import pytest
from conftest import ROOT, draws, small

from improvesim.analysis.story import school_story, when
from improvesim.sim.events import EVENT_TEXT
from improvesim.sim.model import DistrictModel
from improvesim.sim.params import load_scenario
from improvesim.sim.state import LEAD, Authenticity, Engagement
from improvesim.sim.submodels import (
    calendar,
    central_office,
    coaching,
    improvement,
    institutionalization,
    sensemaking,
    turnover,
)


def recording(overrides=None, **kw):
    pv, st = small(overrides, **kw)
    st.events = [[]]
    return pv, st


def kinds(st) -> set[str]:
    return {e.kind for e in st.events[0]}


def cal(st, pv, month=0):
    return calendar.calendar_and_shocks(st, pv, month)


def staff_leave(st, pv, seats, u_continue):
    u = np.ones(st.skill.shape)
    u[list(seats)] = 0.0
    turnover.staff_turnover(st, pv, cal(st, pv), draws(st, staff_exit=u, new_leader_continues=u_continue))


def test_invited_and_declined():
    pv, st = recording({"governance.participation": "optional"})
    st.engagement[:] = Engagement.NOT_INVITED
    st.joined[:] = False
    central_office.rollout(st, pv, cal(st, pv), np.array([[0.0, 0.0, 0.999, 0.999]]))
    assert {"invited", "declined"} <= kinds(st)
    assert sum(e.kind == "declined" for e in st.events[0]) == 2


@pytest.mark.parametrize(
    "seats,bench,u_continue,expected,absent",
    [
        ((0,), 0, 0.0, "principal_left", "lead_left"),
        ((LEAD,), 0, 0.0, "lead_left", "principal_left"),
        ((0, LEAD), 2, 0.0, "successor_stepped_up", "principal_left"),
        ((0,), 0, 0.999, "new_leader_dropped_work", "successor_stepped_up"),
    ],
)
def test_leaders_leaving(seats, bench, u_continue, expected, absent):
    pv, st = recording()
    st.bench[:] = bench
    st.skill[:] = 0.6
    staff_leave(st, pv, seats, u_continue)
    assert expected in kinds(st) and absent not in kinds(st)


def test_bench_grew():
    pv, st = recording({"succession.deep_bench": 1.0})
    st.skill[:] = 0.5
    institutionalization.grow_bench(st, pv, cal(st, pv), np.ones((1, 4), bool), draws(st, groom_successor=0.0))
    assert "bench_grew" in kinds(st)


def test_coach_left_and_grant_ended():
    pv, st = recording({"turnover.coach": 0.6})
    coaching.coaching(st, pv, cal(st, pv, 10), draws(st))  # (summer: caseloads dealt, no visits)
    turnover.coach_turnover(st, pv, cal(st, pv, 10), draws(st, coach_exit=0.0))
    assert "coach_left" in kinds(st)
    pv, st = recording({"coaching.funded_years": 1.0, "coaching.retained_after_grant": 0.0})
    st.coach_grant[:] = True
    coaching.coaching(st, pv, cal(st, pv, 10), draws(st))
    turnover.coach_turnover(st, pv, cal(st, pv, 12), draws(st, coach_exit=1.0))
    assert "grant_ended" in kinds(st)


def test_cycles_succeed_or_fail():
    for u_success, expected in ((0.0, "cycle_succeeded"), (0.999, "cycle_failed")):
        pv, st = recording({"improvement.cycle_months": 1.0})
        st.in_cycle[:] = True
        st.commitment[:] = 1.0  # full effort: the cycle finishes this month
        u = draws(st, cycle_start=0.0, cycle_success=u_success)
        improvement.improvement_work(st, pv, cal(st, pv), np.ones((1, 4)), u)
        assert kinds(st) == {expected}


def test_paused_resumed_opted_out_and_six_months():
    pv, st = recording({"sensemaking.pause_rate": 1.0, "sensemaking.opt_out_rate": 1.0, "sensemaking.resume_rate": 1.0})
    st.engagement[0] = [Engagement.ENGAGED, Engagement.PAUSED, Engagement.PAUSED, Engagement.PAUSED]
    st.spell[0] = [0, 1, 5, 5]
    stress = np.array([[1.0, 0.0, 1.0, 1.0]])
    st.commitment[:] = 0.0
    st.message[:] = 1.0  # an urgent message pulls the calm paused school back
    u = np.array([[0.0, 0.0, 0.5, 0.999]])
    sensemaking.sensemaking(st, pv, cal(st, pv), stress, draws(st, engagement_decision=u))
    assert {"paused", "resumed", "opted_out", "disengaged_6_months"} <= kinds(st)


def test_became_authentic_lapsed_faded_institutionalized_and_lost():
    pv, st = recording({"institution.hazard": 0.5, "institution.loss_hazard": 0.5})
    st.principles[:] = 0.9
    institutionalization.classify_authenticity(st, pv, 0)
    assert "became_authentic" in kinds(st)
    st.tenure[:] = 60
    st.embeddedness[:] = 1.0
    institutionalization.institutionalize(st, pv, cal(st, pv), draws(st, institutionalize=0.0))
    assert "institutionalized" in kinds(st)
    st.principles[:] = 0.1
    for month in range(1, 7):
        institutionalization.classify_authenticity(st, pv, month)
    assert {"faded", "run_charts_lapsed", "inquiry_lapsed"} <= kinds(st)
    st.stall[:] = 2  # a leader left with no successor
    institutionalization.institutionalize(st, pv, cal(st, pv), draws(st, institutionalize=0.0))
    assert "institutionalization_lost" in kinds(st)


def test_central_office_leaders_and_initiatives():
    for churn, expected in ((1.0, "competing_initiative"), (0.0, "new_central_office_leader")):
        pv, st = recording({"governance.initiative_churn": churn})
        turnover.central_office_turnover(st, pv, cal(st, pv, 10), draws(st, leader_leaves=0.0))
        assert expected in kinds(st)
        assert all(e.school == -1 for e in st.events[0])


def test_every_event_kind_is_covered_by_these_tests():
    source = (ROOT / "tests" / "test_events.py").read_text()
    assert [k for k in EVENT_TEXT if f'"{k}"' not in source] == []


@pytest.fixture(scope="module")
def story_run():
    model = DistrictModel(load_scenario(ROOT / "scenarios" / "grant_cliff.toml"), seed=3)
    result = model.run()
    return model.events, {k: v[0] for k, v in result.schools.items()}


def test_the_story_agrees_with_the_recorded_states(story_run):
    events, records = story_run
    expect = {
        "paused": lambda m, s: records["engagement"][m, s] == Engagement.PAUSED,
        "resumed": lambda m, s: records["engagement"][m, s] == Engagement.ENGAGED,
        "opted_out": lambda m, s: records["engagement"][m, s] == Engagement.OPTED_OUT,
        "declined": lambda m, s: records["engagement"][m, s] == Engagement.OPTED_OUT,
        "became_authentic": lambda m, s: records["authenticity"][m, s] == Authenticity.AUTHENTIC,
        "institutionalized": lambda m, s: records["institutionalized"][m, s],
        "faded": lambda m, s: records["faded"][m, s],
        "principal_left": lambda m, s: records["stalled"][m, s] or records["engagement"][m, s] != Engagement.ENGAGED,
    }
    checked = 0
    for e in events:
        if e.kind in expect and e.school >= 0:
            assert expect[e.kind](e.month, e.school), (e, when(e.month))
            checked += 1
    assert checked > 50


def test_a_school_story_reads_in_months_and_years(story_run):
    events, records = story_run
    lines = school_story(events, records, school=2)
    assert lines[0].startswith("Year 1, August: the school was invited")
    assert sum(line.startswith("-- End of year") for line in lines) == 10
