"""The central office acts: messaging, the hub, convenings, rollout, costs.

* Messaging (seed 003): each month the message is repeated with chance
  ``messaging.consistency``; its strength is the office's priority times a
  mix of urgency and why/equity framing.  The felt message is a stock that
  is topped up when repeated and fades otherwise (``messaging.memory`` of it
  kept a month: a half-life of about three months), so consistency over
  time matters more than any one message.
* Hub capacity (seed 001): hub staff against the participating schools they
  must support, minus any capacity lost to a ``hub_loss`` shock.
* Convenings (seed 003: 2-3 a year) happen in their scheduled months unless
  a severe pandemic cancels them or the hub has (almost) no capacity.
* Phased rollout (seed 001): the first cohort is invited in month 0, later
  cohorts every ``rollout.cohort_interval_months`` while the office still
  gives improvement priority.  Under optional participation an invited
  school joins with a chance that grows with its commitment and the why of
  the message; under a mandate every invited school takes part.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.events import note
from improvesim.sim.jit import clip01_at, coefficients, kernel, named, pick, team_mean_at
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import (
    ENGAGED,
    EXTERNAL,
    NOT_INVITED,
    OPTED_OUT,
    PAUSED,
    ParamVectors,
    State,
    anything,
    coach_model_by_run,
    required_by_run,
)
from improvesim.sim.structure import MONTHS_PER_YEAR
from improvesim.sim.submodels.calendar import Calendar, month_of_year


def _message_framing(pv: ParamVectors) -> np.ndarray:
    """Framing (R,) of the message: a mix of urgency and why (each 0-1)."""
    urgency = pv.col("messaging.urgency_mix") * pv.col("messaging.urgency")
    return urgency + pv.col("messaging.why_mix") * pv.col("messaging.why_framing")


def messaging(st: State, pv: ParamVectors, u_repeat: np.ndarray) -> None:
    """Update the felt message stock; ``u_repeat`` is (R,)."""
    _repeat_messages(
        st.message,
        u_repeat,
        pv.col("messaging.consistency"),
        st.priority,
        pv.cached("message_framing", _message_framing),
        pv.col("messaging.memory"),
    )


@kernel
def _repeat_messages(message, u_repeat, consistency, priority, framing, memory):
    """The felt message (R,) keeps ``memory`` (R,) of itself and, when the
    message is repeated this month (``u_repeat < consistency``), gains the rest
    of its strength, ``priority x framing``."""
    for r in range(message.shape[0]):
        repeated = 1.0 if u_repeat[r] < consistency[r] else 0.0
        message[r] = memory[r] * message[r] + (1.0 - memory[r]) * repeated * (priority[r] * framing[r])


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


def convene(st: State, pv: ParamVectors, cal: Calendar, schedule: np.ndarray) -> None:
    """Whether (R,) a convening is held this month; ``schedule`` is (R, 12)."""
    _hold_convenings(
        st.convening,
        np.ascontiguousarray(schedule[:, month_of_year(cal.month)]),  # as the year of months hands it over
        cal.pandemic,
        st.hub_capacity,
        pv.col("knowledge.convening_cancel_severity"),
        pv.col("knowledge.min_hub_capacity"),
    )


@kernel
def _hold_convenings(convening, scheduled, pandemic, hub_capacity, cancel_severity, min_hub_capacity):
    """A convening (R,) is held when one is ``scheduled`` (R,) this month, no
    pandemic (``pandemic`` (R, 1)) above ``cancel_severity`` cancels it and the
    hub has capacity above ``min_hub_capacity``."""
    for r in range(convening.shape[0]):
        convening[r] = scheduled[r] and pandemic[r, 0] <= cancel_severity[r] and hub_capacity[r] > min_hub_capacity[r]


def decay_knowledge_base(st: State, pv: ParamVectors) -> None:
    _decay_knowledge_base(st.knowledge_base, pv.col("knowledge.decay"))


@kernel
def _decay_knowledge_base(knowledge_base, decay):
    """The knowledge base (R,) loses the share ``decay`` (R,) of itself."""
    for r in range(knowledge_base.shape[0]):
        knowledge_base[r] = knowledge_base[r] * (1.0 - decay[r])


class CohortCoefficients(NamedTuple):
    """Per-run (R,) coefficients of the rollout's schedule and its capacity gate."""

    SECTIONS = ("rollout", "knowledge")

    initial_schools: np.ndarray
    cohort_interval_months: np.ndarray
    cohort_size: np.ndarray
    min_priority: np.ndarray
    capacity_gate: np.ndarray
    hub_staff: np.ndarray
    schools_per_hub_staff: np.ndarray


