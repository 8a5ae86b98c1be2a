"""Sensemaking and engagement: commitment with a tipping point, and decisions.

Commitment (Repenning 2002).  Each team member's commitment moves with a
school-level *drive*: ownership (own aims: school autonomy; a mandate with
little autonomy lowers it) times the pull of the felt message, coaching
visits and recent PDSA results, minus stress and initiative fatigue.  Below
the motivation threshold commitment also reverts towards zero; above it,
results sustain it (a smooth step of width ``2 * THRESHOLD_WIDTH`` around
``sensemaking.threshold``).  So pressure withdrawn before early results
have carried the team over the threshold lets commitment revert.

Engagement (seed 003).  Each school-year month an engaged school pauses
with a chance that grows with stress and falls with commitment; a paused
school resumes with a chance that grows with commitment, coaching and an
urgent message and falls with stress; under optional participation a
paused, stressed school may opt out for good.  A mandate halves pausing,
forbids opting out and pulls paused schools back, but adds no commitment:
participation without commitment.

The arithmetic runs in compiled kernels (:mod:`sim.jit`), school by school:
one call does a school month (:func:`sensemaking`).
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.events import note
from improvesim.sim.jit import clip01_at, kernel, team_mean_at
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import ENGAGED, OPTED_OUT, PAUSED, ParamVectors, State, team_weights
from improvesim.sim.submodels.calendar import Calendar

THRESHOLD_WIDTH = 0.1
#: Least monthly chance that a paused school under a mandate is pulled back.
MANDATE_PULL_BACK = 0.25
#: Months a school must have been paused before it can opt out.
MIN_PAUSE_BEFORE_OPT_OUT = 3
#: Disengagement spell (months) the outcomes count (seed 003).
LONG_SPELL = 6


# --- the threshold -------------------------------------------------------------------------------


@kernel
def sustained_at(team_commitment, threshold):
    """How far commitment sustains itself at one school, 0-1: 0 well below the
    motivation ``threshold``, 1 above it, a smoothstep 3x^2 - 2x^3 of width
    ``2 * THRESHOLD_WIDTH`` between (``team_commitment`` and ``threshold`` are
    numbers, 0-1)."""
    x = team_commitment - threshold
    x += THRESHOLD_WIDTH
    x /= 2 * THRESHOLD_WIDTH
    x = clip01_at(x)
    return x * x * (3.0 - 2.0 * x)


# --- commitment ----------------------------------------------------------------------------------


@kernel
def _ownership_at(autonomy, required):
    """Ownership of the work, 0.35-1: own aims (``autonomy``, 0-1) raise it, a
    mandate (``required``, a bool) lowers it by 30%."""
    return (0.5 + 0.5 * autonomy) * (1.0 - 0.3 * (1.0 if required else 0.0))


@kernel
def _drive_at(
    visits,
    message_pull,
    results,
    stress,
    fatigue,
    ownership,
    coaching_weight,
    results_weight,
    pressure_weight,
    fatigue_weight,
):
    """Net push on a school's commitment this month (positive raises it, negative
    erodes it): ``ownership * (coaching + message + results) - stress - fatigue``,
    each term weighted, summed in that order.  ``message_pull`` is the district's
    message times its weight."""
    pull = min(visits, 2.0) * coaching_weight
    pull = pull + message_pull
    pull = pull + results_weight * results
    pull = pull * ownership
    pull = pull - pressure_weight * stress
    return pull - fatigue_weight * fatigue


@kernel
def _move_commitment(
    commitment,
    engagement,
    visits,
    results,
    fatigue,
    message,
    school_stress,
    weights,
    required,
    autonomy,
    coaching_weight,
    message_weight,
    results_weight,
    pressure_weight,
    fatigue_weight,
    uptake_rate,
    threshold,
    reversion_rate,
):
    """Each member's commitment (K, R, S), 0-1, moved in place by the drive of
    participating (engaged or paused) schools, and reverted as far as the team's
    mean commitment (before the move) falls short of sustaining itself.
    Per-run parameters are (R,)."""
    K, R, S = commitment.shape
    for r in range(R):
        ownership = _ownership_at(autonomy[r], required[r])
        message_pull = message_weight[r] * message[r]
        for s in range(S):
            active = 1.0 if engagement[r, s] == ENGAGED or engagement[r, s] == PAUSED else 0.0
            d = _drive_at(
                visits[r, s],
                message_pull,
                results[r, s],
                school_stress[r, s],
                fatigue[r, s],
                ownership,
                coaching_weight[r],
                results_weight[r],
                pressure_weight[r],
                fatigue_weight[r],
            )
            d = d * uptake_rate[r]
            d = d * active
            # how far it is kept, then how far it reverts
            revert = 1.0 - sustained_at(team_mean_at(commitment, weights, r, s), threshold[r])
            revert = revert * reversion_rate[r]
            revert = revert * active
            for k in range(K):
                c = commitment[k, r, s]
                # positive drive closes the gap to 1, negative drive erodes what is there
                change = d * (1.0 - c) if d > 0 else d * c
                change = change - revert * c
                commitment[k, r, s] = clip01_at(c + change)


# --- engagement ----------------------------------------------------------------------------------


@kernel
def _pause_chance(stress, team_commitment, required, pause_rate):
    """Chance, 0-1, that an engaged school pauses: grows with stress (0-1), falls
    with commitment (0-1); a mandate halves it."""
    p = pause_rate * stress
    p = p * (1.0 - team_commitment)
    return p * (0.5 if required else 1.0)


@kernel
def _resume_chance(stress, team_commitment, visits, urgent_message, required, resume_rate):
    """Chance, 0-1, that a paused school resumes: grows with commitment, coaching
    visits and ``urgent_message`` (half the urgency times the message), falls with
    stress; a mandate pulls back at least ``MANDATE_PULL_BACK``."""
    pull = 0.5 * min(visits, 1.0)
    pull = pull + team_commitment
    pull = pull + urgent_message
    p = resume_rate * min(pull, 1.0)
    p = p * (1.0 - stress)
    return max(p, MANDATE_PULL_BACK) if required else p


@kernel
def _opt_out_chance(stress, team_commitment, opt_out_rate):
    """Chance, 0-1, that a paused school free to leave opts out for good: grows
    with stress, falls with commitment."""
    p = opt_out_rate * stress
    return p * (1.0 - team_commitment)


@kernel
def _decide(
    engagement,
    spell,
    max_spell,
    joined,
    commitment,
    weights,
    visits,
    message,
    school_stress,
    u,
    required,
    pause_rate,
    resume_rate,
    opt_out_rate,
    urgency,
):
    """Each school's engagement (R, S) decided in place with its uniform ``u``
    (R, S), then the spells counted (:func:`_count_spells`).  Returns the masks
    (4, R, S) of the schools that paused, resumed, opted out and reached a long
    spell (one array: a kernel's arrays cost a few tenths of a microsecond each
    to hand back).  Per-run parameters are (R,)."""
    R, S = engagement.shape
    decisions = np.zeros((4, R, S), dtype=np.bool_)
    pauses, resumes, opts_out, long_spells = decisions[0], decisions[1], decisions[2], decisions[3]
    for r in range(R):
        urgent_message = urgency[r] * 0.5 * message[r]
        for s in range(S):
            stress = school_stress[r, s]
            if engagement[r, s] == ENGAGED:
                c = team_mean_at(commitment, weights, r, s)
                if u[r, s] < _pause_chance(stress, c, required[r], pause_rate[r]):
                    pauses[r, s] = True
                    engagement[r, s] = PAUSED
            elif engagement[r, s] == PAUSED:
                c = team_mean_at(commitment, weights, r, s)
                if u[r, s] < _resume_chance(stress, c, visits[r, s], urgent_message, required[r], resume_rate[r]):
                    resumes[r, s] = True
                    engagement[r, s] = ENGAGED
                elif (  # paused long enough, and free to leave: may opt out
                    not required[r]
                    and spell[r, s] >= MIN_PAUSE_BEFORE_OPT_OUT
                    and u[r, s] > 1.0 - _opt_out_chance(stress, c, opt_out_rate[r])
                ):
                    opts_out[r, s] = True
                    engagement[r, s] = OPTED_OUT
    _count_spells(engagement, joined, spell, max_spell, long_spells)
    return decisions


@kernel
def _count_spells(engagement, joined, spell, max_spell, long_spells):
    """Consecutive school months (R, S) not engaged, for schools that joined (summer
    not counted), and the longest, in place; marks in ``long_spells`` (R, S) the
    spells that have just reached ``LONG_SPELL``."""
    R, S = engagement.shape
    for r in range(R):
        for s in range(S):
            away = joined[r, s] and (engagement[r, s] == PAUSED or engagement[r, s] == OPTED_OUT)
            spell[r, s] = spell[r, s] + 1 if away else 0  # one more month away, or back to 0
            max_spell[r, s] = max(max_spell[r, s], spell[r, s])
            long_spells[r, s] = away and spell[r, s] == LONG_SPELL


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
def _school_month(
    commitment,
    engagement,
    spell,
    max_spell,
    joined,
    visits,
    results,
    fatigue,
    message,
    school_stress,
    u,
    weights,
    required,
    fatigue_recovery,
    autonomy,
    coaching_weight,
    message_weight,
    results_weight,
    pressure_weight,
    fatigue_weight,
    uptake_rate,
    threshold,
    reversion_rate,
    pause_rate,
    resume_rate,
    opt_out_rate,
    urgency,
):
    """A school month of sensemaking on the state arrays, in place: commitment
    moves, then engagement is decided, then fatigue recovers.  Returns
    :func:`_decide`'s masks."""
    _move_commitment(
        commitment,
        engagement,
        visits,
        results,
        fatigue,
        message,
        school_stress,
        weights,
        required,
        autonomy,
        coaching_weight,
        message_weight,
        results_weight,
        pressure_weight,
        fatigue_weight,
        uptake_rate,
        threshold,
        reversion_rate,
    )
    decisions = _decide(
        engagement,
        spell,
        max_spell,
        joined,
        commitment,
        weights,
        visits,
        message,
        school_stress,
        u,
        required,
        pause_rate,
        resume_rate,
        opt_out_rate,
        urgency,
    )
    _recover_fatigue(fatigue, fatigue_recovery)
    return decisions


