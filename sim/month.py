"""A year of months at a time: the fast path of a batch that keeps no event log.

:meth:`sim.engine.Engine.step` calls the submodels' Python functions one by
one, in the order of the ODD; each looks up its bundles and tables, calls its
compiled kernel and notes what happened in the event log.  Without an event
log the notes are not needed, and that Python (about 15 functions a month)
cost most of a single run's time.  :func:`run_months` instead steps a year at
a time through :func:`_months`, which calls the SAME kernels, in the same
order, with the same inputs, so a run gives the same bytes either way
(``tests/test_fast_path.py``).

What the submodels' functions look up month by month is tabled once per
batch (:func:`month_tables`): the calendar, the exit hazards by month of the
year, the per-run coefficients of each kernel (:func:`sim.jit.coefficients`).
The state's arrays cross as the bundles the kernels take (:func:`sim.jit.pick`,
once per batch) and the few arrays handed over one by one
(:class:`LooseState`), and are updated in place.

:func:`_months` is written so that it runs as Python (the default: the
kernels called one by one, about 10 ms for a single run at 40 schools) or
compiled as one call a year (``IMPROVESIM_COMPILED_MONTH=1``: about 5 ms, but
the first use on a new machine compiles about 12 s longer, since Numba
optimizes and generates again the code of every kernel a compiled function
calls); see :data:`COMPILED_MONTH`.

A change to a submodel goes into its kernel, which both paths call; a new
kernel, or a new input of one, is added to :func:`_months` as well as to the
submodel's Python function.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from improvesim.sim.jit import at_month, coefficients, kernel, named, pick
from improvesim.sim.outcomes import DistrictState, RecordedState, Recorder, planned_visits, record_month
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ParamVectors, State, frozen
from improvesim.sim.structure import MONTHS_PER_YEAR, YEAR_END
from improvesim.sim.submodels.calendar import DemandCoefficients, _calendar_tables, _shocks_and_pressure
from improvesim.sim.submodels.central_office import (
    CohortCoefficients,
    CostCoefficients,
    CostState,
    RolloutCoefficients,
    RolloutState,
    _add_costs,
    _cohorts_due,
    _decay_knowledge_base,
    _hold_convenings,
    _hub_capacities,
    _invite_cohort,
    _message_framing,
    _repeat_messages,
)
from improvesim.sim.submodels.coaching import CoachingCoefficients, CoachingState, _coach
from improvesim.sim.submodels.improvement import ImprovementCoefficients, ImprovementState, _improvement_month
from improvesim.sim.submodels.institutionalization import (
    InstitutionCoefficients,
    InstitutionState,
    _classify_practice,
    _embed_speed,
    _gain_or_lose_institution,
    _groom_chance,
    _groom_successors,
    _grow_or_decay_embeddedness,
)
from improvesim.sim.submodels.network import NetworkCoefficients, NetworkState, _convene
from improvesim.sim.submodels.sensemaking import SchoolState, SensemakingCoefficients, _recover_fatigue, _school_month
from improvesim.sim.submodels.time_use import StressCoefficients, TimeCoefficients, _stress, _time_share
from improvesim.sim.submodels.turnover import (
    CoachCoefficients,
    CoachState,
    OfficeCoefficients,
    OfficeDraws,
    OfficeState,
    StaffCoefficients,
    StaffState,
    _central_office_hazards,
    _central_office_leaders,
    _coach_exits_and_vacancies,
    _coach_hazards,
    _seat_hazards_by_month,
    _staff_exits_and_replacements,
    pandemic_for_exits_by_month,
)


class LooseState(NamedTuple):
    """The state arrays :func:`_months` hands to kernels one by one, as the submodels' functions do."""

    demand_mult: np.ndarray
    initiative_months: np.ndarray
    shock: np.ndarray
    skill: np.ndarray
    coach_position: np.ndarray
    priority: np.ndarray
    engagement: np.ndarray
    message: np.ndarray
    hub_capacity: np.ndarray
    convening: np.ndarray
    knowledge_base: np.ndarray
    local_knowledge: np.ndarray
    stall: np.ndarray
    fatigue: np.ndarray
    bench: np.ndarray
    principles: np.ndarray
    commitment: np.ndarray
    weights: np.ndarray
    effort: np.ndarray
    embeddedness: np.ndarray
    tools: np.ndarray
    practised_bits: np.ndarray
    ever_authentic: np.ndarray
    months_not_authentic: np.ndarray
    authentic_years: np.ndarray
    authenticity: np.ndarray


