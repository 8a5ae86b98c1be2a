"""Rule tests: each submodel on small hand-made states."""

import numpy as np
import pytest
from conftest import draws, small
from hypothesis import given, settings
from hypothesis import strategies as st_

from improvesim.sim.jit import at_run, coefficients, named
from improvesim.sim.schema import BY_NAME
from improvesim.sim.state import LEAD, PRINCIPAL, Authenticity, Engagement, team_mean
from improvesim.sim.submodels import (
    calendar,
    central_office,
    coaching,
    improvement,
    institutionalization,
    network,
    sensemaking,
    time_use,
    turnover,
)

AUGUST, APRIL, JUNE = 0, 8, 10


def cal_for(st, pv, month=AUGUST, pressure=None):
    cal = calendar.calendar_and_shocks(st, pv, month)
    if pressure is not None:
        cal = calendar.Calendar(
            cal.month,
            cal.summer,
            cal.testing,
            cal.pandemic,
            cal.hub_loss,
            cal.grant_active,
            np.full_like(cal.pressure, pressure),
        )
    return cal


# --- calendar and shocks ----------------------------------------------------


def test_calendar_knows_summer_and_testing_season():
    pv, st = small()
    assert calendar_flags(pv, st, JUNE) == (True, False)
    assert calendar_flags(pv, st, APRIL) == (False, True)
    assert calendar_flags(pv, st, AUGUST + 12) == (False, False)


def calendar_flags(pv, st, month):
    c = calendar.calendar_and_shocks(st, pv, month)
    return c.summer, c.testing


def test_testing_season_and_pandemic_raise_pressure():
    from improvesim.sim.params import Shock

    pv, st = small()
    base = calendar.calendar_and_shocks(st, pv, AUGUST).pressure
    assert (calendar.calendar_and_shocks(st, pv, APRIL).pressure > base).all()
    pv2, st2 = small()
    pv2.shock_start[:], pv2.shock_end[:], pv2.shock_severity[:], pv2.shock_kind[:] = 1, 5, 0.8, calendar.PANDEMIC
    during = calendar.calendar_and_shocks(st2, pv2, 3)
    assert during.pandemic[0, 0] == 0.8 and (during.pressure > base).all()
    assert calendar.calendar_and_shocks(st2, pv2, 5).pandemic[0, 0] == 0.0
    assert isinstance(Shock("pandemic", 1, 4, 0.8).as_dict(), dict)


def test_convenings_are_spread_over_the_school_year():
    table = calendar.convening_months(np.array([0, 3, 10]))
    assert table.sum(axis=1).tolist() == [0, 3, 10]
    assert not table[:, list(calendar.SUMMER)].any()


# --- turnover ----------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.05, 0.16, 0.2, 0.45])
@pytest.mark.parametrize("summer_share", [0.0, 0.75, 1.0])
def test_monthly_hazards_give_the_annual_rate(rate, summer_share):
    survive = np.prod([1 - turnover.monthly_hazard(np.array(rate), np.array(summer_share), m) for m in range(12)])
    assert survive == pytest.approx(1 - rate, rel=1e-12)


def test_most_exits_fall_in_summer():
    h = lambda m: turnover.monthly_hazard(np.array(0.16), np.array(0.75), m)  # noqa: E731
    assert h(JUNE) > 5 * h(AUGUST)


def everyone_leaves(pv, st, u_continue=0.99):
    cal = cal_for(st, pv)
    # every uniform below every hazard
    return turnover.staff_turnover(st, pv, cal, draws(st, staff_exit=0.0, new_leader_continues=u_continue))


def test_replacements_start_as_novices_without_onboarding():
    pv, st = small({"succession.onboarding": 0.0, "knowledge.management": 0.0, "district.initial_skill": 0.1})
    st.skill[:] = 0.9
    st.embeddedness[:] = 0.9
    everyone_leaves(pv, st)
    assert (st.skill < 0.16).all() and (st.tenure == 0).all()


def test_onboarding_and_embedded_routines_carry_skill_over():
    pv, st = small({"succession.onboarding": 1.0, "knowledge.management": 0.0})
    st.skill[:] = 0.9
    st.embeddedness[:] = 0.8
    everyone_leaves(pv, st)
    assert (st.skill > 0.6).all()


