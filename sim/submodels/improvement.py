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
school: one call does the whole month (:func:`improvement_work`).
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.events import note
from improvesim.sim.jit import clip01_at, kernel, team_mean_at
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, N_PRINCIPLES, ParamVectors, State, team_weights
from improvesim.sim.submodels.calendar import Calendar
from improvesim.sim.submodels.sensemaking import sustained_at

#: Monthly memory of the results signal.
RESULTS_MEMORY = 0.9
#: Skill gained per working month, and per finished cycle (share of the gap).
LEARN_BY_DOING, LEARN_PER_CYCLE = 0.01, 0.03
#: Index of each principle in ``State.principles``.
PROBLEM, VARIABILITY, SYSTEM, MEASUREMENT, INQUIRY, NETWORKS = range(N_PRINCIPLES)


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


@kernel
def _success_chance_at(
    team_skill,
    understanding,
    local_knowledge,
    shared_knowledge,
    skill_effect,
    base_success,
    understanding_effect,
    solutionitis_penalty,
    top_down_support,
):
    """Chance, 0.02-0.98, that a school's finished cycle succeeds: base + skill +
    understanding - solutionitis + data systems + knowledge, summed in that order.
    ``shared_knowledge`` is the hub's documented knowledge (knowledge base x hub capacity)."""
    p = skill_effect * team_skill
    p += base_success
    p += understanding_effect * understanding
    if understanding < 0.5:  # teams that jump to solutions pay the penalty
        p -= solutionitis_penalty
    p += 0.1 * top_down_support
    knowledge = local_knowledge + shared_knowledge
    knowledge *= 0.5
    knowledge *= 0.1
    p += knowledge
    return min(max(p, 0.02), 0.98)


@kernel
def _success_chances(
    skill,
    weights,
    understanding,
    local_knowledge,
    knowledge_base,
    hub_capacity,
    skill_effect,
    base_success,
    understanding_effect,
    solutionitis_penalty,
    top_down_support,
):
    """:func:`_success_chance_at` of every school, (R, S); per-run parameters are (R,)."""
    R, S = understanding.shape
    p = np.empty((R, S))
    for r in range(R):
        shared = knowledge_base[r] * hub_capacity[r]
        for s in range(S):
            p[r, s] = _success_chance_at(
                team_mean_at(skill, weights, r, s),
                understanding[r, s],
                local_knowledge[r, s],
                shared,
                skill_effect[r],
                base_success[r],
                understanding_effect[r],
                solutionitis_penalty[r],
                top_down_support[r],
            )
    return p


@kernel
def _advance_cycles(
    busy,
    ratio,
    u,
    in_cycle,
    cycle_progress,
    results,
    understanding,
    local_knowledge,
    skill,
    principles,
    cycles_done,
    cycles_succeeded,
    joined,
    knowledge_base,
    hub_capacity,
    weights,
    top_down_support,
    cycle_months,
    skill_effect,
    base_success,
    understanding_effect,
    solutionitis_penalty,
    management,
):
    """Start, advance and finish cycles in the working schools ``busy`` (R, S),
    updating the state arrays in place; ``u`` is (R, S, 2): slot 0 starts a
    cycle, slot 1 decides its success.  Returns the finished cycles (R, S)."""
    R, S = results.shape
    done = np.zeros((R, S), dtype=np.bool_)
    working = False
    for r in range(R):
        for s in range(S):
            results[r, s] *= RESULTS_MEMORY
            working |= busy[r, s]
    if not working:  # (summer, say: no cycle starts, advances or finishes)
        return done
    finishing = False
    for r in range(R):
        for s in range(S):
            if not busy[r, s]:
                continue
            if not in_cycle[r, s] and u[0][r, s] < ratio[r, s]:  # a cycle starts
                in_cycle[r, s] = True
                cycle_progress[r, s] = 0.0
            if in_cycle[r, s]:
                cycle_progress[r, s] += ratio[r, s]
                if cycle_progress[r, s] >= cycle_months[r]:
                    done[r, s] = True
                    finishing = True
    if not finishing:
        return done
    success = np.zeros((R, S), dtype=np.bool_)
    for r in range(R):
        shared = knowledge_base[r] * hub_capacity[r]  # (this month's successes are documented below)
        for s in range(S):
            finished = done[r, s]
            if finished:
                p = _success_chance_at(
                    team_mean_at(skill, weights, r, s),
                    understanding[r, s],
                    local_knowledge[r, s],
                    shared,
                    skill_effect[r],
                    base_success[r],
                    understanding_effect[r],
                    solutionitis_penalty[r],
                    top_down_support[r],
                )
                success[r, s] = u[1][r, s] < p
            succeeded = success[r, s]
            failed = finished and not succeeded
            inquiry = principles[INQUIRY, r, s]
            if finished:
                outcome = 1.0 if succeeded else -0.5 * (1.0 - inquiry)
                results[r, s] = 0.5 * results[r, s] + 0.5 * outcome
            # (every school takes these steps; those without a finished cycle add 0 x the gap)
            learned = 0.1 * inquiry if failed else 0.05 * (1.0 if succeeded else 0.0)
            understanding[r, s] += learned * (1.0 - understanding[r, s])
            local_knowledge[r, s] += (0.1 * (1.0 if succeeded else 0.0)) * (1.0 - local_knowledge[r, s])
            per_cycle = LEARN_PER_CYCLE * (1.0 if finished else 0.0)
            for k in range(skill.shape[0]):
                skill[k, r, s] += per_cycle * (1.0 - skill[k, r, s])
            if finished:
                cycles_done[r, s] += 1
                in_cycle[r, s] = False  # the cycle ends
            if succeeded:
                cycles_succeeded[r, s] += 1
    _document_successes(joined, success, management, knowledge_base)
    return done


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