class Bundles(NamedTuple):
    """The state's bundles the kernels take (:func:`sim.jit.pick`), one field per bundle class of
    :data:`_STATE_BUNDLES`, in its order."""

    staff: tuple  # StaffState
    coach: tuple  # CoachState
    office: tuple  # OfficeState
    rollout: tuple  # RolloutState
    coaching: tuple  # CoachingState
    school: tuple  # SchoolState
    improvement: tuple  # ImprovementState
    network: tuple  # NetworkState
    institution: tuple  # InstitutionState
    cost: tuple  # CostState
    recorded: tuple  # RecordedState
    district: tuple  # DistrictState


_STATE_BUNDLES = (
    StaffState,
    CoachState,
    OfficeState,
    RolloutState,
    CoachingState,
    SchoolState,
    ImprovementState,
    NetworkState,
    InstitutionState,
    CostState,
    RecordedState,
    DistrictState,
)


class Coefficients(NamedTuple):
    """Each kernel's per-run coefficients (:func:`sim.jit.coefficients`, (fields, R))."""

    demand: np.ndarray  # DemandCoefficients
    staff: np.ndarray  # StaffCoefficients
    coach: np.ndarray  # CoachCoefficients
    office: np.ndarray  # OfficeCoefficients
    cohort: np.ndarray  # CohortCoefficients
    rollout: np.ndarray  # RolloutCoefficients
    coaching: np.ndarray  # CoachingCoefficients
    time: np.ndarray  # TimeCoefficients
    stress: np.ndarray  # StressCoefficients
    sensemaking: np.ndarray  # SensemakingCoefficients
    improvement: np.ndarray  # ImprovementCoefficients
    network: np.ndarray  # NetworkCoefficients
    institution: np.ndarray  # InstitutionCoefficients
    cost: np.ndarray  # CostCoefficients


_BUNDLES = (
    DemandCoefficients,
    StaffCoefficients,
    CoachCoefficients,
    OfficeCoefficients,
    CohortCoefficients,
    RolloutCoefficients,
    CoachingCoefficients,
    TimeCoefficients,
    StressCoefficients,
    SensemakingCoefficients,
    ImprovementCoefficients,
    NetworkCoefficients,
    InstitutionCoefficients,
    CostCoefficients,
)


class MonthTables(NamedTuple):
    """What the submodels' Python functions look up month by month, tabled for a batch: by month
    (T, ...), by month of the year (12, ...) or per run (R,)."""

    summer: np.ndarray  # (T,) schools are closed
    testing: np.ndarray  # (T,) the testing season
    pandemic: np.ndarray  # (T, R) severity of the strongest pandemic under way, 0-1
    pandemic_on: np.ndarray  # (T,) a pandemic is under way in some run
    pandemic_column: np.ndarray  # (T, R, 1) the same severity, as the calendar's column
    hub_loss: np.ndarray  # (T, R) severity of hub capacity loss, 0-1
    grant_active: np.ndarray  # (T, R) the coaching grant still pays
    exit_pandemic: np.ndarray  # (T, R, 1) the pandemic raising exits (turnover.pandemic_for_exits)
    staff_hazard: np.ndarray  # (12, K, R, 1) monthly exit hazards by seat
    coach_hazard: np.ndarray  # (12, R, 1) monthly coach exit hazards
    office_hazard: np.ndarray  # (12, R) monthly exit hazards of the central-office leader
    convening_schedule: np.ndarray  # (12, R) months of the school year that hold a convening
    per_run: np.ndarray  # (len(PerRun), R) the loose per-run values the kernels take


class PerRun(NamedTuple):
    """Per-run (R,) values the kernels take one by one (rows of ``MonthTables.per_run``)."""

    message_consistency: np.ndarray
    message_framing: np.ndarray
    message_memory: np.ndarray
    schools_per_hub_staff: np.ndarray
    hub_staff: np.ndarray
    convening_cancel_severity: np.ndarray
    min_hub_capacity: np.ndarray
    knowledge_decay: np.ndarray
    fatigue_recovery: np.ndarray
    groom_chance: np.ndarray
    embed_speed: np.ndarray
    embed_decay: np.ndarray
    practice_threshold: np.ndarray
    visits_per_month: np.ndarray