def test_losing_the_lead_without_a_bench_stalls_the_work():
    pv, st = small({"succession.stall_months": 6})
    st.bench[:] = 0
    everyone_leaves(pv, st)
    assert (st.stall == 6).all()


def test_embeddedness_shortens_the_stall():
    pv, st = small({"succession.stall_months": 6})
    st.embeddedness[:] = 0.5
    everyone_leaves(pv, st)
    assert (st.stall == 3).all()


def test_a_deep_bench_successor_steps_up():
    pv, st = small()
    st.bench[:] = 2
    st.skill[:] = 0.7
    st.commitment[:] = 0.8
    everyone_leaves(pv, st)
    assert (st.stall == 0).all() and (st.bench == 0).all()
    assert (st.skill[PRINCIPAL] >= 0.4).all() and (st.skill[LEAD] >= 0.4).all()


def test_one_successor_covers_one_seat():
    pv, st = small({"succession.stall_months": 6})
    st.bench[:] = 1
    st.skill[:] = 0.7
    everyone_leaves(pv, st)  # principal and lead leave together: the successor takes the principal's seat
    assert (st.bench == 0).all() and (st.stall == 6).all()


def test_the_bench_leaves_with_its_skilled_staff():
    pv, st = small()
    st.bench[:] = 2
    st.skill[:] = 0.1  # nobody on the team is skilled enough to be a successor
    everywhere = turnover._schools_left(np.ones(st.bench.shape, dtype=bool))
    turnover._bench_keeps_only_skilled_staff(st.skill, st.bench, everywhere)
    assert (st.bench == 0).all()


def test_a_new_principal_may_drop_the_work():
    pv, st = small()
    st.commitment[:] = 0.6
    everyone_leaves(pv, st, u_continue=0.99)  # above any continue chance: dropped
    dropped = team_mean(st.commitment, st.weights)
    pv2, st2 = small()
    st2.commitment[:] = 0.6
    everyone_leaves(pv2, st2, u_continue=0.0)  # continued
    assert (dropped < team_mean(st2.commitment, st2.weights)).all()


def test_grant_end_closes_positions_unless_retained():
    for retained, open_positions in [(0.0, 0), (0.5, 1), (1.0, 2)]:
        pv, st = small({"coaching.funded_years": 1.0, "coaching.retained_after_grant": retained})
        st.coach_grant[:] = True
        cal = cal_for(st, pv, month=12)
        assert not cal.grant_active.any()
        turnover.coach_turnover(st, pv, cal, draws(st, coach_exit=1.0))
        assert st.coach_position.sum() == open_positions and not st.coach_grant.any()


def test_a_coach_vacancy_is_filled_after_the_vacancy_months():
    pv, st = small({"coaching.vacancy_months": 2, "turnover.coach": 0.6})
    cal = cal_for(st, pv, month=JUNE)
    turnover.coach_turnover(st, pv, cal, draws(st, coach_exit=0.0))
    assert not st.coach_filled.any()
    filled_at = None
    for m in range(1, 6):
        turnover.coach_turnover(st, pv, cal_for(st, pv, month=JUNE + m), draws(st, coach_exit=1.0))
        if st.coach_filled.all() and filled_at is None:
            filled_at = m
    assert filled_at == 2  # vacant for two months, filled in the second after the exit


def test_a_new_central_office_leader_with_an_initiative_halves_priority_and_adds_fatigue():
    pv, st = small({"governance.initiative_churn": 1.0})
    turnover.central_office_turnover(st, pv, cal_for(st, pv, month=JUNE), draws(st, fill=0.0))
    assert st.priority[0] == pytest.approx(0.4) and st.initiative_months[0] == pv["governance.initiative_length"][0, 0]
    assert (st.fatigue > 0).all() and st.leader_changes[0] == 1


# --- central office -----------------------------------------------------------


def test_consistent_messaging_builds_the_felt_message():
    pv, st = small({"messaging.consistency": 1.0})
    pv_never, st_never = small({"messaging.consistency": 0.0})
    for _ in range(12):
        central_office.messaging(st, pv, np.array([0.5]))
        central_office.messaging(st_never, pv_never, np.array([0.5]))
    assert st.message[0] > 0.2 and st_never.message[0] == 0.0