# --- the submodel's functions --------------------------------------------------------------------


def _commitment_parameters(pv: ParamVectors) -> tuple[np.ndarray, ...]:
    """Per-run (R,) parameters of the commitment, in :func:`_move_commitment`'s order
    (after ``required``)."""
    names = (
        "coaching_weight",
        "message_weight",
        "results_weight",
        "pressure_weight",
        "fatigue_weight",
        "uptake_rate",
        "threshold",
        "reversion_rate",
    )
    return (pv.col("governance.school_autonomy"), *(pv.col("sensemaking." + name) for name in names))


def _engagement_parameters(pv: ParamVectors) -> tuple[np.ndarray, ...]:
    """Per-run (R,) parameters of the engagement decision, in :func:`_decide`'s order
    (after ``required``)."""
    names = ("pause_rate", "resume_rate", "opt_out_rate")
    return (*(pv.col("sensemaking." + name) for name in names), pv.col("messaging.urgency"))


def update_commitment(st: State, pv: ParamVectors, school_stress: np.ndarray) -> None:
    """Move each member's commitment with the drive; revert below the threshold."""
    _move_commitment(
        st.commitment,
        st.engagement,
        st.visits,
        st.results,
        st.fatigue,
        st.message,
        school_stress,
        team_weights(st.team_size),
        pv.required[:, 0],
        *pv.cached("sensemaking_commitment_parameters", _commitment_parameters),
    )


