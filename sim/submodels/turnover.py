"""Turnover of school staff, coaches and the central-office leader.

Annual exit rates (NCES 2021-22 follow-up surveys for teachers and
principals) become monthly hazards with a summer peak: a share
``turnover.summer_share`` of the year's cumulative hazard falls in June and
July, the rest is spread over the ten school months, so that the chance of
staying a whole year is exactly ``1 - rate``.  A pandemic raises hazards by
up to half.

A replacement starts as a novice unless the school's onboarding routines
(scaled by how embedded they are) or the district's documented knowledge
carry skill and commitment over; a principal or improvement lead who leaves
is replaced from the deep bench when the school has a groomed successor,
otherwise the work stalls for up to ``succession.stall_months`` (shortened
by embeddedness) and the new leader may not continue it.  Knowledge and
practice walk out with people, except what is embedded or documented.
"""

from __future__ import annotations

import numpy as np

from sim.events import note
from sim.state import (
    ASSISTANT_PRINCIPAL,
    LEAD,
    PRINCIPAL,
    SKILL_DEVELOPING,
    ParamVectors,
    State,
    anything,
    clip01,
    engagement_masks,
    frozen,
    team_mean,
    team_mean_of,
)
from sim.submodels.calendar import SCHOOL_MONTHS, SUMMER, Calendar, month_of_year

#: Relative rise of every exit hazard under a full-severity pandemic.
PANDEMIC_TURNOVER = 0.5
#: Months a competing initiative from a new central-office leader lasts.
INITIATIVE_MONTHS = 24


def monthly_hazard(annual: np.ndarray, summer_share: np.ndarray, month: int) -> np.ndarray:
    """Monthly exit probability for an annual exit rate, with a summer peak.

    The yearly cumulative hazard -ln(1 - annual) is split: ``summer_share``
    over the two summer months, the rest over the ten school months.
    """
    cumulative = -np.log1p(-np.minimum(annual, 0.999999))
    if month_of_year(month) in SUMMER:
        share = summer_share / len(SUMMER)
    else:
        share = (1.0 - summer_share) / SCHOOL_MONTHS
    return -np.expm1(-cumulative * share)


def seat_rates(pv: ParamVectors, team_size: int) -> np.ndarray:
    """(K, R, 1) annual exit rates by seat: principal and AP, lead, teachers."""
    rates = np.repeat(pv["turnover.teacher"][None], team_size, axis=0)
    rates[PRINCIPAL] = pv["turnover.principal"]
    rates[ASSISTANT_PRINCIPAL] = pv["turnover.principal"]
    rates[LEAD] = pv["turnover.lead"]
    return rates


def hazards_by_month(annual: np.ndarray, summer_share: np.ndarray) -> list[np.ndarray]:
    """:func:`monthly_hazard` (read-only) for each month of the year: one value
    for the summer months and one for the school months, each computed once."""
    summer, school = (frozen(monthly_hazard(annual, summer_share, m)) for m in (SUMMER[0], 0))
    return [summer if m in SUMMER else school for m in range(12)]


def seat_hazards(pv: ParamVectors, cal: Calendar, team_size: int) -> np.ndarray:
    """(K, R, 1) monthly exit hazards by seat this month."""
    by_month = pv.cached(f"seat_hazards_{team_size}", lambda pv: _seat_hazards_by_month(pv, team_size))
    hazard = by_month[month_of_year(cal.month)]
    if anything(cal.pandemic):
        hazard = hazard * (1.0 + PANDEMIC_TURNOVER * cal.pandemic)
    return hazard


def _seat_hazards_by_month(pv: ParamVectors, team_size: int) -> list[np.ndarray]:
    """(K, R, 1) hazards by month of the year."""
    return hazards_by_month(seat_rates(pv, team_size), pv["turnover.summer_share"])


def staff_turnover(st: State, pv: ParamVectors, cal: Calendar, u: np.ndarray, u_succession: np.ndarray) -> np.ndarray:
    """Exits and replacements on school teams.  ``u`` is (K, R, S) uniforms,
    ``u_succession`` (R, S, 2).  Returns the (K, R, S) mask of exits."""
    hazard = seat_hazards(pv, cal, st.team_size)
    leaves = u < hazard
    st.tenure += 1
    if not anything(leaves):
        return leaves
    # u / hazard is a fresh uniform for those who leave: the newcomer's draw
    fresh = np.divide(u, hazard, out=np.zeros(u.shape), where=leaves)
    team_skill = team_mean_of(st, "skill")
    team_commitment = team_mean_of(st, "commitment")
    invited = engagement_masks(st).invited

    # a groomed successor steps up for the principal first, then for the lead
    if anything(st.bench):
        principal_successor = leaves[PRINCIPAL] & (st.bench > 0)
        lead_successor = leaves[LEAD] & (st.bench - principal_successor > 0)
        stalled = ((leaves[PRINCIPAL] & ~principal_successor) | (leaves[LEAD] & ~lead_successor)) & invited
    else:  # nobody on the bench: no successors
        principal_successor = lead_successor = None
        stalled = (leaves[PRINCIPAL] | leaves[LEAD]) & invited
    _replace_newcomers(st, pv, leaves, fresh, team_skill, team_commitment)
    if principal_successor is not None:
        _promote_successors(st, pv, (principal_successor, lead_successor), team_skill, team_commitment)
    _stall_work(st, pv, stalled, u_succession[:, :, 1])
    _knowledge_walks_out(st, pv, leaves)
    _bench_keeps_only_skilled_staff(st)

    if st.events is not None:
        if principal_successor is None:
            principal_successor = lead_successor = np.zeros_like(stalled)
        note(st.events, cal.month, "successor_stepped_up", (principal_successor | lead_successor) & invited)
        note(st.events, cal.month, "principal_left", stalled & leaves[PRINCIPAL] & ~principal_successor)
        note(st.events, cal.month, "lead_left", stalled & leaves[LEAD] & ~lead_successor)
    return leaves