def cohort_due(pv: ParamVectors, month: int, priority: np.ndarray, engagement: np.ndarray) -> np.ndarray:
    """How many schools (R,) the office invites this month (:func:`_cohorts_due`), with the
    ``priority`` (R,) and ``engagement`` (R, S) of now."""
    if month > 0:
        cohort_months = pv.cached("cohort_months", _cohort_months)
        if month < len(cohort_months) and not cohort_months[month]:  # no run's cohort is due
            return pv.cached("no_cohort", _no_cohort)
    return _cohorts_due(month, priority, engagement, coefficients(CohortCoefficients, pv))


@kernel
def _cohorts_due(month, priority, engagement, coef):
    """How many schools (R,) the office invites in ``month``: ``initial_schools`` in month 0, a
    ``cohort_size`` every ``cohort_interval_months`` after it while the ``priority`` (R,) is at
    least ``min_priority``.  With the ``capacity_gate`` on, a later cohort is invited only when the
    participating schools (engaged or paused, from ``engagement`` (R, S)) and the cohort fit what
    the hub's staff can support; otherwise it waits for the next cohort date.  ``coef`` is the
    :class:`CohortCoefficients`."""
    c = named(CohortCoefficients, coef)
    runs, schools = engagement.shape
    any_gate = False
    for r in range(runs):
        any_gate = any_gate or c.capacity_gate[r] > 0
    due = np.empty(runs, dtype=np.int64)
    for r in range(runs):
        first = c.initial_schools[r] if month == 0 else 0.0
        later = month > 0 and month % c.cohort_interval_months[r] == 0 and priority[r] >= c.min_priority[r]
        if any_gate and c.capacity_gate[r] > 0:
            participating = 0
            for s in range(schools):
                participating += engagement[r, s] in (ENGAGED, PAUSED)
            room = c.hub_staff[r] * c.schools_per_hub_staff[r]
            later = later and participating + c.cohort_size[r] <= room
        due[r] = np.int64(first + (c.cohort_size[r] if later else 0.0))
    return due


def _cohort_months(pv: ParamVectors) -> list[bool]:
    """Whether any run may invite a later cohort, month by month."""
    interval = pv.col("rollout.cohort_interval_months")
    months = np.arange(pv.params[0].months)[:, None]  # (T, 1) against (R,) intervals
    return ((months > 0) & (months % interval == 0)).any(axis=1).tolist()


def _no_cohort(pv: ParamVectors) -> np.ndarray:
    none = np.zeros(len(pv.params), dtype=np.int64)
    none.flags.writeable = False
    return none


class RolloutState(NamedTuple):
    """The state arrays an invitation reads and writes."""

    engagement: np.ndarray  # (R, S) Engagement
    invited_month: np.ndarray  # (R, S) -1 if never
    joined: np.ndarray  # (R, S)
    understanding: np.ndarray  # (R, S) 0-1
    commitment: np.ndarray  # (K, R, S) 0-1
    knowledge_base: np.ndarray  # (R,) 0-1
    hub_capacity: np.ndarray  # (R,) 0-1
    weights: np.ndarray  # (R, K) seat weights of team means


class RolloutCoefficients(NamedTuple):
    """Per-run (R,) coefficients of joining, and whether participation is
    ``required`` (1.0 under a mandate, else 0.0)."""

    SECTIONS = ("rollout", "messaging", "knowledge")
    DERIVED = {"required": required_by_run}

    required: np.ndarray
    join_base: np.ndarray
    join_why: np.ndarray
    why_framing: np.ndarray
    head_start: np.ndarray


def rollout(st: State, pv: ParamVectors, cal: Calendar, u_join: np.ndarray) -> None:
    """Invite the next cohort, in school order; ``u_join`` (the draw ``join``) is (R, S)."""
    due = cohort_due(pv, cal.month, st.priority, st.engagement)
    if not anything(due):
        return
    invited = np.zeros(st.engagement.shape, dtype=bool)
    declined = np.zeros(st.engagement.shape, dtype=bool)
    coef = coefficients(RolloutCoefficients, pv)
    _invite_cohort(pick(RolloutState, st), coef, due, cal.month, u_join, invited, declined)
    note(st.events, cal.month, "invited", invited)
    note(st.events, cal.month, "declined", declined)


@kernel
def _invite_cohort(state, coef, due, month, u_join, invited, declined):
    """Invite each run's first ``due`` (R,) uninvited schools, in school order.

    An invited school joins under a mandate (``required``), or when ``u_join``
    (R, S) falls below ``join_base + team commitment + join_why x why`` (clipped
    to 0-1); otherwise it opts out.  Invited schools start with at least
    ``head_start x knowledge base x hub capacity`` understanding (documented
    knowledge gives a head start).  Updates the state (:class:`RolloutState`)
    in place, noting ``month`` as the invitation's; marks ``invited`` and
    ``declined`` (R, S).
    """
    st = RolloutState(*state)
    c = named(RolloutCoefficients, coef)
    engagement = st.engagement
    runs, schools = engagement.shape
    for r in range(runs):
        rank = 0
        head_start = c.head_start[r] * st.knowledge_base[r] * st.hub_capacity[r]
        for s in range(schools):
            if engagement[r, s] != NOT_INVITED:
                continue
            rank += 1
            if rank > due[r]:
                break
            team_commitment = team_mean_at(st.commitment, st.weights, r, s)
            join_p = clip01_at(c.join_base[r] + team_commitment + c.join_why[r] * c.why_framing[r])
            joins = c.required[r] != 0.0 or u_join[r, s] < join_p
            engagement[r, s] = ENGAGED if joins else OPTED_OUT
            st.invited_month[r, s] = month
            st.joined[r, s] = st.joined[r, s] or joins
            st.understanding[r, s] = max(st.understanding[r, s], head_start)
            invited[r, s] = True
            declined[r, s] = not joins


