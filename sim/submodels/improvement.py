"""Improvement work: effort, PDSA cycles, the six principles and the tools.

Effort (Repenning 2002; Repenning and Sterman 2002).  The share of
full-pace improvement work a team does in a school month is the time it
has (``time_ratio``: protected time left after competing demands) times
the priority it gives the work, which rises with the team's commitment
from ``improvement.effort_floor``, plus the time a committed team finds on
its own (``improvement.own_time`` x commitment; seed 003: "on your own time
with no compensation").  Under pressure the protected time goes first;
without commitment the time is not used.

PDSA cycles.  An engaged school that is not stalled starts a cycle with
chance equal to its effort; a cycle finishes after
``improvement.cycle_months`` of full-pace work.  Its success chance rises
with the team's skill, with how well the problem was understood first (a
team that jumps to solutions pays the solutionitis penalty), with data
systems (top-down support) and with local and documented knowledge.
Success lifts recent results, and so commitment ("learning begets
learning"); failure drains results unless the team practises disciplined
inquiry, in which case it still learns about the problem.

Principles (seed 003).  Each principle grows only from its own activity,
in proportion to the effort: understanding the problem and its users,
attending to variability and to measurement (data routines, run charts),
seeing the system (process maps, driver diagrams) in every month of work;
disciplined inquiry only while a PDSA cycle runs; organizing as networks
only through exchanges between schools (convenings, and between them
``improvement.exchange_between_convenings`` of a convening, times the
hub's capacity).  What an hour yields rises with the team's skill and with
coaching.  Principles differ in difficulty: measurement and networking are
hardest (seed 003, 5.1.2: the persistent weaknesses), measurement less so
with data systems (top-down support).  Each principle decays at its own
rate as far as it is not practised, more slowly where routines are
embedded.

Tools (seed 003's partially authentic implementation; Meyer and Rowan 1977;
Yurkofsky 2021).  Tool use (fishbone and driver diagrams, templates) is its
own, cheaper stock: it grows with effort, and under a mandate also with
compliance (``improvement.mandate_tool_push`` of full-pace work that fills in
the forms whatever the team's commitment), and decays without use.  A school
can use the tools without practising the principles.

The month's work runs in compiled kernels (:mod:`sim.jit`), school by
school: one call does the whole month (:func:`improvement_work`).  Every
coefficient is a parameter of the schema (:class:`ImprovementCoefficients`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.events import note
from improvesim.sim.jit import (
    at_run,
    clip01_at,
    coefficients,
    kernel,
    named,
    pick,
    rule,
    step,
    team_mean_at,
    team_means_of_run,
)
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, N_PRINCIPLES, ParamVectors, State, required_by_run
from improvesim.sim.submodels.calendar import Calendar

#: Index of each principle in ``State.principles``.
PROBLEM, VARIABILITY, SYSTEM, MEASUREMENT, INQUIRY, NETWORKS = range(N_PRINCIPLES)


class ImprovementState(NamedTuple):
    """The state arrays a month of improvement work reads and writes."""

    engagement: np.ndarray  # (R, S) Engagement
    stall: np.ndarray  # (R, S) months the work stays stalled
    in_cycle: np.ndarray  # (R, S) a PDSA cycle is under way
    cycle_progress: np.ndarray  # (R, S) full-pace months of the cycle done
    results: np.ndarray  # (R, S) recent results, -1 to 1
    understanding: np.ndarray  # (R, S) of the problem, 0-1
    local_knowledge: np.ndarray  # (R, S) 0-1
    skill: np.ndarray  # (K, R, S) 0-1
    commitment: np.ndarray  # (K, R, S) 0-1
    principles: np.ndarray  # (6, R, S) practice, 0-1
    cycles_done: np.ndarray  # (R, S)
    cycles_succeeded: np.ndarray  # (R, S)
    joined: np.ndarray  # (R, S) participating schools
    knowledge_base: np.ndarray  # (R,) the hub's documented knowledge, 0-1
    hub_capacity: np.ndarray  # (R,) 0-1
    visits: np.ndarray  # (R, S) coaching visits this month
    embeddedness: np.ndarray  # (R, S) 0-1
    convening: np.ndarray  # (R,) a convening was held
    weights: np.ndarray  # (R, K) seat weights of team means
    effort: np.ndarray  # (R, S) share of full-pace improvement work done this month, 0-1
    tools: np.ndarray  # (R, S) tool use, 0-1
    own_time_weight: np.ndarray  # (R, S) equity belief ** own_time_concentration (sim.state.own_time_weights)


class ImprovementCoefficients(NamedTuple):
    """Per-run (R,) coefficients of improvement work: the schema's
    ``improvement.*``, ``governance.top_down_support``, ``knowledge.management``
    and whether participation is ``required`` (1.0 under a mandate, else 0.0)."""

    SECTIONS = ("improvement", "governance", "knowledge")
    DERIVED = {"required": required_by_run}

    required: np.ndarray
    cycle_months: np.ndarray
    skill_effect: np.ndarray
    base_success: np.ndarray
    understanding_effect: np.ndarray
    solutionitis_understanding: np.ndarray
    solutionitis_penalty: np.ndarray
    top_down_support: np.ndarray
    data_systems_effect: np.ndarray
    knowledge_share: np.ndarray
    knowledge_effect: np.ndarray
    min_success: np.ndarray
    max_success: np.ndarray
    management: np.ndarray
    results_memory: np.ndarray
    results_update: np.ndarray
    failure_results: np.ndarray
    learn_from_failure: np.ndarray
    learn_from_success: np.ndarray
    local_knowledge_gain: np.ndarray
    learn_per_cycle: np.ndarray
    learn_by_doing: np.ndarray
    problem_understanding_gain: np.ndarray
    effort_floor: np.ndarray
    own_time: np.ndarray
    own_time_belief: np.ndarray
    own_time_concentration: np.ndarray
    principle_gain: np.ndarray
    yield_base: np.ndarray
    skill_yield: np.ndarray
    coaching_yield: np.ndarray
    difficulty_problem: np.ndarray
    difficulty_variability: np.ndarray
    difficulty_system: np.ndarray
    difficulty_measurement: np.ndarray
    difficulty_inquiry: np.ndarray
    difficulty_networks: np.ndarray
    data_systems_ease: np.ndarray
    exchange_between_convenings: np.ndarray
    decay_problem: np.ndarray
    decay_variability: np.ndarray
    decay_system: np.ndarray
    decay_measurement: np.ndarray
    decay_inquiry: np.ndarray
    decay_networks: np.ndarray
    embedded_decay_shield: np.ndarray
    tool_gain: np.ndarray
    tool_decay: np.ndarray
    mandate_tool_push: np.ndarray


def improvement_coefficients(pv: ParamVectors) -> np.ndarray:
    """:class:`ImprovementCoefficients` of a batch, as the (fields, R) array kernels take."""
    return coefficients(ImprovementCoefficients, pv)


# --- working schools -----------------------------------------------------------------------------


@rule
def own_time_factor_at(c, weight):
    """What a school's own time is scaled by (>= 0, mean 1 across schools):
    ``1 - own_time_belief + own_time_belief x equity_belief^k / E[belief^k]``
    with ``k = own_time_concentration`` (>= 0); ``weight`` is the school's
    ``equity_belief^k`` (:func:`sim.state.own_time_weights`, taken once at set-up).  The
    leaders' ``equity_belief`` (0-1) is drawn uniform across schools, whose k-th moment is
    ``1 / (k + 1)``, so the district's mean own time is the same for every k: k = 1 is linear
    in the belief, k = 0 gives every school 1, larger k give a few schools most of it (at most
    ``1 - own_time_belief + own_time_belief x (k + 1)``)."""
    share = c.own_time_belief * weight
    return 1.0 - c.own_time_belief + share * (c.own_time_concentration + 1.0)


@rule
def effort_at(c, ratio, team_commitment, weight):
    """Share, 0-1, of full-pace improvement work a team does: the time ``ratio``
    (0-1) times the priority it gives the work, ``effort_floor`` rising to 1
    with ``team_commitment`` (0-1), plus the time a committed team gives on its
    own (``own_time`` x commitment x :func:`own_time_factor_at` of the school's
    ``weight``, its leaders' equity belief ** k), at most 1."""
    priority = c.effort_floor + (1.0 - c.effort_floor) * team_commitment
    belief = own_time_factor_at(c, weight)
    return min(ratio * priority + c.own_time * team_commitment * belief, 1.0)


@step
def _working_schools(summer, st, c, ratio):
    """Schools (R, S) doing improvement work this month (not in summer, engaged,
    not stalled, with some time: ``ratio`` (R, S) > 0), and each school's
    effort (:func:`effort_at`, 0 where not working) written into ``st.effort``."""
    R, S = st.engagement.shape
    busy = np.zeros((R, S), dtype=np.bool_)
    effort = st.effort
    if summer:  # (nobody works: no effort anywhere)
        effort[:] = 0.0
        return busy
    team = np.empty(S)
    for r in range(R):
        cr = at_run(c, r)
        team_means_of_run(st.commitment, st.weights, r, team)
        for s in range(S):
            working = (st.engagement[r, s] == ENGAGED) & (st.stall[r, s] == 0) & (ratio[r, s] > 0.0)
            busy[r, s] = working
            # (taken everywhere, kept where working: a choice of values, not a branch per school)
            e = effort_at(cr, ratio[r, s], team[s], st.own_time_weight[r, s])
            effort[r, s] = e if working else 0.0
    return busy


# --- PDSA cycles ---------------------------------------------------------------------------------


@rule
def success_chance_at(c, team_skill, understanding, local_knowledge, shared_knowledge):
    """Chance, ``min_success`` to ``max_success``, that a school's finished cycle
    succeeds: base + skill + understanding - solutionitis + data systems +
    knowledge, summed in that order.  ``c`` is one run's
    :class:`ImprovementCoefficients`; ``shared_knowledge`` is the hub's
    documented knowledge (knowledge base x hub capacity)."""
    p = c.skill_effect * team_skill
    p += c.base_success
    p += c.understanding_effect * understanding
    if understanding < c.solutionitis_understanding:  # teams that jump to solutions pay the penalty
        p -= c.solutionitis_penalty
    p += c.data_systems_effect * c.top_down_support
    knowledge = local_knowledge + shared_knowledge
    knowledge *= c.knowledge_share
    knowledge *= c.knowledge_effect
    p += knowledge
    return min(max(p, c.min_success), c.max_success)


@step
def _advance_cycles(busy, st, c, u_start, u_success):
    """Start, advance and finish cycles in the working schools ``busy`` (R, S),
    updating the state arrays (:class:`ImprovementState`) in place: a cycle
    starts when ``u_start`` (R, S) falls below the school's effort and
    advances by the effort, and succeeds when ``u_success`` falls below its
    chance.  Returns the finished cycles (R, S)."""
    R, S = st.results.shape
    results = st.results
    done = np.zeros((R, S), dtype=np.bool_)
    working = False
    for r in range(R):
        memory = c.results_memory[r]
        for s in range(S):
            results[r, s] *= memory
            working |= busy[r, s]
    if not working:  # (summer, say: no cycle starts, advances or finishes)
        return done
    finishing = False
    in_cycle, cycle_progress = st.in_cycle, st.cycle_progress
    for r in range(R):
        months = c.cycle_months[r]
        for s in range(S):  # (choices of values, not branches: a school that does not work keeps its own)
            working, effort, cycling = busy[r, s], st.effort[r, s], in_cycle[r, s]
            starts = working & (not cycling) & (u_start[r, s] < effort)  # a cycle starts
            cycling = cycling | starts
            progress = 0.0 if starts else cycle_progress[r, s]
            advances = working & cycling
            progress = progress + effort if advances else progress
            finished = advances & (progress >= months)
            in_cycle[r, s], cycle_progress[r, s], done[r, s] = cycling, progress, finished
            finishing |= finished
    if not finishing:
        return done
    success = _finish_cycles(done, st, c, u_success)
    _document_successes(st.joined, success, c.management, st.knowledge_base)
    return done


@step
def _finish_cycles(done, st, c, u_success):
    """The cycles ``done`` (R, S) end, succeeding when ``u_success`` falls below
    their chance; results, understanding, local knowledge, skill and the cycle
    counts follow, in place.  Returns the successes (R, S)."""
    R, S = done.shape
    results, understanding, local_knowledge = st.results, st.understanding, st.local_knowledge
    skill, principles, weights = st.skill, st.principles, st.weights
    success = np.zeros((R, S), dtype=np.bool_)
    for r in range(R):
        cr = at_run(c, r)
        shared = st.knowledge_base[r] * st.hub_capacity[r]  # (this month's successes are documented after)
        for s in range(S):
            if not done[r, s]:  # (nothing changes: a school without a finished cycle would add 0 x each gap)
                continue
            team_skill = team_mean_at(skill, weights, r, s)
            p = success_chance_at(cr, team_skill, understanding[r, s], local_knowledge[r, s], shared)
            succeeded = u_success[r, s] < p
            success[r, s] = succeeded
            inquiry = principles[INQUIRY, r, s]
            outcome = 1.0 if succeeded else -cr.failure_results * (1.0 - inquiry)
            results[r, s] = (1.0 - cr.results_update) * results[r, s] + cr.results_update * outcome
            learned = cr.learn_from_success if succeeded else cr.learn_from_failure * inquiry
            understanding[r, s] += learned * (1.0 - understanding[r, s])
            gained = cr.local_knowledge_gain * (1.0 if succeeded else 0.0)
            local_knowledge[r, s] += gained * (1.0 - local_knowledge[r, s])
            per_cycle = cr.learn_per_cycle
            for k in range(skill.shape[0]):
                skill[k, r, s] += per_cycle * (1.0 - skill[k, r, s])
            st.cycles_done[r, s] += 1
            st.in_cycle[r, s] = False  # the cycle ends
            if succeeded:
                st.cycles_succeeded[r, s] += 1
    return success


@step
def _document_successes(joined, success, management, knowledge_base):
    """Grow each run's knowledge base (R,), 0-1, in place by the share of its
    participating (joined) schools with a successful cycle ``success`` (R, S),
    at the rate ``management`` (R,)."""
    R, S = success.shape
    for r in range(R):
        participating = 0
        succeeded = 0
        for s in range(S):
            if joined[r, s]:
                participating += 1
            if success[r, s]:
                succeeded += 1
        share = succeeded / max(participating, 1)
        knowledge_base[r] += (management[r] * share) * (1.0 - knowledge_base[r])


# --- principles and tools -----------------------------------------------------------------------


@rule
def _activity_at(principle, cycling, networking):
    """Share, 0-1, of a month's improvement work that exercises ``principle``:
    all of it for the problem focus, variability, systems and measurement; for
    disciplined inquiry, all of it while a cycle runs or finishes (``cycling``)
    and none otherwise; for organizing as networks, the school's exchanges with
    other schools (``networking``, 0-1)."""
    if principle == INQUIRY:
        return 1.0 if cycling else 0.0
    if principle == NETWORKS:
        return networking
    return 1.0


@rule
def _of_principle(principle, problem, variability, system, measurement, inquiry, networks):
    """The one of six values that belongs to ``principle`` (in the order of the principles)."""
    if principle == PROBLEM:
        return problem
    if principle == VARIABILITY:
        return variability
    if principle == SYSTEM:
        return system
    if principle == MEASUREMENT:
        return measurement
    if principle == INQUIRY:
        return inquiry
    return networks


@rule
def _difficulty_at(c, principle):
    """Difficulty (>= 0) of ``principle``: full-pace months of practice per unit of
    growth rate, relative to each other; measurement is easier with data systems
    (``data_systems_ease`` x top-down support)."""
    measurement = c.difficulty_measurement * (1.0 - c.data_systems_ease * c.top_down_support)
    return _of_principle(
        principle,
        c.difficulty_problem,
        c.difficulty_variability,
        c.difficulty_system,
        measurement,
        c.difficulty_inquiry,
        c.difficulty_networks,
    )


@rule
def _decay_at(c, principle):
    """Monthly decay rate (0-1) of ``principle`` when it is not practised at all."""
    return _of_principle(
        principle,
        c.decay_problem,
        c.decay_variability,
        c.decay_system,
        c.decay_measurement,
        c.decay_inquiry,
        c.decay_networks,
    )


@rule
def yield_at(c, team_skill, visits):
    """What a full-pace month of practice yields (>= 0): a base, raised by the
    team's skill (0-1) and by coaching ``visits`` (counted up to one a month)."""
    y = c.yield_base + c.skill_yield * team_skill
    return y + c.coaching_yield * min(visits, 1.0)


@rule
def practice_step_at(principle_gain, difficulty, decay, p, practice, yielded, shield):
    """Next month's practice of a principle, 0-1, from ``p``: it grows by
    ``principle_gain`` x ``practice`` (effort x activity, 0-1) x ``yielded`` /
    its ``difficulty`` (:func:`_difficulty_at`) of the room left, and decays by its rate ``decay``
    (:func:`_decay_at`) x (1 - ``practice``) x ``shield`` (the share of decay embedded routines let
    through) of itself."""
    gain = principle_gain * practice
    gain *= yielded
    gain /= difficulty
    gain = min(gain, 1.0) * (1.0 - p)
    loss = decay * (1.0 - practice)
    loss *= shield
    return clip01_at(p + gain - loss * p)


@step
def _practise_and_decay(finished, st, c):
    """In a school month, grow each principle (6, R, S) with its own activity
    at the school's effort and decay it as far as it is not practised, and
    the tools (R, S) likewise, in place (every school; a school that does not
    work has no effort, so it only loses practice).  Run by run, principle by principle over
    the run's schools (a contiguous row), with what a school's principles share (yield, shield,
    cycling) taken once per school first."""
    R, S = st.effort.shape
    principles, skill, weights = st.principles, st.skill, st.weights
    team, yielded, shield = np.empty(S), np.empty(S), np.empty(S)
    cycling = np.empty(S, dtype=np.bool_)
    for r in range(R):
        cr = at_run(c, r)
        exchange = 1.0 if st.convening[r] else cr.exchange_between_convenings
        networking = exchange * st.hub_capacity[r]
        team_means_of_run(skill, weights, r, team)
        for s in range(S):
            cycling[s] = finished[r, s] or st.in_cycle[r, s]
            yielded[s] = yield_at(cr, team[s], st.visits[r, s])
            shield[s] = 1.0 - cr.embedded_decay_shield * st.embeddedness[r, s]
        effort = st.effort[r]
        for i in range(N_PRINCIPLES):
            difficulty, decay = _difficulty_at(cr, i), _decay_at(cr, i)
            row = principles[i, r]
            for s in range(S):
                practice = effort[s] * _activity_at(i, cycling[s], networking)
                row[s] = practice_step_at(cr.principle_gain, difficulty, decay, row[s], practice, yielded[s], shield[s])
        for s in range(S):
            st.tools[r, s] = tool_step_at(cr, st.tools[r, s], effort[s], st.engagement[r, s] == ENGAGED)


@rule
def tool_step_at(c, tools, effort, engaged):
    """Next month's tool use, 0-1: it grows by ``tool_gain`` x use of the room
    left and decays by ``tool_decay`` x (1 - use); use is the ``effort`` or,
    at an ``engaged`` school under a mandate, at least ``mandate_tool_push``
    (compliance: the forms are filled in whatever the commitment)."""
    use = effort
    if engaged and c.required:
        use = max(use, c.mandate_tool_push)
    grown = c.tool_gain * use * (1.0 - tools)
    lost = c.tool_decay * (1.0 - use) * tools
    return clip01_at(tools + grown - lost)


# --- learning and stalls -------------------------------------------------------------------------


@step
def _learn_by_doing(busy, st, c):
    """Working schools ``busy`` (R, S) gain skill (K, R, S) and, with the problem
    focus, understanding (R, S), in place, in proportion to their effort."""
    skill, understanding, principles = st.skill, st.understanding, st.principles
    K = skill.shape[0]
    R, S = busy.shape
    working = False
    for r in range(R):
        for s in range(S):
            working |= busy[r, s]
    if not working:  # (nothing would change)
        return
    gained = np.empty(S)
    for r in range(R):
        learn_by_doing, study = c.learn_by_doing[r], c.problem_understanding_gain[r]
        for s in range(S):
            gained[s] = learn_by_doing * st.effort[r, s]
        effort = st.effort[r]
        for k in range(K):  # (a school without effort would add 0 x each gap: skipped)
            row = skill[k, r]
            for s in range(S):
                if effort[s] != 0.0:
                    row[s] += gained[s] * (1.0 - row[s])
        for s in range(S):
            share = st.effort[r, s]
            if share == 0.0:
                continue
            # studying the problem before acting: the problem focus builds understanding
            studied = (study * share) * principles[PROBLEM, r, s]
            understanding[r, s] += studied * (1.0 - understanding[r, s])


@step
def _count_down_stalls(stall):
    """Stalled schools' months of stall (R, S) count down by one, in place."""
    R, S = stall.shape
    for r in range(R):
        for s in range(S):
            if stall[r, s] != 0:
                stall[r, s] = max(stall[r, s] - 1, 0)


# --- the month -----------------------------------------------------------------------------------


@kernel
def _improvement_month(summer, ratio, state, coef, u_start, u_success):
    """A month of improvement work on the state arrays (:class:`ImprovementState`),
    in place, with the coefficients (:class:`ImprovementCoefficients`), the time
    ``ratio`` (R, S) and the draws ``u_start`` and ``u_success`` (R, S): cycles,
    then principles, then learning by doing, then stalls count down.  Returns
    the working schools (R, S)."""
    st = ImprovementState(*state)
    c = named(ImprovementCoefficients, coef)
    busy = _working_schools(summer, st, c, ratio)
    done = _advance_cycles(busy, st, c, u_start, u_success)
    if not summer:
        _practise_and_decay(done, st, c)
    _learn_by_doing(busy, st, c)
    if not summer:
        _count_down_stalls(st.stall)
    return busy


# --- the submodel's functions --------------------------------------------------------------------


def _cycle_counts(st: State) -> tuple[np.ndarray, np.ndarray] | None:
    """Copies of the schools' finished and successful cycle counts (R, S) when
    events are recorded (for :func:`_note_cycles`), else None."""
    if st.events is None:
        return None
    return st.cycles_done.copy(), st.cycles_succeeded.copy()


def _note_cycles(st: State, month: int, counts: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Record the cycles finished since ``counts`` (:func:`_cycle_counts`) as
    succeeded or failed: the schools whose counts rose."""
    if counts is None:
        return
    done = st.cycles_done != counts[0]
    success = st.cycles_succeeded != counts[1]
    note(st.events, month, "cycle_succeeded", success)
    note(st.events, month, "cycle_failed", done ^ success)  # (success is within done)


def improvement_work(st: State, pv: ParamVectors, cal: Calendar, ratio: np.ndarray, draws: MonthDraws) -> np.ndarray:
    """A month of improvement work, with the draws ``cycle_start`` and
    ``cycle_success``.  Returns the working schools (R, S)."""
    counts = _cycle_counts(st)
    busy = _improvement_month(
        cal.summer,
        ratio,
        pick(ImprovementState, st),
        improvement_coefficients(pv),
        draws.cycle_start,
        draws.cycle_success,
    )
    _note_cycles(st, cal.month, counts)
    return busy