def _per_run(pv: ParamVectors) -> PerRun:
    col = pv.col
    return PerRun(
        message_consistency=col("messaging.consistency"),
        message_framing=_message_framing(pv),
        message_memory=col("messaging.memory"),
        schools_per_hub_staff=col("knowledge.schools_per_hub_staff"),
        hub_staff=col("knowledge.hub_staff"),
        convening_cancel_severity=col("knowledge.convening_cancel_severity"),
        min_hub_capacity=col("knowledge.min_hub_capacity"),
        knowledge_decay=col("knowledge.decay"),
        fatigue_recovery=col("sensemaking.fatigue_recovery"),
        groom_chance=_groom_chance(pv),
        embed_speed=_embed_speed(pv),
        embed_decay=col("institution.embed_decay"),
        practice_threshold=col("improvement.practice_threshold"),
        visits_per_month=col("coaching.visits_per_month"),
    )


def month_tables(pv: ParamVectors, team_size: int, schedule: np.ndarray) -> tuple[tuple, tuple]:
    """The batch's :class:`Coefficients` and :class:`MonthTables`, as the plain tuples
    :func:`run_months` takes (computed once per batch; ``schedule`` is the (R, 12)
    convening schedule, :func:`sim.submodels.calendar.convening_months`)."""
    calendar = pv.cached("calendar_by_month", _calendar_tables)
    summer, testing, pandemic, pandemic_on, column, hub_loss, grant = (np.array(x) for x in zip(*calendar, strict=True))
    tables = MonthTables(
        summer=summer,
        testing=testing,
        pandemic=pandemic,
        pandemic_on=pandemic_on,
        pandemic_column=column,
        hub_loss=hub_loss,
        grant_active=grant,
        # read-only, as the submodels' functions hand them to the same kernels (one compiled version)
        exit_pandemic=frozen(np.array(pandemic_for_exits_by_month(pv, column))),
        staff_hazard=frozen(np.array(_seat_hazards_by_month(pv, team_size))),
        coach_hazard=frozen(np.array(_coach_hazards(pv))),
        office_hazard=frozen(np.array(_central_office_hazards(pv))),
        convening_schedule=np.ascontiguousarray(schedule.T),  # a month's row contiguous
        per_run=np.array(_per_run(pv), dtype=np.float64),
    )
    coef = tuple(coefficients(bundle, pv) for bundle in _BUNDLES)
    return coef, tuple(tables)


def state_bundles(st: State) -> tuple[tuple, tuple]:
    """The state's arrays as :func:`_months` takes them: the :class:`LooseState` and the
    :class:`Bundles` (plain tuples; the arrays are updated in place)."""
    return pick(LooseState, st), tuple(pick(bundle, st) for bundle in _STATE_BUNDLES)


#: Whether :func:`run_months` calls :func:`_months` compiled (``IMPROVESIM_COMPILED_MONTH=1`` in
#: the environment when the model is imported) or runs the same function as Python (the
#: default).  Compiled, a single run at 40 schools takes about 5 ms of CPU instead of about 10,
#: but the first use on a new machine (an empty kernel cache) compiles about 12 s longer: Numba
#: optimizes and generates again the code of every kernel a compiled function calls.  Batches
#: of many runs gain little (the kernels' own work dominates them).
COMPILED_MONTH = os.environ.get("IMPROVESIM_COMPILED_MONTH", "") == "1"


def run_months(first: int, stop: int, st: State, year: MonthDraws, batch: tuple, recorder: Recorder) -> None:
    """Months ``first`` to ``stop`` - 1 of one year (:func:`_months`): each month what
    :meth:`sim.engine.Engine.step` does without an event log, then the recorder's month.
    ``year`` is the year's draws (:func:`sim.rng.year_draws`, month ``m`` of the year at
    ``m``), ``batch`` the pair :func:`month_tables` gives.

    Raises:
        ValueError: the state keeps an event log (the submodels' functions note it; step the engine).
    """
    if st.events is not None:
        raise ValueError("a year of months at a time keeps no event log; step the engine instead")
    coef, tables = batch
    months = _months if COMPILED_MONTH else _months.py_func
    months(first, stop, state_bundles(st), tuple(year), coef, tables, recorder.targets())
    st.month = stop - 1


