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

from improvesim.sim.events import note
from improvesim.sim.jit import clip01_at, kernel, team_mean_at
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, NOT_INVITED, OPTED_OUT, PAUSED, ParamVectors, State, anything, team_weights
from improvesim.sim.submodels.calendar import Calendar

#: Share of the felt message kept from one month to the next.
MESSAGE_MEMORY = 0.8
#: Pandemic severity above which convenings are cancelled.
CONVENING_CANCEL_SEVERITY = 0.5
#: Priority below which the office stops inviting new cohorts.
ROLLOUT_MIN_PRIORITY = 0.3


def _message_framing(pv: ParamVectors) -> np.ndarray:
    """Framing (R,) of the message: 0.4 urgency + 0.6 why (each 0-1)."""
    return 0.4 * pv.col("messaging.urgency") + 0.6 * pv.col("messaging.why_framing")


def messaging(st: State, pv: ParamVectors, u_repeat: np.ndarray) -> None:
    """Update the felt message stock; ``u_repeat`` is (R,)."""
    _repeat_messages(
        st.message,
        u_repeat,
        pv.col("messaging.consistency"),
        st.priority,
        pv.cached("message_framing", _message_framing),
    )


@kernel
def _repeat_messages(message, u_repeat, consistency, priority, framing):
    """The felt message (R,) keeps 0.8 of itself and, when the message is
    repeated this month (``u_repeat < consistency``), gains 0.2 of its
    strength, ``priority x framing``."""
    for r in range(message.shape[0]):
        repeated = 1.0 if u_repeat[r] < consistency[r] else 0.0
        message[r] = MESSAGE_MEMORY * message[r] + (1.0 - MESSAGE_MEMORY) * repeated * (priority[r] * framing[r])


def hub_capacity(st: State, pv: ParamVectors, cal: Calendar) -> None:
    """Share (R,) of the participating schools the hub can fully support."""
    _hub_capacities(
        st.hub_capacity,
        st.engagement,
        pv.col("knowledge.schools_per_hub_staff"),
        pv.col("knowledge.hub_staff"),
        cal.hub_loss,
    )


@kernel
def _hub_capacities(hub_capacity, engagement, schools_per_hub_staff, hub_staff, hub_loss):
    """Hub capacity (R,), 0-1: hub staff over the staff the participating
    schools (at least one) need, at most 1, less the share ``hub_loss`` lost."""
    runs, schools = engagement.shape
    for r in range(runs):
        participating = 0
        for s in range(schools):
            participating += engagement[r, s] in (ENGAGED, PAUSED)
        load = max(participating, 1) / schools_per_hub_staff[r]
        hub_capacity[r] = min(1.0, hub_staff[r] / load) * (1.0 - hub_loss[r])


def convene(st: State, cal: Calendar, schedule: np.ndarray) -> None:
    """Whether (R,) a convening is held this month; ``schedule`` is (R, 12)."""
    _hold_convenings(st.convening, schedule, cal.month % 12, cal.pandemic, st.hub_capacity)


@kernel
def _hold_convenings(convening, schedule, month_of_year, pandemic, hub_capacity):
    """A convening (R,) is held when ``schedule`` (R, 12) has one this month of
    the year, no pandemic of severity above one half (``pandemic`` (R, 1))
    cancels it and the hub has some capacity (above 0.05)."""
    for r in range(convening.shape[0]):
        convening[r] = (
            schedule[r, month_of_year] and pandemic[r, 0] <= CONVENING_CANCEL_SEVERITY and hub_capacity[r] > 0.05
        )


def decay_knowledge_base(st: State, pv: ParamVectors) -> None:
    _decay_knowledge_base(st.knowledge_base, pv.col("knowledge.decay"))


@kernel
def _decay_knowledge_base(knowledge_base, decay):
    """The knowledge base (R,) loses the share ``decay`` (R,) of itself."""
    for r in range(knowledge_base.shape[0]):
        knowledge_base[r] = knowledge_base[r] * (1.0 - decay[r])


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
    invited = np.zeros(st.engagement.shape, dtype=bool)
    declined = np.zeros(st.engagement.shape, dtype=bool)
    _invite_cohort(
        st.engagement,
        st.invited_month,
        st.joined,
        st.understanding,
        st.commitment,
        team_weights(st.team_size),
        st.knowledge_base,
        st.hub_capacity,
        due,
        pv.col("messaging.why_framing"),
        pv.required[:, 0],
        cal.month,
        u_join,
        invited,
        declined,
    )
    note(st.events, cal.month, "invited", invited)
    note(st.events, cal.month, "declined", declined)