def test_rollout_invites_cohorts_in_order():
    pv, st = small(
        {
            "district.schools": 10,
            "rollout.initial_schools": 3,
            "rollout.cohort_size": 4,
            "rollout.cohort_interval_months": 12,
            "governance.participation": "required",
        },
        schools=10,
    )
    st.engagement[:] = Engagement.NOT_INVITED
    central_office.rollout(st, pv, cal_for(st, pv, 0), np.zeros((1, 10)))
    assert (st.engagement[0] != 0).tolist() == [True] * 3 + [False] * 7
    central_office.rollout(st, pv, cal_for(st, pv, 6), np.zeros((1, 10)))
    assert (st.engagement != 0).sum() == 3
    central_office.rollout(st, pv, cal_for(st, pv, 12), np.zeros((1, 10)))
    assert (st.engagement[0] != 0).tolist() == [True] * 7 + [False] * 3
    assert (st.engagement[0, :7] == Engagement.ENGAGED).all()  # a mandate: everyone joins


def test_optional_invitations_can_be_declined():
    pv, st = small({"governance.participation": "optional"})
    st.engagement[:] = Engagement.NOT_INVITED
    st.joined[:] = False
    central_office.rollout(st, pv, cal_for(st, pv, 0), np.full((1, 4), 0.999))
    assert (st.engagement == Engagement.OPTED_OUT).all() and not st.joined.any()


def test_hub_capacity_falls_with_load():
    pv, st = small({"knowledge.hub_staff": 1.0, "knowledge.schools_per_hub_staff": 2.0})
    central_office.hub_capacity(st, pv, cal_for(st, pv))
    assert st.hub_capacity[0] == pytest.approx(0.5)  # 4 participating schools, capacity for 2


def test_a_severe_pandemic_cancels_convenings():
    pv, st = small()
    schedule = np.ones((1, 12), dtype=bool)
    cal = cal_for(st, pv)
    central_office.convene(st, pv, cal, schedule)
    assert st.convening[0]
    pandemic = calendar.Calendar(
        cal.month, cal.summer, cal.testing, np.array([[0.9]]), cal.hub_loss, cal.grant_active, cal.pressure
    )
    central_office.convene(st, pv, pandemic, schedule)
    assert not st.convening[0]


def test_costs_add_up_from_their_parts():
    pv, st = small(
        {
            "costs.coach_salary": 120_000.0,
            "time.protected_hours": 5.0,
            "costs.staff_hourly": 40.0,
            "knowledge.hub_staff": 1.0,
            "costs.hub_salary": 60_000.0,
            "costs.convening": 3_000.0,
        }
    )
    st.convening[:] = True
    st.bench[:] = 1
    central_office.costs(st, pv, cal_for(st, pv))
    expected = 2 * 10_000 + 4 * 5 * 6 * 40 + 3_000 + 5_000 + 4 * 3_000 / 12
    assert st.cost_month[0] == pytest.approx(expected) and st.cost_total[0] == pytest.approx(expected)
    central_office.costs(st, pv, cal_for(st, pv, JUNE))  # summer: no protected time
    assert st.cost_month[0] == pytest.approx(expected - 4 * 5 * 6 * 40)


# --- coaching ------------------------------------------------------------------


def deal_caseloads(st):
    """The production kernel's caseloads (R,), setting ``st.coach_of``."""
    caseload = np.empty(st.runs)
    coaching._deal_caseloads(st.engagement, st.coach_position, st.coach_filled, st.coach_of, caseload)
    return caseload


def test_caseloads_are_dealt_in_turn():
    pv, st = small(schools=5, coaches=2)
    st.engagement[0, 2] = Engagement.OPTED_OUT
    caseload = deal_caseloads(st)
    assert st.coach_of[0].tolist() == [0, 1, -1, 0, 1] and caseload[0] == 2


