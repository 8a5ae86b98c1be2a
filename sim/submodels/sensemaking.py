"""Sensemaking and engagement: commitment with a tipping point, and decisions.

Commitment (Repenning 2002) must be earned and kept.  Each team member's
commitment moves with a school-level *drive*: ownership (own aims: school
autonomy and the leaders' belief that improvement advances equity; a
mandate lowers it by ``sensemaking.mandate_ownership_loss``) times the pull
of the felt message, coaching visits and recent PDSA results, minus stress,
initiative fatigue and, under a mandate, reactance (``sensemaking.reactance``
times the lack of autonomy).  Without reinforcement commitment drifts down
(``sensemaking.drift`` of it a month); below the motivation threshold it
also reverts towards zero (a smooth step of width twice
``sensemaking.threshold_width`` around ``sensemaking.threshold``).  Results
come from PDSA cycles, which take effort, which takes commitment
(:mod:`sim.submodels.improvement`): pressure withdrawn before early results
have carried the team over the threshold lets commitment revert.

Engagement (seed 003).  Each school-year month an engaged school pauses
with a chance that grows with stress and falls with commitment; a paused
school resumes with a chance that grows with commitment, coaching and an
urgent message and falls with stress; under optional participation a
paused, stressed school may opt out for good.  A mandate makes pausing
rarer, forbids opting out and pulls paused schools back, but adds no
commitment: participation without commitment.

The arithmetic runs in compiled kernels (:mod:`sim.jit`), school by school:
one call does a school month (:func:`sensemaking`).  Every coefficient is a
parameter of the schema (:class:`SensemakingCoefficients`).
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
    smoothstep,
    step,
    team_means_of_run,
)
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, OPTED_OUT, PAUSED, ParamVectors, State, required_by_run
from improvesim.sim.structure import LONG_SPELL
from improvesim.sim.submodels.calendar import Calendar


class SchoolState(NamedTuple):
    """The state arrays a school month of sensemaking reads and writes."""

    commitment: np.ndarray  # (K, R, S) each member's, 0-1
    engagement: np.ndarray  # (R, S) Engagement
    spell: np.ndarray  # (R, S) school months away
    max_spell: np.ndarray  # (R, S) the longest spell away
    joined: np.ndarray  # (R, S) accepted the invitation
    visits: np.ndarray  # (R, S) coaching visits this month
    results: np.ndarray  # (R, S) recent PDSA results, -1 to 1
    fatigue: np.ndarray  # (R, S) initiative fatigue, 0-1
    message: np.ndarray  # (R,) the felt message, 0-1
    weights: np.ndarray  # (R, K) seat weights of team means
    equity_belief: np.ndarray  # (R, S) the leaders' belief that improvement advances equity, 0-1


class SensemakingCoefficients(NamedTuple):
    """Per-run (R,) coefficients of sensemaking: the schema's ``sensemaking.*``,
    ``governance.school_autonomy``, ``messaging.urgency`` and whether
    participation is ``required`` (1.0 under a mandate, else 0.0)."""

    SECTIONS = ("sensemaking", "governance", "messaging")
    DERIVED = {"required": required_by_run}

    required: np.ndarray
    school_autonomy: np.ndarray
    ownership_base: np.ndarray
    ownership_autonomy: np.ndarray
    ownership_belief: np.ndarray
    mandate_ownership_loss: np.ndarray
    reactance: np.ndarray
    drift: np.ndarray
    max_felt_visits: np.ndarray
    coaching_weight: np.ndarray
    message_weight: np.ndarray
    results_weight: np.ndarray
    pressure_weight: np.ndarray
    fatigue_weight: np.ndarray
    uptake_rate: np.ndarray
    threshold: np.ndarray
    threshold_width: np.ndarray
    reversion_rate: np.ndarray
    pause_rate: np.ndarray
    mandate_pause_factor: np.ndarray
    resume_rate: np.ndarray
    visit_resume_pull: np.ndarray
    urgency: np.ndarray
    urgency_resume_pull: np.ndarray
    mandate_pull_back: np.ndarray
    opt_out_rate: np.ndarray
    min_pause_months: np.ndarray
    fatigue_recovery: np.ndarray


def sensemaking_coefficients(pv: ParamVectors) -> np.ndarray:
    """:class:`SensemakingCoefficients` of a batch, as the (fields, R) array kernels take."""
    return coefficients(SensemakingCoefficients, pv)


#: Engagement decisions of a school month, in the order :func:`_decide` returns their masks.
DECISIONS = ("paused", "resumed", "opted_out", "disengaged_6_months")
_PAUSED, _RESUMED, _OPTED_OUT, _LONG_SPELL = range(len(DECISIONS))
_N_DECISIONS = len(DECISIONS)


# --- the threshold -------------------------------------------------------------------------------


@rule
def sustained_at(team_commitment, threshold, width):
    """How far commitment sustains itself at one school, 0-1: 0 well below the
    motivation ``threshold``, 1 above it, a smoothstep from ``threshold - width``
    to ``threshold + width`` (numbers, 0-1)."""
    x = team_commitment - threshold
    x += width
    x /= width + width
    return smoothstep(x)


# --- commitment ----------------------------------------------------------------------------------


@rule
def _ownership_at(c, equity_belief):
    """Ownership of the work (``c``: one run's :class:`SensemakingCoefficients`):
    a base raised by own aims (autonomy, 0-1) and by the leaders'
    ``equity_belief`` (0-1), lowered by a share under a mandate."""
    mandate = 1.0 if c.required else 0.0
    own = c.ownership_base + c.ownership_autonomy * c.school_autonomy
    own += c.ownership_belief * equity_belief
    return own * (1.0 - c.mandate_ownership_loss * mandate)


@rule
def _reactance_at(c):
    """Push against a mandate (>= 0): ``reactance`` x the lack of school autonomy
    under required participation, 0 otherwise."""
    mandate = 1.0 if c.required else 0.0
    return c.reactance * (1.0 - c.school_autonomy) * mandate


@rule
def _drive_at(c, visits, results, stress, fatigue, ownership, message_pull):
    """Net push on a school's commitment this month (positive raises it, negative
    erodes it): ``ownership * (coaching + message + results) - stress - fatigue``,
    each term weighted, summed in that order.  ``message_pull`` is the district's
    message times its weight; ``c`` is one run's :class:`SensemakingCoefficients`."""
    pull = min(visits, c.max_felt_visits) * c.coaching_weight
    pull = pull + message_pull
    pull = pull + c.results_weight * results
    pull = pull * ownership
    pull = pull - c.pressure_weight * stress
    return pull - c.fatigue_weight * fatigue


