"""The central office acts: messaging, the hub, convenings, rollout, costs.

* Messaging (seed 003): each month the message is repeated with chance
  ``messaging.consistency``; its strength is the office's priority times a
  mix of urgency and why/equity framing.  The felt message is a stock that
  is topped up when repeated and fades otherwise (half-life about three
  months), so consistency over time matters more than any one message.
* Hub capacity (seed 001): hub staff against the participating schools they
  must support, minus any capacity lost to a ``hub_loss`` shock.
* Convenings (seed 003: 2-3 a year) happen in their scheduled months unless
  a pandemic of severity above one half cancels them or the hub has no
  capacity.
* Phased rollout (seed 001): the first cohort is invited in month 0, later
  cohorts every ``rollout.cohort_interval_months`` while the office still
  gives improvement priority.  Under optional participation an invited
  school joins with a chance that grows with its commitment and the why of
  the message; under a mandate every invited school takes part.
"""

from __future__ import annotations

import numpy as np

from sim.events import note
from sim.state import (
    ENGAGED,
    OPTED_OUT,
    ParamVectors,
    State,
    anything,
    clip01,
    engagement_masks,
    frozen,
    recall,
    team_mean_of,
)
from sim.submodels.calendar import Calendar

#: Share of the felt message kept from one month to the next.
MESSAGE_MEMORY = 0.8
#: Pandemic severity above which convenings are cancelled.
CONVENING_CANCEL_SEVERITY = 0.5
#: Priority below which the office stops inviting new cohorts.
ROLLOUT_MIN_PRIORITY = 0.3


def message_strength(pv: ParamVectors, priority: np.ndarray) -> np.ndarray:
    """Strength (R,) of one month's message: priority x (urgency and why framing)."""
    return priority * pv.cached("message_framing", _message_framing)


def _message_framing(pv: ParamVectors) -> np.ndarray:
    return 0.4 * pv.col("messaging.urgency") + 0.6 * pv.col("messaging.why_framing")


def messaging(st: State, pv: ParamVectors, u_repeat: np.ndarray) -> None:
    """Update the felt message stock; ``u_repeat`` is (R,)."""
    repeated = u_repeat < pv.col("messaging.consistency")
    st.message[:] = MESSAGE_MEMORY * st.message + (1.0 - MESSAGE_MEMORY) * repeated * message_strength(pv, st.priority)


def hub_capacity(st: State, pv: ParamVectors, cal: Calendar) -> None:
    """Share (R,) of the participating schools the hub can fully support."""

    participating = engagement_masks(st).n_participating

    def compute():
        load = np.maximum(participating, 1) / pv.col("knowledge.schools_per_hub_staff")
        return np.minimum(1.0, pv.col("knowledge.hub_staff") / load) * (1.0 - cal.hub_loss)

    # the same while the number of participating schools and any hub loss are unchanged
    st.hub_capacity[:] = recall(st, ("hub_capacity", pv), (participating, cal.hub_loss), compute)


def convene(st: State, cal: Calendar, schedule: np.ndarray) -> None:
    """Whether (R,) a convening is held this month; ``schedule`` is (R, 12)."""
    scheduled = schedule[:, cal.month % 12]
    if not anything(scheduled):
        st.convening[:] = False
        return
    held = scheduled & (cal.pandemic[:, 0] <= CONVENING_CANCEL_SEVERITY)
    st.convening[:] = held & (st.hub_capacity > 0.05)


def decay_knowledge_base(st: State, pv: ParamVectors) -> None:
    st.knowledge_base *= pv.cached("knowledge_kept", lambda pv: 1.0 - pv.col("knowledge.decay"))


def cohort_due(pv: ParamVectors, month: int, priority: np.ndarray) -> np.ndarray:
    """How many schools (R,) the office invites this month."""
    if month > 0:
        cohort_months = pv.cached("cohort_months", _cohort_months)
        if month < len(cohort_months) and not cohort_months[month]:  # no run's cohort is due
            return pv.cached("no_cohort", _no_cohort)
    first = np.where(month == 0, pv.col("rollout.initial_schools"), 0.0)
    interval = pv.col("rollout.cohort_interval_months")
    later = (month > 0) & (month % interval == 0) & (priority >= ROLLOUT_MIN_PRIORITY)
    return (first + np.where(later, pv.col("rollout.cohort_size"), 0.0)).astype(np.int64)