@kernel
def _invite_cohort(
    engagement,
    invited_month,
    joined,
    understanding,
    commitment,
    weights,
    knowledge_base,
    hub_capacity,
    due,
    why_framing,
    required,
    month,
    u_join,
    invited,
    declined,
):
    """Invite each run's first ``due`` (R,) uninvited schools, in school order.

    An invited school joins under a mandate (``required`` (R,)), or when
    ``u_join`` (R, S) falls below ``0.4 + team commitment + 0.3 why``
    (clipped to 0-1); otherwise it opts out.  Invited schools start with at
    least ``0.3 x knowledge base x hub capacity`` understanding (documented
    knowledge gives a head start).  Marks ``invited`` and ``declined`` (R, S).
    """
    runs, schools = engagement.shape
    for r in range(runs):
        rank = 0
        head_start = 0.3 * knowledge_base[r] * hub_capacity[r]
        for s in range(schools):
            if engagement[r, s] != NOT_INVITED:
                continue
            rank += 1
            if rank > due[r]:
                break
            join_p = clip01_at(0.4 + team_mean_at(commitment, weights, r, s) + 0.3 * why_framing[r])
            joins = required[r] or u_join[r, s] < join_p
            engagement[r, s] = ENGAGED if joins else OPTED_OUT
            invited_month[r, s] = month
            joined[r, s] = joined[r, s] or joins
            understanding[r, s] = max(understanding[r, s], head_start)
            invited[r, s] = True
            declined[r, s] = not joins


def costs(st: State, pv: ParamVectors, cal: Calendar) -> None:
    """This month's cost (R,) in dollars: coaches in post, the protected time of
    engaged schools' team members (school months only), convenings, hub staff,
    and stipends for groomed successors on the deep bench.

    The parts are added in the same order every month."""
    _add_costs(
        st.cost_month,
        st.cost_total,
        st.coach_position,
        st.coach_filled,
        st.convening,
        st.bench,
        st.engagement,
        st.team_size,
        pv.col("costs.coach_salary"),
        pv.col("costs.convening"),
        pv.col("knowledge.hub_staff"),
        pv.col("costs.hub_salary"),
        pv.col("costs.successor_stipend"),
        pv.col("time.protected_hours"),
        pv.col("costs.staff_hourly"),
        cal.summer,
    )


@kernel
def _add_costs(
    cost_month,
    cost_total,
    coach_position,
    coach_filled,
    convening,
    bench,
    engagement,
    team_size,
    coach_salary,
    convening_cost,
    hub_staff,
    hub_salary,
    successor_stipend,
    protected_hours,
    staff_hourly,
    summer,
):
    """This month's cost (R,), in dollars, written to ``cost_month`` and added
    to ``cost_total``: coaches in post x ``coach_salary / 12``, a convening
    held x ``convening_cost``, hub staff x ``hub_salary / 12``, groomed
    successors (``bench`` (R, S)) x ``successor_stipend / 12`` and, in school
    months, engaged schools x ``protected_hours`` x ``team_size`` x
    ``staff_hourly``.

    The convening and bench terms are added only when some run of the batch
    has any, as the array code did (otherwise they add zero).
    """
    runs, schools = engagement.shape
    any_convening = False
    for r in range(runs):
        any_convening |= convening[r]
    any_bench = False
    for r in range(runs):
        for s in range(schools):
            any_bench |= bench[r, s] != 0
    for r in range(runs):
        coaches = 0
        for c in range(coach_position.shape[1]):
            coaches += coach_position[r, c] and coach_filled[r, c]
        cost = coaches * coach_salary[r] / 12.0
        if any_convening:
            cost = cost + (1.0 if convening[r] else 0.0) * convening_cost[r]
        cost = cost + hub_staff[r] * hub_salary[r] / 12.0
        if any_bench:
            successors = 0
            for s in range(schools):
                successors += bench[r, s]
            cost = cost + successors * successor_stipend[r] / 12.0
        if not summer:
            engaged = 0
            for s in range(schools):
                engaged += engagement[r, s] == ENGAGED
            cost = cost + engaged * protected_hours[r] * team_size * staff_hourly[r]
        cost_month[r] = cost
        cost_total[r] = cost_total[r] + cost


def central_office(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws, schedule: np.ndarray) -> None:
    """The central office's month: rollout, messaging, hub, convenings, knowledge base."""
    rollout(st, pv, cal, draws.join)
    messaging(st, pv, draws.message_repeated)
    hub_capacity(st, pv, cal)
    convene(st, cal, schedule)
    decay_knowledge_base(st, pv)
