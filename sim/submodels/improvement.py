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
"""

from __future__ import annotations

import numpy as np

from sim.events import note
from sim.state import (
    N_PRINCIPLES,
    ParamVectors,
    State,
    anything,
    clip01,
    engagement_masks,
    nobody,
    spread_over_schools,
    team_mean_of,
)
from sim.submodels.calendar import Calendar
from sim.submodels.sensemaking import sustained

#: Monthly memory of the results signal.
RESULTS_MEMORY = 0.9
#: Skill gained per working month, and per finished cycle (share of the gap).
LEARN_BY_DOING, LEARN_PER_CYCLE = 0.01, 0.03
#: Index of each principle in ``State.principles``.
PROBLEM, VARIABILITY, SYSTEM, MEASUREMENT, INQUIRY, NETWORKS = range(N_PRINCIPLES)


def working(st: State, cal: Calendar, ratio: np.ndarray) -> np.ndarray:
    """Schools (R, S) doing improvement work this month."""
    if cal.summer:
        return nobody(st.in_cycle.shape)
    engaged = engagement_masks(st).engaged
    if anything(st.stall):
        engaged = engaged & (st.stall == 0)
    return engaged & (ratio > 0.0)


def success_chance(st: State, pv: ParamVectors) -> np.ndarray:
    """Chance (R, S) that a finished PDSA cycle succeeds."""
    # base + skill + understanding - solutionitis + data systems + knowledge, summed in that order
    full = pv.full
    p = full["improvement.skill_effect"] * team_mean_of(st, "skill")
    p += full["improvement.base_success"]
    p += full["improvement.understanding_effect"] * st.understanding
    # (teams that jump to solutions pay the penalty; subtracting zero from the others changes nothing)
    np.subtract(p, full["improvement.solutionitis_penalty"], out=p, where=st.understanding < 0.5)
    p += pv.cached("support_success", _support_success)
    knowledge = st.local_knowledge + (st.knowledge_base * st.hub_capacity)[:, None]
    knowledge *= 0.5
    knowledge *= 0.1
    p += knowledge
    np.maximum(p, 0.02, out=p)
    return np.minimum(p, 0.98, out=p)


def _support_success(pv: ParamVectors) -> np.ndarray:
    return spread_over_schools(0.1 * pv["governance.top_down_support"], pv.schools)


def run_cycles(
    st: State, pv: ParamVectors, cal: Calendar, ratio: np.ndarray, busy: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Start, advance and finish PDSA cycles; ``u`` is (R, S, 2).  Returns finished cycles (R, S)."""
    st.results *= RESULTS_MEMORY
    if not anything(busy):  # (summer, say: no cycle starts, advances or finishes)
        return nobody(busy.shape)
    starts = busy & ~st.in_cycle
    starts &= u[:, :, 0] < ratio
    st.in_cycle |= starts
    np.copyto(st.cycle_progress, 0.0, where=starts)
    advancing = busy & st.in_cycle
    # progress += ratio where advancing (adding ratio x 0 elsewhere would change nothing)
    np.add(st.cycle_progress, ratio, out=st.cycle_progress, where=advancing)
    done = advancing & (st.cycle_progress >= pv.full["improvement.cycle_months"])
    if not anything(done):
        return done
    success = done & (u[:, :, 1] < success_chance(st, pv))
    failure = done ^ success  # (success is within done)
    inquiry = st.principles[INQUIRY]
    outcome = np.where(success, 1.0, -0.5 * (1.0 - inquiry))
    np.copyto(st.results, 0.5 * st.results + 0.5 * outcome, where=done)
    learned = np.where(failure, 0.1 * inquiry, 0.05 * success)
    st.understanding += learned * (1.0 - st.understanding)
    st.local_knowledge += 0.1 * success * (1.0 - st.local_knowledge)
    st.skill += (LEARN_PER_CYCLE * done) * (1.0 - st.skill)
    _document(st, pv, success)
    st.cycles_done += done
    st.cycles_succeeded += success
    st.in_cycle ^= done  # (done is within in_cycle): cycles end
    note(st.events, cal.month, "cycle_succeeded", success)
    note(st.events, cal.month, "cycle_failed", failure)
    return done