def _replace_newcomers(st, pv, leaves, fresh, team_skill, team_commitment) -> None:
    """Newcomers start near the district's initial (novice) levels; onboarding
    routines, scaled by embeddedness, pass on part of the team's skill and
    commitment, and documented knowledge part of the skill."""
    carry = pv["succession.onboarding"] * st.embeddedness
    documented = pv.cached("half_knowledge_management", _half_knowledge_management) * st.knowledge_base[:, None]
    spread = 0.5 + fresh
    novice_skill = pv["district.initial_skill"] * spread
    novice_commit = pv["district.initial_commitment"] * spread
    gap = np.subtract(team_skill, novice_skill, out=spread)
    skill = novice_skill + np.maximum(carry, documented) * np.maximum(gap, 0.0, out=gap)
    gap = np.subtract(team_commitment, novice_commit, out=gap)
    commit = novice_commit + carry * np.maximum(gap, 0.0, out=gap)
    np.copyto(st.skill, clip01(skill), where=leaves)
    np.copyto(st.commitment, clip01(commit), where=leaves)
    np.copyto(st.tenure, 0, where=leaves)


def _half_knowledge_management(pv: ParamVectors) -> np.ndarray:
    return 0.5 * pv["knowledge.management"]


def _promote_successors(st, pv, successors, team_skill, team_commitment) -> None:
    """A groomed successor steps into the principal's or lead's seat with the
    team's skill (at least developing) and commitment (at least the threshold),
    and leaves the deep bench.  ``successors`` is the (principal, lead) pair of
    (R, S) masks."""
    for seat, took in zip((PRINCIPAL, LEAD), successors, strict=True):
        if not anything(took):
            continue
        np.copyto(st.skill[seat], np.maximum(team_skill, SKILL_DEVELOPING + 0.07), where=took)
        np.copyto(st.commitment[seat], np.maximum(team_commitment, pv["sensemaking.threshold"]), where=took)
        st.bench -= took


def _bench_keeps_only_skilled_staff(st: State) -> None:
    """The bench holds at most as many successors as the team has members of at
    least developing skill besides the principal: groomed staff who leave take
    their place on the bench with them."""
    if not anything(st.bench):  # (an empty bench stays empty)
        return
    skilled = (st.skill[PRINCIPAL + 1 :] >= SKILL_DEVELOPING).sum(axis=0)
    np.minimum(st.bench, skilled, out=st.bench)


def _stall_work(st, pv, stalled, u_continue) -> None:
    """Losing the principal or lead with no successor stalls the work; the new
    leader continues it with a chance that grows with embeddedness, otherwise
    the whole team's commitment drops."""
    if not anything(stalled):
        return
    months = np.rint(pv["succession.stall_months"] * (1.0 - st.embeddedness)).astype(np.int64)
    np.copyto(st.stall, np.maximum(st.stall, months), where=stalled)
    dropped = stalled & (u_continue >= 0.5 + 0.5 * st.embeddedness)
    np.multiply(st.commitment, 0.7, out=st.commitment, where=dropped)
    st.in_cycle &= ~stalled
    note(st.events, st.month, "new_leader_dropped_work", dropped)


def _knowledge_walks_out(st, pv, leaves) -> None:
    """Local knowledge and practice leave with people, except what is embedded
    in routines or documented."""
    lost = team_mean(leaves.astype(np.float64))  # weighted share of the team that left
    knowledge_lost = 1.0 - np.maximum(st.embeddedness, pv.full["knowledge.management"])  # not kept
    st.local_knowledge *= 1.0 - lost * knowledge_lost
    half_lost = 0.5 * lost
    st.principles *= 1.0 - half_lost * (1.0 - st.embeddedness)
    st.understanding *= 1.0 - half_lost * knowledge_lost