def visits_after_coaching(overrides=None, month=AUGUST, pressure=0.0, u=0.5):
    pv, st = small(overrides)
    coaching.coaching(st, pv, cal_for(st, pv, month, pressure=pressure), draws(st, visit_rounding=u))
    return st.visits


def test_capacity_limits_delivered_visits():
    # 2 coaches x (12 h / 6 h) = 4 visits for 4 schools planned 2 each: 1 each
    visits = visits_after_coaching(
        {"coaching.hours_per_month": 12.0, "coaching.hours_per_visit": 6.0, "coaching.visits_per_month": 2.0}
    )
    assert visits.tolist() == [[1.0] * 4]


def test_no_visits_in_summer_and_pressure_cancels_some():
    assert not visits_after_coaching(month=JUNE, u=0.0).any()
    calm = visits_after_coaching(pressure=0.0, u=0.7)
    busy = visits_after_coaching(pressure=1.0, u=0.7)
    assert calm.sum() > busy.sum()


def test_visits_teach_leaders_more_than_teachers():
    pv, st = small({"coaching.effect_leaders": 0.1, "coaching.effect_teachers": 0.02})
    st.skill[:] = 0.2
    coaching.coaching(st, pv, cal_for(st, pv, pressure=0.0), draws(st, visit_rounding=0.0))
    gain = st.skill[:, 0, 0] - 0.2
    assert gain[PRINCIPAL] > gain[5] > 0


def test_coaching_is_weaker_at_scale():
    pv, st = small()
    deal_caseloads(st)
    c = named(coaching.CoachingCoefficients, coefficients(coaching.CoachingCoefficients, pv))
    effect = {}
    for caseload in (2.0, 30.0):
        effect[caseload] = np.empty(st.coach_of.shape)
        coaching._visit_effects(
            effect[caseload], st.coach_skill, st.coach_of, np.array([caseload]), c, np.zeros((1, 1))
        )
    assert (effect[2.0] > effect[30.0]).all()


# --- time ------------------------------------------------------------------------


def test_integrated_work_keeps_its_time_added_work_is_crowded_out():
    pv_int, st = small({"time.integrated": 1.0, "time.protected_hours": 8.0, "time.hours_needed": 8.0})
    pv_add, _ = small({"time.integrated": 0.0, "time.protected_hours": 8.0, "time.hours_needed": 8.0})
    cal = cal_for(st, pv_int, pressure=0.6)
    no_knowledge = np.zeros((1, 4))
    assert time_use.time_ratio(pv_int, cal, no_knowledge).min() == 1.0
    assert time_use.time_ratio(pv_add, cal, no_knowledge).max() < 1.0


# --- sensemaking --------------------------------------------------------------------


def test_commitment_drifts_above_the_threshold_and_also_reverts_below_it():
    pv, st = small({"sensemaking.threshold": 0.5, "sensemaking.drift": 0.01})
    no_stress = np.zeros((1, 4))
    st.commitment[:, :, :2] = 0.8
    st.commitment[:, :, 2:] = 0.2
    for _ in range(24):  # no message, visits or results: zero drive
        sensemaking.sensemaking(st, pv, cal_for(st, pv), no_stress, draws(st))
    c = team_mean(st.commitment, st.weights)[0]
    rate, drift = pv["sensemaking.reversion_rate"][0, 0], pv["sensemaking.drift"][0, 0]
    assert c[0] == pytest.approx(0.8 * (1 - drift) ** 24) and c[3] == pytest.approx(0.2 * (1 - rate - drift) ** 24)


def test_results_raise_commitment_and_stress_lowers_it():
    pv, st = small()
    st.commitment[:] = 0.3
    st.results[:, :2] = 1.0
    sensemaking.sensemaking(st, pv, cal_for(st, pv), np.array([[0.0, 0.0, 1.0, 1.0]]), draws(st))
    c = team_mean(st.commitment, st.weights)[0]
    assert c[0] > 0.3 > c[2]


def test_a_mandate_forbids_opting_out_optional_lets_stressed_schools_leave():
    for participation, can_leave in [("required", False), ("optional", True)]:
        pv, st = small(
            {"governance.participation": participation, "sensemaking.opt_out_rate": 1.0, "sensemaking.resume_rate": 0.0}
        )
        st.engagement[:] = Engagement.PAUSED
        st.spell[:] = 5
        sensemaking.sensemaking(st, pv, cal_for(st, pv), np.ones((1, 4)), draws(st, engagement_decision=0.999))
        assert ((st.engagement == Engagement.OPTED_OUT).all()) == can_leave