class CostState(NamedTuple):
    """The state arrays the month's cost reads and writes."""

    cost_month: np.ndarray  # (R,) dollars
    cost_total: np.ndarray  # (R,) dollars
    coach_position: np.ndarray  # (R, C)
    coach_filled: np.ndarray  # (R, C)
    convening: np.ndarray  # (R,)
    bench: np.ndarray  # (R, S) groomed successors
    engagement: np.ndarray  # (R, S) Engagement


def coach_cost_per_year(pv: ParamVectors) -> np.ndarray:
    """(R,) dollars a year of one coach in post: ``costs.coach_salary`` (salary and benefits) for
    hired and internal coaches; for external ones (``coaching.model``) the contract,
    ``costs.external_coach_daily`` x ``costs.coach_days``."""
    contract = pv.col("costs.external_coach_daily") * pv.col("costs.coach_days")
    return np.where(coach_model_by_run(pv) == EXTERNAL, contract, pv.col("costs.coach_salary"))


class CostCoefficients(NamedTuple):
    """Per-run (R,) prices and quantities of the month's cost; ``coach_salary`` is
    :func:`coach_cost_per_year`."""

    SECTIONS = ("costs", "knowledge", "time")
    DERIVED = {"coach_salary": coach_cost_per_year}

    coach_salary: np.ndarray
    convening: np.ndarray
    hub_staff: np.ndarray
    hub_salary: np.ndarray
    successor_stipend: np.ndarray
    protected_hours: np.ndarray
    staff_hourly: np.ndarray


def costs(st: State, pv: ParamVectors, cal: Calendar) -> None:
    """This month's cost (R,) in dollars: coaches in post (an external coach at the contract's
    price, :func:`coach_cost_per_year`), the protected time of
    engaged schools' team members (school months only), convenings, hub staff,
    and stipends for groomed successors on the deep bench.

    The parts are added in the same order every month."""
    _add_costs(pick(CostState, st), coefficients(CostCoefficients, pv), st.team_size, cal.summer)


@kernel
def _add_costs(state, coef, team_size, summer):
    """This month's cost (R,), in dollars, written to ``cost_month`` and added
    to ``cost_total`` (:class:`CostState`): coaches in post x a month of
    ``coach_salary``, a convening held x its cost, hub staff x a month of
    ``hub_salary``, groomed successors x a month of ``successor_stipend`` and,
    in school months, engaged schools x ``protected_hours`` x ``team_size`` x
    ``staff_hourly`` (:class:`CostCoefficients`).

    The convening and bench terms are added only when some run of the batch
    has any, as the array code did (otherwise they add zero).
    """
    st = CostState(*state)
    c = named(CostCoefficients, coef)
    runs, schools = st.engagement.shape
    any_convening = False
    for r in range(runs):
        any_convening |= st.convening[r]
    any_bench = False
    for r in range(runs):
        for s in range(schools):
            any_bench |= st.bench[r, s] != 0
    for r in range(runs):
        coaches = 0
        for k in range(st.coach_position.shape[1]):
            coaches += st.coach_position[r, k] and st.coach_filled[r, k]
        cost = coaches * c.coach_salary[r] / MONTHS_PER_YEAR
        if any_convening:
            cost = cost + (1.0 if st.convening[r] else 0.0) * c.convening[r]
        cost = cost + c.hub_staff[r] * c.hub_salary[r] / MONTHS_PER_YEAR
        if any_bench:
            successors = 0
            for s in range(schools):
                successors += st.bench[r, s]
            cost = cost + successors * c.successor_stipend[r] / MONTHS_PER_YEAR
        if not summer:
            engaged = 0
            for s in range(schools):
                engaged += st.engagement[r, s] == ENGAGED
            cost = cost + engaged * c.protected_hours[r] * team_size * c.staff_hourly[r]
        st.cost_month[r] = cost
        st.cost_total[r] = st.cost_total[r] + cost


def central_office(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws, schedule: np.ndarray) -> None:
    """The central office's month: rollout, messaging, hub, convenings, knowledge base."""
    rollout(st, pv, cal, draws.join)
    messaging(st, pv, draws.message_repeated)
    hub_capacity(st, pv, cal)
    convene(st, pv, cal, schedule)
    decay_knowledge_base(st, pv)