@step
def _move_commitment(st, c, school_stress):
    """Each member's commitment (K, R, S), 0-1, moved in place by the drive of
    participating (engaged or paused) schools, drifting down by ``drift`` of
    itself, and reverted as far as the team's mean commitment (before the
    move) falls short of sustaining itself.  Run by run: each school's drive and reversion
    first, then the members seat by seat over the run's contiguous row of schools."""
    K, R, S = st.commitment.shape
    team, drive, revert = np.empty(S), np.empty(S), np.empty(S)
    for r in range(R):
        cr = at_run(c, r)
        message_pull = cr.message_weight * st.message[r]
        reactance = _reactance_at(cr)
        team_means_of_run(st.commitment, st.weights, r, team)
        for s in range(S):
            active = 1.0 if st.engagement[r, s] == ENGAGED or st.engagement[r, s] == PAUSED else 0.0
            ownership = _ownership_at(cr, st.equity_belief[r, s])
            d = _drive_at(
                cr, st.visits[r, s], st.results[r, s], school_stress[r, s], st.fatigue[r, s], ownership, message_pull
            )
            d = d - reactance
            d = d * cr.uptake_rate
            drive[s] = d * active
            # how far it is kept, then how far it reverts
            back = 1.0 - sustained_at(team[s], cr.threshold, cr.threshold_width)
            back = back * cr.reversion_rate
            back = back + cr.drift
            revert[s] = back * active
        for k in range(K):
            row = st.commitment[k, r]
            for s in range(S):
                x = row[s]
                d = drive[s]
                # positive drive closes the gap to 1, negative drive erodes what is there
                change = d * (1.0 - x) if d > 0 else d * x
                change = change - revert[s] * x
                row[s] = clip01_at(x + change)


# --- engagement ----------------------------------------------------------------------------------


@rule
def _pause_chance(c, stress, team_commitment):
    """Chance, 0-1, that an engaged school pauses: grows with stress (0-1), falls
    with commitment (0-1); a mandate scales it by ``mandate_pause_factor``."""
    p = c.pause_rate * stress
    p = p * (1.0 - team_commitment)
    return p * (c.mandate_pause_factor if c.required else 1.0)


@rule
def _resume_chance(c, stress, team_commitment, visits, urgent_message):
    """Chance, 0-1, that a paused school resumes: grows with commitment, coaching
    visits and ``urgent_message`` (the urgency's pull times the message), falls
    with stress; a mandate pulls back at least ``mandate_pull_back``."""
    pull = c.visit_resume_pull * min(visits, 1.0)
    pull = pull + team_commitment
    pull = pull + urgent_message
    p = c.resume_rate * min(pull, 1.0)
    p = p * (1.0 - stress)
    return max(p, c.mandate_pull_back) if c.required else p


@rule
def _opt_out_chance(c, stress, team_commitment):
    """Chance, 0-1, that a paused school free to leave opts out for good: grows
    with stress, falls with commitment."""
    p = c.opt_out_rate * stress
    return p * (1.0 - team_commitment)


