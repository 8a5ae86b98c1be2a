"""Coaching: coaches split limited hours over their caseload.

Participating schools are dealt to the coaches in post in turn.  A coach
can make ``hours_per_month / hours_per_visit`` visits a month; each school
is planned ``coaching.visits_per_month`` but gets at most its share of the
coach's capacity, and a school under pressure cancels some (seed 003:
monthly planned, about quarterly delivered).  Paused schools are visited at
a reduced rate, to win them back.  A visit raises skill by role (seed 001:
differentiate learning by role; leaders more than teachers), by the coach's
skill and less at large caseloads (Kraft, Blazar and Hogan 2018), and helps
the team understand its problem; a pandemic makes visits virtual and weaker.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.jit import coefficients, kernel, named, pick, step
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, FIRST_TEACHER, PAUSED, ParamVectors, State, understanding_per_visit
from improvesim.sim.submodels.calendar import Calendar


class CoachingState(NamedTuple):
    """The state arrays the coaching month reads and writes."""

    engagement: np.ndarray  # (R, S) Engagement
    coach_position: np.ndarray  # (R, C)
    coach_filled: np.ndarray  # (R, C)
    coach_of: np.ndarray  # (R, S) seat of the school's coach, -1 for none
    coach_skill: np.ndarray  # (R, C) 0-1
    visits: np.ndarray  # (R, S) visits this month
    skill: np.ndarray  # (K, R, S) 0-1
    understanding: np.ndarray  # (R, S) 0-1


class CoachingCoefficients(NamedTuple):
    """Per-run (R,) coefficients of coaching: the schema's ``coaching.*``, with the
    understanding a visit gives under the run's coach model (:func:`sim.state.understanding_per_visit`)."""

    SECTIONS = ("coaching",)
    DERIVED = {"understanding_per_visit": understanding_per_visit}

    hours_per_month: np.ndarray
    hours_per_visit: np.ndarray
    visits_per_month: np.ndarray
    paused_visit_share: np.ndarray
    pressure_cancellation: np.ndarray
    scale_caseload: np.ndarray
    pandemic_loss: np.ndarray
    effect_leaders: np.ndarray
    effect_teachers: np.ndarray
    understanding_per_visit: np.ndarray


@step
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
        turn = 0  # n_part modulo n_coaches, kept by wrapping round (no division per school)
        for s in range(schools):
            if engagement[r, s] in (ENGAGED, PAUSED):
                coach_of[r, s] = in_post[turn] if n_coaches > 0 else -1
                n_part += 1
                turn = 0 if turn + 1 >= n_coaches else turn + 1
            else:
                coach_of[r, s] = -1
        caseload[r] = np.ceil(n_part / n_coaches) if n_coaches > 0 else 0.0


@step
def _deliver_visits(visits, engagement, coach_of, caseload, c, pressure, u):
    """Visits (R, S) delivered in a school month, written to ``visits``.

    A school with a coach is planned ``visits_per_month``, at most its share
    of the coach's ``hours_per_month / hours_per_visit`` visits over the
    ``caseload`` (R,), ``paused_visit_share`` of that when paused.  Pressure
    (R, S, 0-1) cancels up to ``pressure_cancellation`` of them: of the
    expected visits it gets the whole ones and one more when ``u`` (R, S)
    falls below the fraction.  ``c`` is the :class:`CoachingCoefficients`.
    Returns whether any school got a visit.
    """
    runs, schools = visits.shape
    any_visit = False
    for r in range(runs):
        capacity = c.hours_per_month[r] / c.hours_per_visit[r]
        per_school = min(c.visits_per_month[r], capacity / max(caseload[r], 1.0))
        paused_share = c.paused_visit_share[r]
        cancellation = c.pressure_cancellation[r]
        for s in range(schools):
            rate = (paused_share if engagement[r, s] == PAUSED else 1.0) * (1.0 if coach_of[r, s] >= 0 else 0.0)
            expected = per_school * rate * (1.0 - cancellation * pressure[r, s])
            whole = np.floor(expected)
            visits[r, s] = whole + (1.0 if u[r, s] < expected - whole else 0.0)
            any_visit |= visits[r, s] != 0.0
    return any_visit


@step
def _visit_effects(effect, coach_skill, coach_of, caseload, c, pandemic):
    """Effect (R, S) of one visit, written to ``effect``: the skill (0-1) of the
    school's coach (seat 0's for a school without one) times
    ``1 / (1 + caseload / scale_caseload)``, times ``1 - pandemic_loss x
    pandemic`` (severity (R, 1), 0-1) for virtual visits.  ``c`` is the
    :class:`CoachingCoefficients`."""
    runs, schools = effect.shape
    for r in range(runs):
        scale = 1.0 / (1.0 + (caseload[r] / c.scale_caseload[r]))
        virtual = 1.0 - c.pandemic_loss[r] * pandemic[r, 0]
        for s in range(schools):
            effect[r, s] = coach_skill[r, max(coach_of[r, s], 0)] * scale * virtual


@step
def _role_effect(seat, effect_leaders, effect_teachers):
    """Skill gain per unit of visit for ``seat``: the principal, assistant
    principal and lead learn as leaders, the rest as teachers."""
    return effect_leaders if seat < FIRST_TEACHER else effect_teachers


def coaching(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> None:
    """Allocate visits and apply their effects (the draw ``visit_rounding``)."""
    _coach(
        pick(CoachingState, st),
        coefficients(CoachingCoefficients, pv),
        cal.summer,
        cal.pressure,
        cal.pandemic,
        draws.visit_rounding,
    )


@kernel
def _coach(state, coef, summer, pressure, pandemic, u):
    """The coaching month on the state (:class:`CoachingState`), in place, with
    the coefficients (:class:`CoachingCoefficients`), the pressure (R, S), the
    pandemic severity (R, 1) and the draw ``u`` (R, S): deal the caseloads,
    deliver visits (none in summer) and, when any school got one, apply their
    dose (visits x effect of one).

    A seat gains ``min(dose x role effect, 1)`` of its gap to full skill, the
    school ``min(understanding_per_visit x dose, 1)`` of its gap to full
    understanding.
    """
    st = CoachingState(*state)
    c = named(CoachingCoefficients, coef)
    engagement, coach_of, visits, skill = st.engagement, st.coach_of, st.visits, st.skill
    caseload = np.empty(engagement.shape[0])
    _deal_caseloads(engagement, st.coach_position, st.coach_filled, coach_of, caseload)
    if summer:
        visits[:] = 0.0
        return
    if not _deliver_visits(visits, engagement, coach_of, caseload, c, pressure, u):
        return
    effect = np.empty(visits.shape)
    _visit_effects(effect, st.coach_skill, coach_of, caseload, c, pandemic)
    runs, schools = visits.shape
    dose = np.empty(schools)
    for r in range(runs):  # run by run, seat by seat over the run's contiguous row of schools
        per_visit = c.understanding_per_visit[r]
        for s in range(schools):
            dose[s] = visits[r, s] * effect[r, s]
        for k in range(skill.shape[0]):
            role = _role_effect(k, c.effect_leaders[r], c.effect_teachers[r])
            row = skill[k, r]
            for s in range(schools):
                gain = min(dose[s] * role, 1.0)
                row[s] = row[s] + gain * (1.0 - row[s])
        for s in range(schools):
            gained = min(per_visit * dose[s], 1.0)
            st.understanding[r, s] = st.understanding[r, s] + gained * (1.0 - st.understanding[r, s])