def coach_turnover(st: State, pv: ParamVectors, cal: Calendar, u: np.ndarray) -> None:
    """Coaches leave (leaving a vacancy for ``coaching.vacancy_months`` months, at least one),
    vacancies are filled with new coaches, and when the grant ends its
    positions close unless the district keeps them.  ``u`` is (R, C)."""
    if st.coach_position.shape[1] == 0:
        return
    hazard = pv.cached("coach_hazards", _coach_hazards)[month_of_year(cal.month)]
    if anything(cal.pandemic):  # (otherwise the factor is exactly one)
        hazard = hazard * (1.0 + PANDEMIC_TURNOVER * cal.pandemic)
    # vacancies count down, then those whose time has come are filled;
    # the fresh draw sets the newcomer's skill
    vacant = st.coach_position & ~st.coach_filled
    if anything(vacant):
        st.coach_vacancy -= vacant
        due = vacant & (st.coach_vacancy <= 0)
        if anything(due):
            np.copyto(st.coach_skill, clip01(pv["coaching.skill"] * (0.75 + 0.5 * u)), where=due)
            st.coach_filled |= due
        leaves = st.coach_filled & ~due & (u < hazard)
    else:  # nothing to fill
        leaves = st.coach_filled & (u < hazard)
    if anything(leaves):
        st.coach_filled &= ~leaves
        vacancy = pv.cached("vacancy_months", lambda pv: pv["coaching.vacancy_months"].astype(np.int64))
        np.copyto(st.coach_vacancy, vacancy, where=leaves)
        _mark_coach_loss(st, leaves, cal.month, "coach_left")
    _end_grant(st, pv, cal)


def _coach_hazards(pv: ParamVectors) -> list[np.ndarray]:
    """(R, 1) monthly coach exit hazards by month of the year."""
    return hazards_by_month(pv["turnover.coach"], pv["turnover.summer_share"])


def _central_office_hazards(pv: ParamVectors) -> list[np.ndarray]:
    """(R,) monthly central-office leader exit hazards by month of the year."""
    return hazards_by_month(pv.col("turnover.central_office"), pv.col("turnover.summer_share"))


def _end_grant(st: State, pv: ParamVectors, cal: Calendar) -> None:
    if not anything(st.coach_grant):
        return
    ending = st.coach_grant & ~cal.grant_active[:, None]
    if not anything(ending):
        return
    n_grant = st.coach_grant.sum(axis=1, keepdims=True)
    kept = np.arange(st.coach_grant.shape[1])[None, :] < np.rint(pv["coaching.retained_after_grant"] * n_grant)
    closed = ending & ~kept
    _mark_coach_loss(st, closed & st.coach_filled, cal.month, "grant_ended")
    st.coach_position &= ~closed
    st.coach_filled &= ~closed
    st.coach_grant &= ~ending


def _mark_coach_loss(st: State, lost: np.ndarray, month: int, kind: str) -> None:
    if st.events is None or not anything(lost):
        return
    r_idx = np.arange(st.runs)[:, None]
    schools_hit = lost[r_idx, np.maximum(st.coach_of, 0)] & (st.coach_of >= 0)
    note(st.events, month, kind, schools_hit)


def central_office_turnover(st: State, pv: ParamVectors, cal: Calendar, u: np.ndarray) -> None:
    """The central-office leader may leave; the successor brings a competing
    initiative with chance ``governance.initiative_churn`` (priority halves,
    demands rise for two years, schools grow more fatigued) or otherwise
    resets priority somewhere between half and all of its initial level.
    When a competing initiative ends it adds fatigue too: an initiative
    that came and went.  ``u`` is (R, 4)."""
    hazard = pv.cached("central_office_hazards", _central_office_hazards)[month_of_year(cal.month)]
    change = pv.col("sensemaking.fatigue_per_change")[:, None]
    if anything(st.initiative_months):  # (otherwise nothing counts down or ends)
        ending = st.initiative_months == 1
        st.initiative_months = np.maximum(st.initiative_months - 1, 0)
        if anything(ending):
            invited = engagement_masks(st).invited
            st.fatigue += np.where(ending[:, None] & invited, 0.5 * change * (1.0 - st.fatigue), 0.0)
    new_leader = u[:, 0] < hazard
    if not anything(new_leader):
        return
    invited = engagement_masks(st).invited
    initiative = new_leader & (u[:, 1] < pv.col("governance.initiative_churn"))
    st.leader_changes += new_leader
    st.priority[:] = np.where(
        initiative,
        st.priority * 0.5,
        np.where(new_leader, pv.col("governance.priority") * (0.5 + 0.5 * u[:, 2]), st.priority),
    )
    st.initiative_months[:] = np.where(initiative, INITIATIVE_MONTHS, st.initiative_months)
    st.message[:] = np.where(new_leader, st.message * 0.5, st.message)
    st.fatigue += np.where((new_leader[:, None] & invited), change * (1.0 - st.fatigue), 0.0)
    note(st.events, cal.month, "competing_initiative", initiative)
    note(st.events, cal.month, "new_central_office_leader", new_leader & ~initiative)