def test_no_decisions_in_summer_and_spells_are_counted():
    pv, st = small({"sensemaking.pause_rate": 1.0})
    sensemaking.sensemaking(st, pv, cal_for(st, pv, JUNE), np.ones((1, 4)), draws(st, engagement_decision=0.0))
    assert (st.engagement == Engagement.ENGAGED).all()
    for _ in range(6):
        sensemaking.sensemaking(st, pv, cal_for(st, pv), np.ones((1, 4)), draws(st, engagement_decision=0.0))
    assert (st.engagement == Engagement.PAUSED).all() and (st.max_spell >= 5).all()


# --- improvement work --------------------------------------------------------------------


def success_chances(pv, understanding, team_skill, knowledge=0.0):
    """The production rule's chances for one run's coefficients, school by school."""
    c = at_run(named(improvement.ImprovementCoefficients, improvement.improvement_coefficients(pv)), 0)
    return np.array([improvement.success_chance_at(c, team_skill, u, knowledge, knowledge) for u in understanding])


def test_success_depends_on_skill_and_understanding_first():
    pv, _ = small()
    p = success_chances(pv, [0.0, 0.49, 0.5, 1.0], team_skill=0.15)
    assert p[0] < p[1] < p[2] < p[3]
    assert p[2] - p[1] > pv["improvement.solutionitis_penalty"][0, 0] * 0.9  # the solutionitis step
    assert (success_chances(pv, [0.0, 0.49, 0.5, 1.0], team_skill=0.9) > p).all()
    assert (success_chances(pv, [0.0, 0.49, 0.5, 1.0], team_skill=0.15, knowledge=1.0) > p).all()


def test_a_cycle_takes_cycle_months_at_full_pace_and_twice_that_at_half():
    for ratio, months in [(1.0, 2), (0.5, 4)]:
        pv, st = small({"improvement.cycle_months": 2.0})
        st.commitment[:] = 1.0  # full priority: the effort is the time
        cal = cal_for(st, pv)
        finished_at = None
        for m in range(1, 8):
            improvement.improvement_work(st, pv, cal, np.full((1, 4), ratio), draws(st, cycle_start=0.0))
            if (st.cycles_done > 0).all() and finished_at is None:
                finished_at = m
        assert finished_at == months


def test_principles_grow_with_commitment_and_decay_without_work():
    pv, st = small()
    cal = cal_for(st, pv)
    st.principles[:] = 0.4
    st.commitment[:, :, :2] = 0.9
    st.commitment[:, :, 2:] = 0.05
    for _ in range(12):
        improvement.improvement_work(st, pv, cal, np.ones((1, 4)), draws(st))
    committed, ceremonial = st.principles[:, 0, 0], st.principles[:, 0, 3]
    assert (committed > ceremonial).all()
    pv2, st2 = small()
    st2.principles[:] = 0.6
    busy = improvement.improvement_work(st2, pv2, cal, np.zeros((1, 4)), draws(st2))  # no time: no work
    assert not busy.any() and (st2.principles < 0.6).all()


# --- network and knowledge -----------------------------------------------------------------


def test_convenings_spread_bright_spots():
    pv, st = small()
    st.principles[:, 0, 0] = 0.9
    st.results[0, 0] = 1.0
    st.convening[:] = True
    network.network(st, pv)
    assert (st.principles[:, 0, 1:] > 0).all()
    pv2, st2 = small()
    st2.principles[:, 0, 0] = 0.9
    st2.results[0, 0] = 1.0
    network.network(st2, pv2)  # no convening this month
    assert (st2.principles[:, 0, 1:] == 0).all()


def networking_after_a_convening(overrides):
    pv, st = small(overrides)
    st.convening[:] = True
    network.network(st, pv)
    return st.principles[improvement.NETWORKS, 0]


