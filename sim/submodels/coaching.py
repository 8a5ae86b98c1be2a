"""Coaching: coaches split limited hours over their caseload.

Participating schools are dealt to the coaches in post in turn.  A coach
can make ``hours_per_month / hours_per_visit`` visits a month; each school
is planned ``coaching.visits_per_month`` but gets at most its share of the
coach's capacity, and a school under pressure cancels some (seed 003:
monthly planned, about quarterly delivered).  Paused schools are visited at
half the rate, to win them back.  A visit raises skill by role (seed 001:
differentiate learning by role; leaders more than teachers), by the coach's
skill and less at large caseloads (Kraft, Blazar and Hogan 2018), and helps
the team understand its problem; a pandemic makes visits virtual and weaker.
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.jit import kernel
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, FIRST_TEACHER, PAUSED, ParamVectors, State
from improvesim.sim.submodels.calendar import Calendar

#: Relative loss of a visit's effect under a full-severity pandemic (virtual visits).
PANDEMIC_COACHING_LOSS = 0.5
#: Understanding gained from one fully effective visit (share of the gap).
UNDERSTANDING_PER_VISIT = 0.15


def assign_caseloads(st: State) -> np.ndarray:
    """Deal participating schools to coaches in post; set ``st.coach_of``.

    Returns the caseload (R,) of each run's coaches (schools per coach, 0
    when there is no coach).
    """
    caseload = np.empty(st.runs)
    _deal_caseloads(st.engagement, st.coach_position, st.coach_filled, st.coach_of, caseload)
    return caseload


@kernel
def _deal_caseloads(engagement, coach_position, coach_filled, coach_of, caseload):
    """Deal each run's participating (engaged or paused) schools, in school
    order, to its coaches in post, in seat order, in turn.

    Writes ``coach_of`` (R, S), the seat of a school's coach (-1 for none),
    and ``caseload`` (R,), schools per coach rounded up (0.0 without coaches).
    """
    runs, schools = engagement.shape
    in_post = np.empty(coach_position.shape[1], dtype=np.int64)  # seats of the coaches in post
    for r in range(runs):
        n_coaches = 0
        for c in range(coach_position.shape[1]):
            if coach_position[r, c] and coach_filled[r, c]:
                in_post[n_coaches] = c
                n_coaches += 1
        n_part = 0
        for s in range(schools):
            if engagement[r, s] in (ENGAGED, PAUSED):
                coach_of[r, s] = in_post[n_part % n_coaches] if n_coaches > 0 else -1
                n_part += 1
            else:
                coach_of[r, s] = -1
        caseload[r] = np.ceil(n_part / n_coaches) if n_coaches > 0 else 0.0


def delivered_visits(st: State, pv: ParamVectors, cal: Calendar, caseload: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Visits (R, S) each school gets this month; ``u`` is (R, S)."""
    visits = np.zeros_like(st.visits)
    if not cal.summer:
        _deliver_visits(
            visits,
            st.engagement,
            st.coach_of,
            caseload,
            pv.col("coaching.hours_per_month"),
            pv.col("coaching.hours_per_visit"),
            pv.col("coaching.visits_per_month"),
            cal.pressure,
            u,
        )
    return visits


@kernel
def _deliver_visits(
    visits, engagement, coach_of, caseload, hours_per_month, hours_per_visit, visits_per_month, pressure, u
):
    """Visits (R, S) delivered in a school month, written to ``visits``.

    A school with a coach is planned ``visits_per_month`` (R,), at most its
    share of the coach's ``hours_per_month / hours_per_visit`` visits over the
    ``caseload`` (R,), half that when paused.  Pressure (R, S, 0-1) cancels
    up to half: of the expected visits it gets the whole ones and one more
    when ``u`` (R, S) falls below the fraction.  Returns whether any school
    got a visit.
    """
    runs, schools = visits.shape
    any_visit = False
    for r in range(runs):
        capacity = hours_per_month[r] / hours_per_visit[r]
        per_school = min(visits_per_month[r], capacity / max(caseload[r], 1.0))
        for s in range(schools):
            rate = (0.5 if engagement[r, s] == PAUSED else 1.0) * (1.0 if coach_of[r, s] >= 0 else 0.0)
            expected = per_school * rate * (1.0 - 0.5 * pressure[r, s])
            whole = np.floor(expected)
            visits[r, s] = whole + (1.0 if u[r, s] < expected - whole else 0.0)
            any_visit |= visits[r, s] != 0.0
    return any_visit