def _cohort_months(pv: ParamVectors) -> list[bool]:
    """Whether any run may invite a later cohort, month by month."""
    interval = pv.col("rollout.cohort_interval_months")
    months = np.arange(pv.params[0].months)[:, None]  # (T, 1) against (R,) intervals
    return ((months > 0) & (months % interval == 0)).any(axis=1).tolist()


def _no_cohort(pv: ParamVectors) -> np.ndarray:
    none = np.zeros(len(pv.params), dtype=np.int64)
    none.flags.writeable = False
    return none


def rollout(st: State, pv: ParamVectors, cal: Calendar, u_join: np.ndarray) -> None:
    """Invite the next cohort, in school order; ``u_join`` is (R, S)."""
    due = cohort_due(pv, cal.month, st.priority)
    if not anything(due):
        return
    uninvited = ~engagement_masks(st).invited
    rank = np.cumsum(uninvited, axis=1)
    invite = uninvited & (rank <= due[:, None])
    commitment = team_mean_of(st, "commitment")
    join_p = clip01(0.4 + commitment + 0.3 * pv["messaging.why_framing"])
    joins = pv.required | (u_join < join_p)
    st.engagement[:] = np.where(invite, np.where(joins, ENGAGED, OPTED_OUT), st.engagement)
    st.invited_month[:] = np.where(invite, cal.month, st.invited_month)
    st.joined |= invite & joins
    # documented knowledge gives a new cohort a head start in understanding problems
    head_start = 0.3 * st.knowledge_base * st.hub_capacity
    st.understanding[:] = np.where(invite, np.maximum(st.understanding, head_start[:, None]), st.understanding)
    note(st.events, cal.month, "invited", invite)
    note(st.events, cal.month, "declined", invite & ~joins)


def costs(st: State, pv: ParamVectors, cal: Calendar) -> None:
    """This month's cost (R,) in dollars: coaches in post, the protected time of
    engaged schools' team members (school months only), convenings, hub staff,
    and stipends for groomed successors on the deep bench.

    Each part is reused while what it counts is unchanged (they change rarely);
    the parts are added in the same order every month."""
    cost = recall(st, ("coach_cost", pv), (st.coach_position, st.coach_filled), lambda: _coach_cost(st, pv))
    if anything(st.convening):  # (otherwise this adds zero)
        cost = cost + st.convening * pv.col("costs.convening")
    else:
        cost = cost.copy()
    cost += pv.cached("hub_cost", lambda pv: pv.col("knowledge.hub_staff") * pv.col("costs.hub_salary") / 12.0)
    if anything(st.bench):  # (otherwise this adds zero)
        cost += recall(st, ("bench_cost", pv), (st.bench,), lambda: _bench_cost(st, pv))
    if not cal.summer:
        engaged = engagement_masks(st).engaged
        cost += recall(st, ("staff_time_cost", pv), (engaged,), lambda: _staff_time_cost(st, pv, engaged))
    st.cost_month[:] = cost
    st.cost_total += cost


def _coach_cost(st: State, pv: ParamVectors) -> np.ndarray:
    """Monthly salaries (R,) of the coaches in post."""
    return frozen((st.coach_position & st.coach_filled).sum(axis=1) * pv.col("costs.coach_salary") / 12.0)


def _bench_cost(st: State, pv: ParamVectors) -> np.ndarray:
    """Monthly stipends (R,) of the groomed successors."""
    return frozen(st.bench.sum(axis=1) * pv.col("costs.successor_stipend") / 12.0)


def _staff_time_cost(st: State, pv: ParamVectors, engaged: np.ndarray) -> np.ndarray:
    """Monthly cost (R,) of the protected time of engaged schools' teams."""
    n_engaged = engaged.sum(axis=1)
    return frozen(n_engaged * pv.col("time.protected_hours") * st.team_size * pv.col("costs.staff_hourly"))


def central_office(
    st: State, pv: ParamVectors, cal: Calendar, u: np.ndarray, u_join: np.ndarray, schedule: np.ndarray
) -> None:
    """The central office's month: rollout, messaging, hub, convenings, knowledge base."""
    rollout(st, pv, cal, u_join)
    messaging(st, pv, u[:, 3])
    hub_capacity(st, pv, cal)
    convene(st, cal, schedule)
    decay_knowledge_base(st, pv)