def decide_engagement(st: State, pv: ParamVectors, cal: Calendar, school_stress: np.ndarray, u: np.ndarray) -> None:
    """Engage, pause or opt out; ``u`` is (R, S).  No decisions in summer."""
    if cal.summer:
        return
    decisions = _decide(
        st.engagement,
        st.spell,
        st.max_spell,
        st.joined,
        st.commitment,
        team_weights(st.team_size),
        st.visits,
        st.message,
        school_stress,
        u,
        pv.required[:, 0],
        *pv.cached("sensemaking_engagement_parameters", _engagement_parameters),
    )
    _note_decisions(st, cal.month, decisions)


def _note_decisions(st: State, month: int, decisions: np.ndarray) -> None:
    """Record :func:`_decide`'s masks (4, R, S) as events (long spells in the state's month)."""
    if st.events is None:
        return
    pauses, resumes, opts_out, long_spells = decisions
    note(st.events, st.month, "disengaged_6_months", long_spells)
    note(st.events, month, "paused", pauses)
    note(st.events, month, "resumed", resumes)
    note(st.events, month, "opted_out", opts_out)


def recover_fatigue(st: State, pv: ParamVectors) -> None:
    """Initiative fatigue (R, S) recovers by ``sensemaking.fatigue_recovery`` a month."""
    _recover_fatigue(st.fatigue, pv.col("sensemaking.fatigue_recovery"))


def sensemaking(st: State, pv: ParamVectors, cal: Calendar, school_stress: np.ndarray, draws: MonthDraws) -> None:
    """Commitment dynamics, then the engagement decision; schools are closed in summer,
    so commitment and engagement stand still then (fatigue still recovers)."""
    if cal.summer:
        recover_fatigue(st, pv)
        return
    decisions = _school_month(
        st.commitment,
        st.engagement,
        st.spell,
        st.max_spell,
        st.joined,
        st.visits,
        st.results,
        st.fatigue,
        st.message,
        school_stress,
        draws.engagement_decision,
        team_weights(st.team_size),
        pv.required[:, 0],
        pv.col("sensemaking.fatigue_recovery"),
        *pv.cached("sensemaking_commitment_parameters", _commitment_parameters),
        *pv.cached("sensemaking_engagement_parameters", _engagement_parameters),
    )
    _note_decisions(st, cal.month, decisions)