@kernel
def _months(first, stop, state, year, coef, tables, targets):
    """Months ``first`` to ``stop`` - 1 of every run, one by one: the submodels' kernels in the
    order of the ODD (as :meth:`sim.engine.Engine.step` calls them through the submodels'
    functions), then the month's records.  ``state`` the pair :func:`state_bundles` gives, ``year`` the
    year's draws (month t's at ``t % 12``), ``coef`` the :class:`Coefficients`, ``tables`` the
    :class:`MonthTables` (each a plain tuple), ``targets`` what the recorder writes into
    (:meth:`sim.outcomes.Recorder.targets`).  One function, not a loop calling a month's
    function: Numba optimizes the code of every kernel a compiled function calls once more
    for each level of calls, and compiling took longer."""
    loose, bundles = state
    records, stocks, slots = targets
    st = LooseState(*loose)
    b = Bundles(*bundles)
    draws = MonthDraws(*year)
    c = Coefficients(*coef)
    tab = MonthTables(*tables)
    p = named(PerRun, tab.per_run)
    no_marks_1, no_marks_2 = np.zeros((0, 0), dtype=np.bool_), np.zeros((0, 0, 0), dtype=np.bool_)
    for t in range(first, stop):
        moy = t % MONTHS_PER_YEAR
        d = at_month(draws, moy)
        summer, pandemic = tab.summer[t], tab.pandemic_column[t]
        # calendar and shocks
        pressure = _shocks_and_pressure(
            st.demand_mult,
            c.demand,
            tab.testing[t],
            tab.pandemic[t],
            tab.pandemic_on[t],
            st.initiative_months,
            st.shock,
        )
        # turnover: staff, coaches, the central office
        exit_pandemic = tab.exit_pandemic[t]
        leaves = np.empty(st.skill.shape, dtype=np.bool_)
        staff_month = (t, d.new_leader_continues, tab.staff_hazard[moy], exit_pandemic)
        _staff_exits_and_replacements(b.staff, c.staff, staff_month, leaves, no_marks_2)
        if st.coach_position.shape[1] != 0:
            _coach_exits_and_vacancies(
                b.coach,
                c.coach,
                d.coach_exit,
                tab.coach_hazard[moy],
                exit_pandemic,
                tab.grant_active[t],
                no_marks_2,
            )
        _central_office_leaders(b.office, c.office, pick(OfficeDraws, d), tab.office_hazard[moy], t, no_marks_1)
        # the central office: rollout, messaging, hub, convenings, knowledge base
        due = _cohorts_due(t, st.priority, st.engagement, c.cohort)
        if due.any():
            invited = np.zeros(st.engagement.shape, dtype=np.bool_)
            declined = np.zeros(st.engagement.shape, dtype=np.bool_)
            _invite_cohort(b.rollout, c.rollout, due, t, d.join, invited, declined)
        _repeat_messages(
            st.message, d.message_repeated, p.message_consistency, st.priority, p.message_framing, p.message_memory
        )
        _hub_capacities(st.hub_capacity, st.engagement, p.schools_per_hub_staff, p.hub_staff, tab.hub_loss[t])
        _hold_convenings(
            st.convening,
            tab.convening_schedule[moy],
            pandemic,
            st.hub_capacity,
            p.convening_cancel_severity,
            p.min_hub_capacity,
        )
        _decay_knowledge_base(st.knowledge_base, p.knowledge_decay)
        # coaching, time, sensemaking, improvement work
        _coach(b.coaching, c.coaching, summer, pressure, pandemic, d.visit_rounding)
        ratio = _time_share(pressure, st.local_knowledge, c.time)
        school_stress = _stress(pressure, ratio, st.stall, pandemic, c.stress)
        if summer:
            _recover_fatigue(st.fatigue, p.fatigue_recovery)
        else:
            _school_month(b.school, c.sensemaking, school_stress, d.engagement_decision)
        busy = _improvement_month(summer, ratio, b.improvement, c.improvement, d.cycle_start, d.cycle_success)
        # the bench, the network, embedding, institutionalization, authenticity, costs
        if not summer:
            _groom_successors(st.bench, st.skill, busy, d.groom_successor, p.groom_chance, no_marks_2)
        if st.convening.any():
            _convene(b.network, c.network)
        if not summer:
            practice = (st.principles, st.commitment, st.weights, st.effort)
            _grow_or_decay_embeddedness(st.embeddedness, practice, busy, p.embed_speed, p.embed_decay)
            _gain_or_lose_institution(b.institution, c.institution, d.institutionalize, t, no_marks_2)
        practised = _classify_practice(
            (st.principles, st.tools, st.practised_bits),
            p.practice_threshold,
            st.ever_authentic,
            st.months_not_authentic,
            st.authentic_years,
            st.authenticity,
            moy == YEAR_END,
            no_marks_2,
        )
        _add_costs(b.cost, c.cost, st.skill.shape[0], summer)
        # the month's records, if it is recorded
        slot = slots[t]
        if slot >= 0:
            planned = planned_visits(st.engagement, p.visits_per_month, summer)
            recorded = (b.recorded, b.district)
            record_month(slot, recorded, practised, p.practice_threshold, planned, (records, stocks))