def _document(st: State, pv: ParamVectors, success: np.ndarray) -> None:
    """Documented successes grow the hub's knowledge base."""
    participating = np.maximum(st.joined.sum(axis=1), 1)
    share = success.sum(axis=1) / participating
    st.knowledge_base += pv.col("knowledge.management") * share * (1.0 - st.knowledge_base)


def principle_support(st: State, pv: ParamVectors, finished: np.ndarray) -> np.ndarray:
    """(6, R, S) support for each principle, 0-1."""
    support = np.empty(st.principles.shape)
    skill = team_mean_of(st, "skill")
    support[PROBLEM] = np.maximum(np.minimum(st.visits, 1.0), st.understanding)
    support[VARIABILITY] = skill
    support[SYSTEM] = skill
    support[MEASUREMENT] = pv["governance.top_down_support"]
    support[INQUIRY] = np.where(finished | st.in_cycle, 1.0, 0.5)
    if anything(st.convening):
        support[NETWORKS] = (st.convening * st.hub_capacity)[:, None]
    else:  # (no convening, no support)
        support[NETWORKS] = 0.0
    return support


def inquiry_ceiling(pv: ParamVectors, commitment: np.ndarray) -> np.ndarray:
    """(R, S) highest practice of disciplined inquiry the team reaches: ceremony
    (``improvement.compliance_ceiling``) until commitment crosses the motivation
    threshold, up to 1 above it."""
    floor = pv["improvement.compliance_ceiling"]
    return floor + (1.0 - floor) * sustained(pv, commitment)


def practise_principles(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray, finished: np.ndarray) -> None:
    """Grow principles in working, committed teams; decay them elsewhere in school months."""
    if cal.summer:
        return
    commitment = team_mean_of(st, "commitment")
    support = principle_support(st, pv, finished)
    p = st.principles
    # half the pull is the team's commitment, half the principle's own support:
    # structures and tools carry some principles without commitment (partial
    # authenticity), none carries all six
    # (computed in place: gain = rate x (0.5 commitment + 0.5 support) x busy)
    gain = 0.5 * support
    gain += 0.5 * commitment
    gain *= pv.full["improvement.principle_gain"]
    gain *= busy
    decay = 0.5 * st.embeddedness
    np.subtract(1.0, decay, out=decay)
    decay *= pv.full["improvement.principle_decay"]
    # working teams lose practice that neither commitment nor support holds up
    # (ceremony); idle teams lose it at the full decay rate
    loss = 1.0 - support
    loss *= decay * (1.0 - commitment)
    np.copyto(loss, decay, where=~busy)
    # p += gain x (room to grow) - loss x p; disciplined inquiry grows only to its ceiling
    room = 1.0 - p
    room[INQUIRY] = np.maximum(inquiry_ceiling(pv, commitment) - p[INQUIRY], 0.0)
    gain *= room
    loss *= p
    gain -= loss
    p += gain
    clip01(p)


def learn_by_doing(st: State, busy: np.ndarray) -> None:
    if not anything(busy):  # (nothing would change)
        return
    st.skill += (LEARN_BY_DOING * busy) * (1.0 - st.skill)
    # studying the problem before acting: the problem focus builds understanding
    st.understanding += (0.05 * busy) * st.principles[PROBLEM] * (1.0 - st.understanding)


def count_down_stalls(st: State, cal: Calendar) -> None:
    if not cal.summer and anything(st.stall):
        np.maximum(st.stall - 1, 0, out=st.stall)


def improvement_work(st: State, pv: ParamVectors, cal: Calendar, ratio: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A month of improvement work; ``u`` is (R, S, 2).  Returns the working schools (R, S)."""
    busy = working(st, cal, ratio)
    finished = run_cycles(st, pv, cal, ratio, busy, u)
    practise_principles(st, pv, cal, busy, finished)
    learn_by_doing(st, busy)
    count_down_stalls(st, cal)
    return busy