@kernel
def _principle_support_at(principle, visits, understanding, team_skill, top_down_support, cycling, networking):
    """Support, 0-1, for ``principle`` at a school: coaching visits or understanding
    for the problem focus, the team's skill for variability and systems, data
    systems (top-down support) for measurement, a cycle finished or under way
    (``cycling``) for disciplined inquiry, and ``networking`` (convening x hub
    capacity) for organizing as networks."""
    if principle == PROBLEM:
        return max(min(visits, 1.0), understanding)
    if principle in (VARIABILITY, SYSTEM):
        return team_skill
    if principle == MEASUREMENT:
        return top_down_support
    if principle == INQUIRY:
        return 1.0 if cycling else 0.5
    return networking


@kernel
def _inquiry_ceiling_at(compliance_ceiling, team_commitment, threshold, threshold_width):
    """Highest practice of disciplined inquiry, 0-1, a team reaches: ceremony
    (``compliance_ceiling``) until commitment crosses the motivation threshold,
    up to 1 above it."""
    return compliance_ceiling + (1.0 - compliance_ceiling) * sustained_at(team_commitment, threshold, threshold_width)


@kernel
def _practise_and_decay(
    busy,
    finished,
    principles,
    commitment,
    skill,
    weights,
    understanding,
    visits,
    in_cycle,
    embeddedness,
    convening,
    hub_capacity,
    top_down_support,
    principle_gain,
    principle_decay,
    compliance_ceiling,
    threshold,
    threshold_width,
):
    """Grow the principles (6, R, S), in place, in the working schools ``busy``
    (R, S); decay them elsewhere (a school month)."""
    R, S = busy.shape
    convened = False
    for r in range(R):
        convened |= convening[r]
    for r in range(R):
        # (no convening anywhere, no support)
        networking = (1.0 if convening[r] else 0.0) * hub_capacity[r] if convened else 0.0
        for s in range(S):
            team_commitment = team_mean_at(commitment, weights, r, s)
            team_skill = team_mean_at(skill, weights, r, s)
            working = busy[r, s]
            cycling = finished[r, s] or in_cycle[r, s]
            decay = 0.5 * embeddedness[r, s]
            decay = 1.0 - decay
            decay *= principle_decay[r]
            # working teams lose practice that neither commitment nor support holds up
            # (ceremony); idle teams lose it at the full decay rate
            unheld = decay * (1.0 - team_commitment)
            ceiling = _inquiry_ceiling_at(compliance_ceiling[r], team_commitment, threshold[r], threshold_width[r])
            for i in range(N_PRINCIPLES):
                support = _principle_support_at(
                    i, visits[r, s], understanding[r, s], team_skill, top_down_support[r], cycling, networking
                )
                # half the pull is the team's commitment, half the principle's own support:
                # structures and tools carry some principles without commitment (partial
                # authenticity), none carries all six
                gain = 0.5 * support
                gain += 0.5 * team_commitment
                gain *= principle_gain[r]
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
def _learn_by_doing(busy, skill, understanding, principles):
    """Working schools ``busy`` (R, S) gain skill (K, R, S) and, with the problem
    focus, understanding (R, S), in place."""
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
            by_doing = LEARN_BY_DOING * share
            for k in range(K):
                skill[k, r, s] += by_doing * (1.0 - skill[k, r, s])
            # studying the problem before acting: the problem focus builds understanding
            understanding[r, s] += ((0.05 * share) * principles[PROBLEM, r, s]) * (1.0 - understanding[r, s])


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
def _improvement_month(
    summer, ratio, u, engagement, stall, skill, understanding, principles, cycle_args, principle_args
):
    """A month of improvement work on the state arrays, in place: cycles, then
    principles, then learning by doing, then stalls count down.  ``cycle_args``
    and ``principle_args`` are the arguments of :func:`_advance_cycles` after
    ``u`` and of :func:`_practise_and_decay` after ``finished``.  Returns the
    working schools (R, S)."""
    busy = _working_schools(summer, engagement, stall, ratio)
    done = _advance_cycles(busy, ratio, u, *cycle_args)
    if not summer:
        _practise_and_decay(busy, done, *principle_args)
    _learn_by_doing(busy, skill, understanding, principles)
    if not summer:
        _count_down_stalls(stall)
    return busy