@step
def _decide(st, c, school_stress, u):
    """Each school's engagement (R, S) decided in place with its draw ``u``
    (R, S), then the spells counted (:func:`_count_spells`).  Returns the masks
    (:data:`DECISIONS`, R, S) of the schools that paused, resumed, opted out and
    reached a long spell (one array: a kernel's arrays cost a few tenths of a
    microsecond each to hand back).  The chances take one run's coefficients."""
    R, S = st.engagement.shape
    decisions = np.zeros((_N_DECISIONS, R, S), dtype=np.bool_)
    team = np.empty(S)
    for r in range(R):
        cr = at_run(c, r)
        urgent_message = cr.urgency * cr.urgency_resume_pull * st.message[r]
        team_means_of_run(st.commitment, st.weights, r, team)
        for s in range(S):  # (every chance taken, the decision a choice of values: no branch per school)
            stress, x, draw, now = school_stress[r, s], team[s], u[r, s], st.engagement[r, s]
            pauses = (now == ENGAGED) & (draw < _pause_chance(cr, stress, x))
            resumes = (now == PAUSED) & (draw < _resume_chance(cr, stress, x, st.visits[r, s], urgent_message))
            # paused long enough, and free to leave: may opt out
            free = (not cr.required) & (st.spell[r, s] >= cr.min_pause_months)
            opts_out = (now == PAUSED) & (not resumes) & free & (draw > 1.0 - _opt_out_chance(cr, stress, x))
            decisions[_PAUSED, r, s] = pauses
            decisions[_RESUMED, r, s] = resumes
            decisions[_OPTED_OUT, r, s] = opts_out
            now = PAUSED if pauses else now
            now = ENGAGED if resumes else now
            st.engagement[r, s] = OPTED_OUT if opts_out else now
    _count_spells(st, decisions[_LONG_SPELL])
    return decisions


@step
def _count_spells(st, long_spells):
    """Consecutive school months (R, S) not engaged, for schools that joined (summer
    not counted), and the longest, in place; marks in ``long_spells`` (R, S) the
    spells that have just reached ``LONG_SPELL``."""
    R, S = st.engagement.shape
    for r in range(R):
        for s in range(S):
            away = st.joined[r, s] and (st.engagement[r, s] == PAUSED or st.engagement[r, s] == OPTED_OUT)
            st.spell[r, s] = st.spell[r, s] + 1 if away else 0  # one more month away, or back to 0
            st.max_spell[r, s] = max(st.max_spell[r, s], st.spell[r, s])
            long_spells[r, s] = away and st.spell[r, s] == LONG_SPELL


# --- fatigue -------------------------------------------------------------------------------------


@kernel
def _recover_fatigue(fatigue, recovery):
    """Initiative fatigue (R, S), 0-1, times ``1 - recovery`` (R,), in place."""
    R, S = fatigue.shape
    for r in range(R):
        kept = 1.0 - recovery[r]
        for s in range(S):
            fatigue[r, s] = fatigue[r, s] * kept


# --- the school month ----------------------------------------------------------------------------


@kernel
def _school_month(state, coef, school_stress, u):
    """A school month of sensemaking on the state arrays (:class:`SchoolState`),
    in place, with the coefficients (:class:`SensemakingCoefficients`), the
    stress (R, S) and the draw ``u`` (R, S): commitment moves, then engagement
    is decided, then fatigue recovers.  Returns :func:`_decide`'s masks."""
    st = SchoolState(*state)
    c = named(SensemakingCoefficients, coef)
    _move_commitment(st, c, school_stress)
    decisions = _decide(st, c, school_stress, u)
    _recover_fatigue(st.fatigue, c.fatigue_recovery)
    return decisions


# --- the submodel's functions --------------------------------------------------------------------


def _note_decisions(st: State, month: int, decisions: np.ndarray) -> None:
    """Record :func:`_decide`'s masks (:data:`DECISIONS`, R, S) as events (long
    spells in the state's month)."""
    if st.events is None:
        return
    note(st.events, st.month, "disengaged_6_months", decisions[_LONG_SPELL])
    for row, kind in ((_PAUSED, "paused"), (_RESUMED, "resumed"), (_OPTED_OUT, "opted_out")):
        note(st.events, month, kind, decisions[row])


def sensemaking(st: State, pv: ParamVectors, cal: Calendar, school_stress: np.ndarray, draws: MonthDraws) -> None:
    """Commitment dynamics, then the engagement decision (the draw
    ``engagement_decision``); schools are closed in summer, so commitment and
    engagement stand still then (fatigue still recovers)."""
    if cal.summer:
        _recover_fatigue(st.fatigue, pv.col("sensemaking.fatigue_recovery"))
        return
    decisions = _school_month(
        pick(SchoolState, st), sensemaking_coefficients(pv), school_stress, draws.engagement_decision
    )
    _note_decisions(st, cal.month, decisions)
