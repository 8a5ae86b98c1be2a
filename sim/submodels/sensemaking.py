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
"""

from __future__ import annotations

import numpy as np

from sim.events import note
from sim.jit import clip01_at, kernel
from sim.state import (
    ENGAGED,
    OPTED_OUT,
    PAUSED,
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

THRESHOLD_WIDTH = 0.1
#: Least monthly chance that a paused school under a mandate is pulled back.
MANDATE_PULL_BACK = 0.25
#: Months a school must have been paused before it can opt out.
MIN_PAUSE_BEFORE_OPT_OUT = 3
#: Disengagement spell (months) the outcomes count (seed 003).
LONG_SPELL = 6


def smoothstep(x: np.ndarray) -> np.ndarray:
    """3x^2 - 2x^3 on [0, 1], 0 below, 1 above (no transcendental functions)."""
    x = clip01(np.array(x, dtype=np.float64))
    return x * x * (3.0 - 2.0 * x)


def sustained(pv: ParamVectors, team_commitment: np.ndarray) -> np.ndarray:
    """How far (R, S) commitment sustains itself: 0 well below the threshold, 1 above."""
    x = team_commitment - pv.full["sensemaking.threshold"]
    x += THRESHOLD_WIDTH
    x /= 2 * THRESHOLD_WIDTH
    clip01(x)  # smoothstep, on a fresh array
    return x * x * (3.0 - 2.0 * x)


@kernel
def sustained_at(team_commitment, threshold):
    """:func:`sustained` of one school: ``team_commitment`` and ``threshold`` are numbers."""
    x = team_commitment - threshold
    x += THRESHOLD_WIDTH
    x /= 2 * THRESHOLD_WIDTH
    x = clip01_at(x)
    return x * x * (3.0 - 2.0 * x)


def ownership(pv: ParamVectors) -> np.ndarray:
    """(R, 1) ownership of the work: own aims raise it, a mandate lowers it."""
    return (0.5 + 0.5 * pv["governance.school_autonomy"]) * (1.0 - 0.3 * pv.required)


def drive(st: State, pv: ParamVectors, school_stress: np.ndarray) -> np.ndarray:
    """Net push (R, S) on commitment this month (a fresh array).

    In effect ``ownership * (message + coaching + results) - stress - fatigue``,
    each term weighted, computed in place term by term (the same sums)."""
    pull = np.minimum(st.visits, 2.0)
    pull *= pv.full["sensemaking.coaching_weight"]
    pull += (pv.col("sensemaking.message_weight") * st.message)[:, None]
    pull += pv.full["sensemaking.results_weight"] * st.results
    pull *= pv.cached("ownership_full", _ownership_full)
    pull -= pv.full["sensemaking.pressure_weight"] * school_stress
    pull -= pv.full["sensemaking.fatigue_weight"] * st.fatigue
    return pull


def _ownership_full(pv: ParamVectors) -> np.ndarray:
    return spread_over_schools(ownership(pv), pv.schools)


def update_commitment(st: State, pv: ParamVectors, school_stress: np.ndarray) -> None:
    """Move each member's commitment with the drive; revert below the threshold."""
    active = engagement_masks(st).participating
    d = drive(st, pv, school_stress)
    d *= pv.full["sensemaking.uptake_rate"]
    d *= active
    c = st.commitment
    # positive drive closes the gap to 1, negative drive erodes what is there
    change = d * np.where(d > 0, 1.0 - c, c)
    revert = sustained(pv, team_mean_of(st, "commitment"))  # how far it is kept, then how far it reverts:
    np.subtract(1.0, revert, out=revert)
    revert *= pv.full["sensemaking.reversion_rate"]
    revert *= active
    change -= revert * c
    c += change
    clip01(c)


def decide_engagement(st: State, pv: ParamVectors, cal: Calendar, school_stress: np.ndarray, u: np.ndarray) -> None:
    """Engage, pause or opt out; ``u`` is (R, S).  No decisions in summer."""
    if cal.summer:
        return
    c = team_mean_of(st, "commitment")
    masks = engagement_masks(st)
    engaged, paused = masks.engaged, masks.paused
    required = pv.required
    not_c = 1.0 - c
    p_pause = pv.full["sensemaking.pause_rate"] * school_stress
    p_pause *= not_c
    p_pause *= pv.cached("pause_factor", _pause_factor)
    pauses = engaged & (u < p_pause)
    if anything(paused):
        pull = 0.5 * np.minimum(st.visits, 1.0)
        pull += c
        pull += (pv.col("messaging.urgency") * 0.5 * st.message)[:, None]
        p_resume = pv.full["sensemaking.resume_rate"] * np.minimum(pull, 1.0, out=pull)
        p_resume *= 1.0 - school_stress
        if anything(required):  # (otherwise the mandate's pull back changes nothing)
            p_resume = np.where(required, np.maximum(p_resume, MANDATE_PULL_BACK), p_resume)
        resumes = paused & (u < p_resume)
        # paused long enough, and free to leave: may opt out
        may_leave = paused & ~required & (st.spell >= MIN_PAUSE_BEFORE_OPT_OUT)
        if anything(may_leave):
            p_opt = pv.full["sensemaking.opt_out_rate"] * school_stress
            p_opt *= not_c
            opts_out = may_leave & ~resumes & (u > 1.0 - p_opt)
        else:
            opts_out = nobody(paused.shape)
    else:  # nobody to resume or opt out
        resumes = opts_out = nobody(paused.shape)
    # the three masks are disjoint
    if anything(pauses):
        np.copyto(st.engagement, PAUSED, where=pauses)
    if anything(resumes):
        np.copyto(st.engagement, ENGAGED, where=resumes)
    if anything(opts_out):
        np.copyto(st.engagement, OPTED_OUT, where=opts_out)
    _count_spells(st)
    note(st.events, cal.month, "paused", pauses)
    note(st.events, cal.month, "resumed", resumes)
    note(st.events, cal.month, "opted_out", opts_out)


def _pause_factor(pv: ParamVectors) -> np.ndarray:
    return spread_over_schools(np.where(pv.required, 0.5, 1.0), pv.schools)


def _count_spells(st: State) -> None:
    """Consecutive school months not engaged, for schools that joined (summer not counted)."""
    away = st.joined & engagement_masks(st).away
    if not anything(away):  # every spell ends (or none had begun)
        if anything(st.spell):
            st.spell[:] = 0
        return
    np.multiply(st.spell + 1, away, out=st.spell)  # one more month away, or back to 0
    np.maximum(st.max_spell, st.spell, out=st.max_spell)
    if st.events is not None:
        note(st.events, st.month, "disengaged_6_months", away & (st.spell == LONG_SPELL))


def recover_fatigue(st: State, pv: ParamVectors) -> None:
    st.fatigue *= pv.cached("fatigue_kept", lambda pv: 1.0 - pv["sensemaking.fatigue_recovery"])


def sensemaking(st: State, pv: ParamVectors, cal: Calendar, school_stress: np.ndarray, u: np.ndarray) -> None:
    """Commitment dynamics, then the engagement decision; schools are closed in summer,
    so commitment and engagement stand still then (fatigue still recovers)."""
    if not cal.summer:
        update_commitment(st, pv, school_stress)
    decide_engagement(st, pv, cal, school_stress, u)
    recover_fatigue(st, pv)