def visit_effect(st: State, pv: ParamVectors, cal: Calendar, caseload: np.ndarray) -> np.ndarray:
    """Effect (R, S) of one visit: coach skill, lower at scale and when virtual."""
    effect = np.empty(st.coach_of.shape)
    _visit_effects(effect, st.coach_skill, st.coach_of, caseload, pv.col("coaching.scale_caseload"), cal.pandemic)
    return effect


@kernel
def _visit_effects(effect, coach_skill, coach_of, caseload, scale_caseload, pandemic):
    """Effect (R, S) of one visit, written to ``effect``: the skill (0-1) of the
    school's coach (seat 0's for a school without one) times
    ``1 / (1 + caseload / scale_caseload)``, times ``1 - 0.5 * pandemic``
    (severity (R, 1), 0-1) for virtual visits."""
    runs, schools = effect.shape
    for r in range(runs):
        scale = 1.0 / (1.0 + (caseload[r] / scale_caseload[r]))
        virtual = 1.0 - PANDEMIC_COACHING_LOSS * pandemic[r, 0]
        for s in range(schools):
            effect[r, s] = coach_skill[r, max(coach_of[r, s], 0)] * scale * virtual


@kernel
def _role_effect(seat, effect_leaders, effect_teachers):
    """Skill gain per unit of visit for ``seat``: the principal, assistant
    principal and lead learn as leaders, the rest as teachers."""
    return effect_leaders if seat < FIRST_TEACHER else effect_teachers


def coaching(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> None:
    """Allocate visits and apply their effects (the draw ``visit_rounding``)."""
    _coach(
        st.engagement,
        st.coach_position,
        st.coach_filled,
        st.coach_of,
        st.coach_skill,
        st.visits,
        st.skill,
        st.understanding,
        pv.col("coaching.hours_per_month"),
        pv.col("coaching.hours_per_visit"),
        pv.col("coaching.visits_per_month"),
        pv.col("coaching.scale_caseload"),
        pv.col("coaching.effect_leaders"),
        pv.col("coaching.effect_teachers"),
        cal.summer,
        cal.pressure,
        cal.pandemic,
        draws.visit_rounding,
    )


@kernel
def _coach(
    engagement,
    coach_position,
    coach_filled,
    coach_of,
    coach_skill,
    visits,
    skill,
    understanding,
    hours_per_month,
    hours_per_visit,
    visits_per_month,
    scale_caseload,
    effect_leaders,
    effect_teachers,
    summer,
    pressure,
    pandemic,
    u,
):
    """The coaching month: deal the caseloads, deliver visits (none in summer)
    and, when any school got one, apply their dose (visits x effect of one).

    A seat gains ``min(dose x role effect, 1)`` of its gap to full skill, the
    school ``min(0.15 dose, 1)`` of its gap to full understanding.
    """
    caseload = np.empty(engagement.shape[0])
    _deal_caseloads(engagement, coach_position, coach_filled, coach_of, caseload)
    if summer:
        visits[:] = 0.0
        return
    any_visit = _deliver_visits(
        visits, engagement, coach_of, caseload, hours_per_month, hours_per_visit, visits_per_month, pressure, u
    )
    if not any_visit:
        return
    effect = np.empty(visits.shape)
    _visit_effects(effect, coach_skill, coach_of, caseload, scale_caseload, pandemic)
    runs, schools = visits.shape
    for r in range(runs):
        for s in range(schools):
            dose = visits[r, s] * effect[r, s]
            for k in range(skill.shape[0]):
                gain = min(dose * _role_effect(k, effect_leaders[r], effect_teachers[r]), 1.0)
                skill[k, r, s] = skill[k, r, s] + gain * (1.0 - skill[k, r, s])
            understanding[r, s] = understanding[r, s] + min(UNDERSTANDING_PER_VISIT * dose, 1.0) * (
                1.0 - understanding[r, s]
            )
