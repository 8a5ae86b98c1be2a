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

from sim.state import ASSISTANT_PRINCIPAL, LEAD, PRINCIPAL, ParamVectors, State, anything, engagement_masks, recall
from sim.submodels.calendar import Calendar

#: Relative loss of a visit's effect under a full-severity pandemic (virtual visits).
PANDEMIC_COACHING_LOSS = 0.5
#: Understanding gained from one fully effective visit (share of the gap).
UNDERSTANDING_PER_VISIT = 0.15


def assign_caseloads(st: State) -> np.ndarray:
    """Deal participating schools to coaches in post; set ``st.coach_of``.

    Returns the caseload (R,) of each run's coaches (schools per coach, 0
    when there is no coach).  The deal only changes when participation or
    the coaches in post change, so it is reused until then.
    """
    participating = engagement_masks(st).participating
    stamp = [participating.tobytes(), st.coach_position.tobytes(), st.coach_filled.tobytes(), st.coach_of.tobytes()]
    memo = st.memo.get("caseloads")
    if memo is not None and memo[0] == stamp:
        return memo[1]
    in_post = st.coach_position & st.coach_filled
    n_coaches = in_post.sum(axis=1)
    # seats of the coaches in post first, in seat order
    order = np.argsort(~in_post, axis=1, kind="stable")
    rank = np.cumsum(participating, axis=1) - 1
    slot = rank % np.maximum(n_coaches, 1)[:, None]
    coach = np.take_along_axis(order, slot, axis=1)
    st.coach_of[:] = np.where(participating & (n_coaches[:, None] > 0), coach, -1)
    n_part = participating.sum(axis=1)
    caseload = np.where(n_coaches > 0, np.ceil(n_part / np.maximum(n_coaches, 1)), 0.0)
    caseload.flags.writeable = False
    stamp[-1] = st.coach_of.tobytes()
    st.memo["caseloads"] = (stamp, caseload)
    return caseload


def delivered_visits(st: State, pv: ParamVectors, cal: Calendar, caseload: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Visits (R, S) each school gets this month; ``u`` is (R, S)."""
    if cal.summer:
        return np.zeros_like(st.visits)

    def planned():  # visits (R, S) before pressure cancels some
        capacity = pv.col("coaching.hours_per_month") / pv.col("coaching.hours_per_visit")
        per_school = np.minimum(pv["coaching.visits_per_month"], (capacity / np.maximum(caseload, 1.0))[:, None])
        rate = np.where(engagement_masks(st).paused, 0.5, 1.0) * (st.coach_of >= 0)
        return per_school * rate

    per_school_rate = recall(st, ("planned_visits", pv), (st.engagement, st.coach_of, caseload), planned)
    expected = per_school_rate * (1.0 - 0.5 * cal.pressure)
    whole = np.floor(expected)
    return whole + (u < expected - whole)


def visit_effect(st: State, pv: ParamVectors, cal: Calendar, caseload: np.ndarray) -> np.ndarray:
    """Effect (R, S) of one visit: coach skill, lower at scale and when virtual."""

    def effect():  # in person
        r = np.arange(st.runs)[:, None]
        skill = st.coach_skill[r, np.maximum(st.coach_of, 0)]
        scale = 1.0 / (1.0 + (caseload / pv.col("coaching.scale_caseload")))[:, None]
        return skill * scale

    in_person = recall(st, ("visit_effect", pv), (st.coach_skill, st.coach_of, caseload), effect)
    if not anything(cal.pandemic):  # (the factor below is exactly one)
        return in_person
    return in_person * (1.0 - PANDEMIC_COACHING_LOSS * cal.pandemic)


def role_effects(pv: ParamVectors, team_size: int) -> np.ndarray:
    """(K, R, 1) skill gain per visit by seat: leaders and teachers differ."""
    eff = np.repeat(pv["coaching.effect_teachers"][None], team_size, axis=0)
    for seat in (PRINCIPAL, ASSISTANT_PRINCIPAL, LEAD):
        eff[seat] = pv["coaching.effect_leaders"]
    return eff


def coaching(st: State, pv: ParamVectors, cal: Calendar, u: np.ndarray) -> None:
    """Allocate visits and apply their effects; ``u`` is (R, S)."""
    caseload = assign_caseloads(st)
    st.visits[:] = delivered_visits(st, pv, cal, caseload, u)
    if not anything(st.visits):
        return
    dose = st.visits * visit_effect(st, pv, cal, caseload)
    roles = pv.cached(f"role_effects_{st.team_size}", lambda pv: role_effects(pv, st.team_size))
    gain = np.minimum(dose * roles, 1.0)
    st.skill += gain * (1.0 - st.skill)
    st.understanding += np.minimum(UNDERSTANDING_PER_VISIT * dose, 1.0) * (1.0 - st.understanding)
