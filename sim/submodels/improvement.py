"""Improvement work: PDSA cycles and the six principles, practised or decaying.

An engaged school that is not stalled works in school months, at the pace
its time allows (``time_ratio``).  With no cycle under way it starts one
with chance ``time_ratio``; a cycle finishes after ``improvement.cycle_months``
of full-pace work.  Its success chance rises with the team's skill, with
how well the problem was understood first (a team that jumps to solutions,
understanding below one half, pays the solutionitis penalty), with data
systems (top-down support) and with local and documented knowledge.
Success lifts recent results, and so commitment ("learning begets
learning"); failure drains results unless the team practises disciplined
inquiry, in which case it still learns about the problem.

Principles (seed 003).  While working, each principle's practice grows with
the team's commitment and with the principle's own support: tool use
without commitment (compliance, "technical ceremony") builds at most the
principles that structures carry, and under low commitment unsupported
practice erodes even while the forms are filled in.  The supports are:
coaching for the problem focus, skill for variability and systems, data
systems for measurement, finished cycles for disciplined inquiry, and
convenings for organizing as networks.  Disciplined inquiry (learning from
repeated cycles) is the one principle tools cannot carry: without
commitment above the motivation threshold it rises no higher than
``improvement.compliance_ceiling``, below the practice threshold, so a
compliant team fills in PDSA forms without the principle ("technical
ceremony", seed 003) and is at most partially authentic.  Without practice
in school months principles decay, more slowly where routines are
embedded.

The month's work runs in compiled kernels (:mod:`sim.jit`), school by
school: one call does the whole month (:func:`improvement_work`).  Every
coefficient is a parameter of the schema (:class:`ImprovementCoefficients`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.events import note
from improvesim.sim.jit import at_run, clip01_at, coefficients, kernel, named, pick, rule, team_mean_at
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, N_PRINCIPLES, ParamVectors, State
from improvesim.sim.submodels.calendar import Calendar
from improvesim.sim.submodels.sensemaking import sustained_at

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


class ImprovementCoefficients(NamedTuple):
    """Per-run (R,) coefficients of improvement work: the schema's
    ``improvement.*``, ``governance.top_down_support``, ``knowledge.management``,
    ``sensemaking.threshold`` and ``sensemaking.threshold_width``."""

    SECTIONS = ("improvement", "governance", "knowledge", "sensemaking")

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
    principle_gain: np.ndarray
    principle_decay: np.ndarray
    embedded_decay_shield: np.ndarray
    support_pull: np.ndarray
    commitment_pull: np.ndarray
    inquiry_support_idle: np.ndarray
    compliance_ceiling: np.ndarray
    threshold: np.ndarray
    threshold_width: np.ndarray


def improvement_coefficients(pv: ParamVectors) -> np.ndarray:
    """:class:`ImprovementCoefficients` of a batch, as the (fields, R) array kernels take."""
    return coefficients(ImprovementCoefficients, pv)


# --- working schools -----------------------------------------------------------------------------


@kernel
def _working_schools(summer, engagement, stall, ratio):
    """Schools (R, S) doing improvement work this month: not in summer, engaged,
    not stalled, with some time (``ratio`` > 0)."""
    R, S = engagement.shape
    busy = np.zeros((R, S), dtype=np.bool_)
    if summer:
        return busy
    for r in range(R):
        for s in range(S):
            busy[r, s] = engagement[r, s] == ENGAGED and stall[r, s] == 0 and ratio[r, s] > 0.0
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


@kernel
def _advance_cycles(busy, ratio, st, c, u_start, u_success):
    """Start, advance and finish cycles in the working schools ``busy`` (R, S),
    updating the state arrays (:class:`ImprovementState`) in place: a cycle
    starts when ``u_start`` (R, S) falls below the time ``ratio``, succeeds
    when ``u_success`` falls below its chance.  Returns the finished cycles (R, S)."""
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
        for s in range(S):
            if not busy[r, s]:
                continue
            if not in_cycle[r, s] and u_start[r, s] < ratio[r, s]:  # a cycle starts
                in_cycle[r, s] = True
                cycle_progress[r, s] = 0.0
            if in_cycle[r, s]:
                cycle_progress[r, s] += ratio[r, s]
                if cycle_progress[r, s] >= c.cycle_months[r]:
                    done[r, s] = True
                    finishing = True
    if not finishing:
        return done
    success = _finish_cycles(done, st, c, u_success)
    _document_successes(st.joined, success, c.management, st.knowledge_base)
    return done


@kernel
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
            finished = done[r, s]
            if finished:
                team_skill = team_mean_at(skill, weights, r, s)
                p = success_chance_at(cr, team_skill, understanding[r, s], local_knowledge[r, s], shared)
                success[r, s] = u_success[r, s] < p
            succeeded = success[r, s]
            failed = finished and not succeeded
            inquiry = principles[INQUIRY, r, s]
            if finished:
                outcome = 1.0 if succeeded else -cr.failure_results * (1.0 - inquiry)
                results[r, s] = (1.0 - cr.results_update) * results[r, s] + cr.results_update * outcome
            # (every school takes these steps; those without a finished cycle add 0 x the gap)
            learned = cr.learn_from_failure * inquiry if failed else cr.learn_from_success * (1.0 if succeeded else 0.0)
            understanding[r, s] += learned * (1.0 - understanding[r, s])
            gained = cr.local_knowledge_gain * (1.0 if succeeded else 0.0)
            local_knowledge[r, s] += gained * (1.0 - local_knowledge[r, s])
            per_cycle = cr.learn_per_cycle * (1.0 if finished else 0.0)
            for k in range(skill.shape[0]):
                skill[k, r, s] += per_cycle * (1.0 - skill[k, r, s])
            if finished:
                st.cycles_done[r, s] += 1
                st.in_cycle[r, s] = False  # the cycle ends
            if succeeded:
                st.cycles_succeeded[r, s] += 1
    return success


@kernel
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


# --- principles ----------------------------------------------------------------------------------


@rule
def _principle_support_at(c, principle, visits, understanding, team_skill, cycling, networking):
    """Support, 0-1, for ``principle`` at a school: coaching visits or understanding
    for the problem focus, the team's skill for variability and systems, data
    systems (top-down support) for measurement, a cycle finished or under way
    (``cycling``, else ``inquiry_support_idle``) for disciplined inquiry, and
    ``networking`` (convening x hub capacity) for organizing as networks."""
    if principle == PROBLEM:
        return max(min(visits, 1.0), understanding)
    if principle in (VARIABILITY, SYSTEM):
        return team_skill
    if principle == MEASUREMENT:
        return c.top_down_support
    if principle == INQUIRY:
        return 1.0 if cycling else c.inquiry_support_idle
    return networking


@rule
def _inquiry_ceiling_at(c, team_commitment):
    """Highest practice of disciplined inquiry, 0-1, a team reaches: ceremony
    (``compliance_ceiling``) until commitment crosses the motivation threshold,
    up to 1 above it."""
    kept = sustained_at(team_commitment, c.threshold, c.threshold_width)
    return c.compliance_ceiling + (1.0 - c.compliance_ceiling) * kept


@kernel
def _practise_and_decay(busy, finished, st, c):
    """Grow the principles (6, R, S), in place, in the working schools ``busy``
    (R, S); decay them elsewhere (a school month)."""
    R, S = busy.shape
    principles, commitment, skill, weights = st.principles, st.commitment, st.skill, st.weights
    convened = False
    for r in range(R):
        convened |= st.convening[r]
    for r in range(R):
        cr = at_run(c, r)
        # (no convening anywhere, no support)
        networking = (1.0 if st.convening[r] else 0.0) * st.hub_capacity[r] if convened else 0.0
        for s in range(S):
            team_commitment = team_mean_at(commitment, weights, r, s)
            team_skill = team_mean_at(skill, weights, r, s)
            working = busy[r, s]
            cycling = finished[r, s] or st.in_cycle[r, s]
            decay = cr.embedded_decay_shield * st.embeddedness[r, s]
            decay = 1.0 - decay
            decay *= cr.principle_decay
            # working teams lose practice that neither commitment nor support holds up
            # (ceremony); idle teams lose it at the full decay rate
            unheld = decay * (1.0 - team_commitment)
            ceiling = _inquiry_ceiling_at(cr, team_commitment)
            visits, understanding = st.visits[r, s], st.understanding[r, s]
            for i in range(N_PRINCIPLES):
                support = _principle_support_at(cr, i, visits, understanding, team_skill, cycling, networking)
                # part of the pull is the team's commitment, part the principle's own support:
                # structures and tools carry some principles without commitment (partial
                # authenticity), none carries all six
                gain = cr.support_pull * support
                gain += cr.commitment_pull * team_commitment
                gain *= cr.principle_gain
                gain *= 1.0 if working else 0.0
                loss = (1.0 - support) * unheld if working else decay
                # p += gain x (room to grow) - loss x p; disciplined inquiry grows only to its ceiling
                p = principles[i, r, s]
                room = max(ceiling - p, 0.0) if i == INQUIRY else 1.0 - p
                gain *= room
                loss *= p
                gain -= loss
                principles[i, r, s] = clip01_at(p + gain)


# --- learning and stalls -------------------------------------------------------------------------


@kernel
def _learn_by_doing(busy, st, c):
    """Working schools ``busy`` (R, S) gain skill (K, R, S) and, with the problem
    focus, understanding (R, S), in place."""
    skill, understanding, principles = st.skill, st.understanding, st.principles
    K = skill.shape[0]
    R, S = busy.shape
    working = False
    for r in range(R):
        for s in range(S):
            working |= busy[r, s]
    if not working:  # (nothing would change)
        return
    for r in range(R):
        for s in range(S):
            share = 1.0 if busy[r, s] else 0.0
            by_doing = c.learn_by_doing[r] * share
            for k in range(K):
                skill[k, r, s] += by_doing * (1.0 - skill[k, r, s])
            # studying the problem before acting: the problem focus builds understanding
            studied = (c.problem_understanding_gain[r] * share) * principles[PROBLEM, r, s]
            understanding[r, s] += studied * (1.0 - understanding[r, s])


@kernel
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
    busy = _working_schools(summer, st.engagement, st.stall, ratio)
    done = _advance_cycles(busy, ratio, st, c, u_start, u_success)
    if not summer:
        _practise_and_decay(busy, done, st, c)
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