# --- the submodel's functions --------------------------------------------------------------------


def _cycle_parameters(pv: ParamVectors) -> tuple[np.ndarray, ...]:
    """Per-run (R,) parameters of the cycles, in :func:`_advance_cycles`' order."""
    names = ("cycle_months", "skill_effect", "base_success", "understanding_effect", "solutionitis_penalty")
    return (*(pv.col("improvement." + name) for name in names), pv.col("knowledge.management"))


def _principle_parameters(pv: ParamVectors) -> tuple[np.ndarray, ...]:
    """Per-run (R,) parameters of the principles, in :func:`_practise_and_decay`' order."""
    names = ("principle_gain", "principle_decay", "compliance_ceiling")
    return (
        *(pv.col("improvement." + name) for name in names),
        pv.col("sensemaking.threshold"),
        pv.col("sensemaking.threshold_width"),
    )


def _cycle_arguments(st: State, pv: ParamVectors) -> tuple:
    """The arguments of :func:`_advance_cycles` after ``u``."""
    return (
        st.in_cycle,
        st.cycle_progress,
        st.results,
        st.understanding,
        st.local_knowledge,
        st.skill,
        st.principles,
        st.cycles_done,
        st.cycles_succeeded,
        st.joined,
        st.knowledge_base,
        st.hub_capacity,
        team_weights(st.team_size),
        pv.col("governance.top_down_support"),
        *pv.cached("improvement_cycle_parameters", _cycle_parameters),
    )


def _principle_arguments(st: State, pv: ParamVectors) -> tuple:
    """The arguments of :func:`_practise_and_decay` after ``finished``."""
    return (
        st.principles,
        st.commitment,
        st.skill,
        team_weights(st.team_size),
        st.understanding,
        st.visits,
        st.in_cycle,
        st.embeddedness,
        st.convening,
        st.hub_capacity,
        pv.col("governance.top_down_support"),
        *pv.cached("improvement_principle_parameters", _principle_parameters),
    )


def success_chance(st: State, pv: ParamVectors) -> np.ndarray:
    """Chance (R, S) that a finished PDSA cycle succeeds."""
    return _success_chances(
        st.skill,
        team_weights(st.team_size),
        st.understanding,
        st.local_knowledge,
        st.knowledge_base,
        st.hub_capacity,
        pv.col("improvement.skill_effect"),
        pv.col("improvement.base_success"),
        pv.col("improvement.understanding_effect"),
        pv.col("improvement.solutionitis_penalty"),
        pv.col("governance.top_down_support"),
    )


def run_cycles(
    st: State, pv: ParamVectors, cal: Calendar, ratio: np.ndarray, busy: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Start, advance and finish PDSA cycles; ``u`` is (R, S, 2).  Returns finished cycles (R, S)."""
    counts = _cycle_counts(st)
    done = _advance_cycles(busy, ratio, (u[..., 0], u[..., 1]), *_cycle_arguments(st, pv))
    _note_cycles(st, cal.month, counts)
    return done


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


def _document(st: State, pv: ParamVectors, success: np.ndarray) -> None:
    """Documented successes grow the hub's knowledge base."""
    _document_successes(st.joined, success, pv.col("knowledge.management"), st.knowledge_base)


def practise_principles(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray, finished: np.ndarray) -> None:
    """Grow principles in working, committed teams; decay them elsewhere in school months."""
    if cal.summer:
        return
    _practise_and_decay(busy, finished, *_principle_arguments(st, pv))


def improvement_work(st: State, pv: ParamVectors, cal: Calendar, ratio: np.ndarray, draws: MonthDraws) -> np.ndarray:
    """A month of improvement work.  Returns the working schools (R, S)."""
    counts = _cycle_counts(st)
    busy = _improvement_month(
        cal.summer,
        ratio,
        (draws.cycle_start, draws.cycle_success),
        st.engagement,
        st.stall,
        st.skill,
        st.understanding,
        st.principles,
        _cycle_arguments(st, pv),
        _principle_arguments(st, pv),
    )
    _note_cycles(st, cal.month, counts)
    return busy