def test_a_common_aim_strengthens_networking():
    aim = networking_after_a_convening({"governance.top_down_support": 1.0, "governance.school_autonomy": 0.0})
    no_aim = networking_after_a_convening({"governance.top_down_support": 0.0, "governance.school_autonomy": 1.0})
    assert (aim > no_aim).all() and (no_aim > 0).all()


def test_documented_successes_grow_the_knowledge_base():
    pv, st = small({"knowledge.management": 1.0})
    success = np.array([[True, True, False, False]])
    improvement._document_successes(st.joined, success, pv.col("knowledge.management"), st.knowledge_base)
    assert st.knowledge_base[0] == pytest.approx(0.5)


# --- institutionalization -------------------------------------------------------------------------


def test_embeddedness_grows_faster_when_integrated_and_decays_without_practice():
    pv_int, st_int = small({"time.integrated": 1.0})
    pv_add, st_add = small({"time.integrated": 0.0})
    for st in (st_int, st_add):
        st.principles[:] = 0.8
        st.commitment[:] = 0.8
        st.effort[:] = 1.0
    busy = np.ones((1, 4), bool)
    institutionalization.embed(st_int, pv_int, cal_for(st_int, pv_int), busy)
    institutionalization.embed(st_add, pv_add, cal_for(st_add, pv_add), busy)
    assert (st_int.embeddedness > st_add.embeddedness).all()
    st_int.embeddedness[:] = 0.5
    institutionalization.embed(st_int, pv_int, cal_for(st_int, pv_int), ~busy)
    assert (st_int.embeddedness < 0.5).all()


def test_authenticity_classes_and_fading():
    pv, st = small()
    st.principles[:] = 0.0
    st.principles[:, 0, 0] = 0.9
    st.principles[:3, 0, 1] = 0.9
    institutionalization.classify_authenticity(st, pv, 0)
    assert st.authenticity[0, :2].tolist() == [Authenticity.AUTHENTIC, Authenticity.PARTIAL]
    assert st.authenticity[0, 2] == Authenticity.INAUTHENTIC
    st.principles[:, 0, 0] = 0.1
    for month in range(1, 7):
        institutionalization.classify_authenticity(st, pv, month)
    from improvesim.sim.outcomes import Recorder

    recorder = Recorder(st.runs, 7, st.schools)
    recorder.record(6, st, pv["improvement.practice_threshold"], np.zeros(st.runs))
    assert recorder.schools["faded"][0, 6].tolist() == [True, False, False, False]


def test_a_succession_plan_grows_the_bench_up_to_two():
    pv, st = small({"succession.deep_bench": 1.0})
    st.skill[:] = 0.5
    busy = np.ones((1, 4), bool)
    for _ in range(5):
        institutionalization.grow_bench(st, pv, cal_for(st, pv), busy, draws(st, groom_successor=0.0))
    assert (st.bench == 2).all()
    pv0, st0 = small({"succession.deep_bench": 0.0})
    st0.skill[:] = 0.5
    institutionalization.grow_bench(st0, pv0, cal_for(st0, pv0), busy, draws(st0, groom_successor=0.0))
    assert (st0.bench == 0).all()


def _schema_range(section: str, field: str) -> st_.SearchStrategy:
    p = BY_NAME[f"{section}.{field}"]
    return st_.floats(float(p.low), float(p.high))


@settings(max_examples=300, deadline=None)
@given(
    coefficients=st_.tuples(
        *(
            _schema_range("time" if f == "integrated" else "institution", f)
            for f in institutionalization.InstitutionCoefficients._fields
        )
    ),
    embeddedness=st_.floats(0.0, 1.0),
    bench=st_.integers(0, 2),
    tenure=st_.integers(0, 240),
)
def test_the_institution_hazard_never_exceeds_its_bound(coefficients, embeddedness, bench, tenure):
    """The kernel skips the power of embeddedness where the draw is at or above the bound: that
    is exact only if no hazard within the schema's ranges exceeds it."""
    c = institutionalization.InstitutionCoefficients(*coefficients)
    hazard = institutionalization.institution_hazard_at(c, embeddedness, bench, tenure)
    assert hazard <= institutionalization.institution_hazard_bound_at(c, bench)
