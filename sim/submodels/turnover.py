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

The monthly hazards are per-run constants computed once with NumPy; the
exits and what follows them run in compiled kernels (:mod:`sim.jit`), one
call per process a month.
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.events import event_marks, note
from improvesim.sim.jit import clip01_at, kernel, team_mean_at
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import (
    ASSISTANT_PRINCIPAL,
    LEAD,
    N_PRINCIPLES,
    NOT_INVITED,
    PRINCIPAL,
    SKILL_DEVELOPING,
    ParamVectors,
    State,
    anything,
    frozen,
    team_weights,
)
from improvesim.sim.submodels.calendar import SCHOOL_MONTHS, SUMMER, Calendar, month_of_year

#: Relative rise of every exit hazard under a full-severity pandemic.
PANDEMIC_TURNOVER = 0.5
#: Months a competing initiative from a new central-office leader lasts.
INITIATIVE_MONTHS = 24
#: Least skill of a groomed successor who steps up (just above developing).
SUCCESSOR_SKILL = SKILL_DEVELOPING + 0.07
#: Share of each team member's commitment left when a new leader drops the work.
DROPPED_COMMITMENT = 0.7


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


def _seat_hazards_by_month(pv: ParamVectors, team_size: int) -> list[np.ndarray]:
    """(K, R, 1) hazards by seat, before any pandemic, by month of the year."""
    return hazards_by_month(seat_rates(pv, team_size), pv["turnover.summer_share"])


def _coach_hazards(pv: ParamVectors) -> list[np.ndarray]:
    """(R, 1) monthly coach exit hazards, before any pandemic, by month of the year."""
    return hazards_by_month(pv["turnover.coach"], pv["turnover.summer_share"])


def _central_office_hazards(pv: ParamVectors) -> list[np.ndarray]:
    """(R,) monthly central-office leader exit hazards by month of the year."""
    return hazards_by_month(pv.col("turnover.central_office"), pv.col("turnover.summer_share"))


@kernel
def _with_pandemic(hazard, severity):
    """A monthly exit hazard (0-1) raised by a pandemic of ``severity`` (0-1)."""
    return hazard * (1.0 + PANDEMIC_TURNOVER * severity)


# --- staff ---------------------------------------------------------------------


def staff_turnover(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> np.ndarray:
    """Exits and replacements on school teams, with the draws ``staff_exit``
    and ``new_leader_continues``.  Returns the (K, R, S) mask of exits."""
    u, u_continue = draws.staff_exit, draws.new_leader_continues
    K = st.team_size
    hazard = pv.cached(f"seat_hazards_{K}", lambda pv: _seat_hazards_by_month(pv, K))[month_of_year(cal.month)]
    leaves = np.empty(u.shape, dtype=bool)
    happened = event_marks(st.events, len(_STAFF_EVENTS), st.engagement.shape)
    _staff_exits_and_replacements(
        u,
        u_continue,
        hazard,
        cal.pandemic,
        st.skill,
        st.commitment,
        st.tenure,
        st.engagement,
        st.bench,
        st.embeddedness,
        st.stall,
        st.in_cycle,
        st.local_knowledge,
        st.understanding,
        st.principles,
        st.knowledge_base,
        pv.col("succession.onboarding"),
        pv.col("knowledge.management"),
        pv.col("district.initial_skill"),
        pv.col("district.initial_commitment"),
        pv.col("sensemaking.threshold"),
        pv.col("succession.stall_months"),
        team_weights(K),
        leaves,
        happened,
    )
    if st.events is not None:
        # (dropped work is noted in the state's month, the rest in the calendar's: the same month in a run)
        for kind, mask in zip(_STAFF_EVENTS, happened, strict=True):
            note(st.events, st.month if kind == "new_leader_dropped_work" else cal.month, kind, mask)
    return leaves


#: Events of :func:`staff_turnover`, in the order they are noted: the rows of its event masks.
_STAFF_EVENTS = ("new_leader_dropped_work", "successor_stepped_up", "principal_left", "lead_left")
_DROPPED_WORK, _SUCCESSOR_STEPPED_UP, _PRINCIPAL_LEFT, _LEAD_LEFT = range(len(_STAFF_EVENTS))


@kernel
def _staff_exits_and_replacements(
    u,
    u_continue,
    hazard,
    pandemic,
    skill,
    commitment,
    tenure,
    engagement,
    bench,
    embeddedness,
    stall,
    in_cycle,
    local_knowledge,
    understanding,
    principles,
    knowledge_base,
    onboarding,
    knowledge_management,
    initial_skill,
    initial_commitment,
    threshold,
    stall_months,
    weights,
    leaves,
    happened,
):
    """Staff exits (``u`` (K, R, S) below the seat's hazard (K, R, 1), raised
    by the pandemic (R, 1)), marked in ``leaves`` (K, R, S), then school by
    school: newcomers, successors, stalled work, knowledge lost and the bench.
    Updates the state arrays in place and, when ``happened`` is not empty,
    marks in it the (R, S) schools of each of :data:`_STAFF_EVENTS`."""
    K, R, S = u.shape
    record = happened.shape[1] != 0
    if not _exits(u, hazard, pandemic, tenure, leaves):
        return
    for r in range(R):
        for s in range(S):
            team_skill = team_mean_at(skill, weights, r, s)
            team_commitment = team_mean_at(commitment, weights, r, s)
            invited = engagement[r, s] != NOT_INVITED
            # a groomed successor steps up for the principal first, then for the lead
            principal_successor = leaves[PRINCIPAL, r, s] and bench[r, s] > 0
            lead_successor = leaves[LEAD, r, s] and bench[r, s] - (1 if principal_successor else 0) > 0
            principal_stalled = leaves[PRINCIPAL, r, s] and not principal_successor
            lead_stalled = leaves[LEAD, r, s] and not lead_successor
            stalled = (principal_stalled or lead_stalled) and invited
            _replace_newcomers_at(
                u,
                hazard,
                pandemic,
                leaves,
                skill,
                commitment,
                tenure,
                team_skill,
                team_commitment,
                onboarding[r] * embeddedness[r, s],
                0.5 * knowledge_management[r] * knowledge_base[r],
                initial_skill[r],
                initial_commitment[r],
                r,
                s,
            )
            if principal_successor:
                _promote_successor_at(
                    skill, commitment, bench, PRINCIPAL, team_skill, team_commitment, threshold[r], r, s
                )
            if lead_successor:
                _promote_successor_at(skill, commitment, bench, LEAD, team_skill, team_commitment, threshold[r], r, s)
            dropped = False
            if stalled:
                dropped = _stall_work_at(
                    stall, commitment, in_cycle, embeddedness[r, s], stall_months[r], u_continue[r, s], r, s
                )
            _knowledge_walks_out_at(
                leaves,
                weights,
                local_knowledge,
                understanding,
                principles,
                embeddedness[r, s],
                knowledge_management[r],
                r,
                s,
            )
            _bench_keeps_only_skilled_staff_at(skill, bench, r, s)
            if record:
                happened[_DROPPED_WORK, r, s] = dropped
                happened[_SUCCESSOR_STEPPED_UP, r, s] = (principal_successor or lead_successor) and invited
                happened[_PRINCIPAL_LEFT, r, s] = stalled and principal_stalled
                happened[_LEAD_LEFT, r, s] = stalled and lead_stalled


@kernel
def _exits(u, hazard, pandemic, tenure, leaves):
    """Mark in ``leaves`` (K, R, S) who leaves this month (uniform ``u`` below the
    seat's hazard), and add a month to everyone's tenure.  Whether anyone left."""
    K, R, S = u.shape
    anyone = False
    for k in range(K):
        for r in range(R):
            h = _with_pandemic(hazard[k, r, 0], pandemic[r, 0])
            for s in range(S):
                leaves[k, r, s] = u[k, r, s] < h
                anyone = anyone or leaves[k, r, s]
                tenure[k, r, s] += 1
    return anyone


@kernel
def _replace_newcomers_at(
    u,
    hazard,
    pandemic,
    leaves,
    skill,
    commitment,
    tenure,
    team_skill,
    team_commitment,
    carry,
    documented,
    initial_skill,
    initial_commitment,
    r,
    s,
):
    """Newcomers in the seats left at school (r, s) start near the district's
    initial (novice) levels, spread by a fresh uniform (``u`` over the hazard,
    for those who leave); onboarding routines, scaled by embeddedness
    (``carry``, 0-1), pass on part of the team's skill and commitment, and
    documented knowledge (``documented``, 0-0.5) part of the skill."""
    for k in range(u.shape[0]):
        if not leaves[k, r, s]:
            continue
        fresh = u[k, r, s] / _with_pandemic(hazard[k, r, 0], pandemic[r, 0])
        spread = 0.5 + fresh
        novice_skill = initial_skill * spread
        novice_commit = initial_commitment * spread
        gap = team_skill - novice_skill
        skill[k, r, s] = clip01_at(novice_skill + max(carry, documented) * max(gap, 0.0))
        gap = team_commitment - novice_commit
        commitment[k, r, s] = clip01_at(novice_commit + carry * max(gap, 0.0))
        tenure[k, r, s] = 0


@kernel
def _promote_successor_at(skill, commitment, bench, seat, team_skill, team_commitment, threshold, r, s):
    """A groomed successor steps into ``seat`` (the principal's or lead's) at
    school (r, s) with the team's skill (at least developing) and commitment
    (at least the threshold, 0-1), and leaves the deep bench."""
    skill[seat, r, s] = max(team_skill, SUCCESSOR_SKILL)
    commitment[seat, r, s] = max(team_commitment, threshold)
    bench[r, s] -= 1


@kernel
def _stall_work_at(stall, commitment, in_cycle, embeddedness, stall_months, u_continue, r, s):
    """Losing the principal or lead with no successor stalls the work at school
    (r, s) for ``stall_months`` shortened by embeddedness (0-1), and ends the
    cycle under way; the new leader continues the work with a chance that
    grows with embeddedness, otherwise the whole team's commitment drops.
    Whether the new leader dropped the work."""
    months = round(stall_months * (1.0 - embeddedness))
    stall[r, s] = max(stall[r, s], months)
    dropped = u_continue >= 0.5 + 0.5 * embeddedness
    if dropped:
        for k in range(commitment.shape[0]):
            commitment[k, r, s] = commitment[k, r, s] * DROPPED_COMMITMENT
    in_cycle[r, s] = False
    return dropped


@kernel
def _knowledge_walks_out_at(
    leaves, weights, local_knowledge, understanding, principles, embeddedness, knowledge_management, r, s
):
    """Local knowledge and practice at school (r, s) leave with people (the
    weighted share of the team that left), except what is embedded in routines
    (``embeddedness``, 0-1) or documented (``knowledge_management``, 0-1)."""
    lost = team_mean_at(leaves, weights, r, s)
    knowledge_lost = 1.0 - max(embeddedness, knowledge_management)  # not kept
    local_knowledge[r, s] = local_knowledge[r, s] * (1.0 - lost * knowledge_lost)
    half_lost = 0.5 * lost
    kept = 1.0 - half_lost * (1.0 - embeddedness)
    for p in range(N_PRINCIPLES):
        principles[p, r, s] = principles[p, r, s] * kept
    understanding[r, s] = understanding[r, s] * (1.0 - half_lost * knowledge_lost)


def _bench_keeps_only_skilled_staff(st: State) -> None:
    """The bench holds at most as many successors as the team has members of at
    least developing skill besides the principal: groomed staff who leave take
    their place on the bench with them."""
    _bench_keeps_only_skilled_staff_kernel(st.skill, st.bench)


@kernel
def _bench_keeps_only_skilled_staff_kernel(skill, bench):
    """:func:`_bench_keeps_only_skilled_staff_at` at every school."""
    for r in range(bench.shape[0]):
        for s in range(bench.shape[1]):
            _bench_keeps_only_skilled_staff_at(skill, bench, r, s)


@kernel
def _bench_keeps_only_skilled_staff_at(skill, bench, r, s):
    """The bench (successors) of school (r, s) at most the number of team members
    besides the principal with at least developing skill."""
    skilled = 0
    for k in range(PRINCIPAL + 1, skill.shape[0]):
        if skill[k, r, s] >= SKILL_DEVELOPING:
            skilled += 1
    bench[r, s] = min(bench[r, s], skilled)


# --- coaches -------------------------------------------------------------------


def coach_turnover(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> None:
    """Coaches leave (leaving a vacancy for ``coaching.vacancy_months`` months, at least one),
    vacancies are filled with new coaches, and when the grant ends its
    positions close unless the district keeps them.  ``u`` is (R, C)."""
    if st.coach_position.shape[1] == 0:
        return
    happened = event_marks(st.events, len(_COACH_EVENTS), st.coach_position.shape)
    _coach_exits_and_vacancies(
        draws.coach_exit,
        pv.cached("coach_hazards", _coach_hazards)[month_of_year(cal.month)],
        cal.pandemic,
        cal.grant_active,
        st.coach_position,
        st.coach_grant,
        st.coach_filled,
        st.coach_skill,
        st.coach_vacancy,
        pv.col("coaching.skill"),
        pv.col("coaching.vacancy_months"),
        pv.col("coaching.retained_after_grant"),
        happened,
    )
    if st.events is not None:
        for kind, lost in zip(_COACH_EVENTS, happened, strict=True):
            _mark_coach_loss(st, lost, cal.month, kind)


#: Events of :func:`coach_turnover`, in the order they are noted: the rows of its event masks.
_COACH_EVENTS = ("coach_left", "grant_ended")
_COACH_LEFT, _GRANT_ENDED = range(len(_COACH_EVENTS))


@kernel
def _coach_exits_and_vacancies(
    u,
    hazard,
    pandemic,
    grant_active,
    position,
    grant,
    filled,
    coach_skill,
    vacancy,
    skill,
    vacancy_months,
    retained,
    happened,
):
    """Coach positions (R, C) month by month: vacancies count down and those
    whose time has come are filled (the draw ``u`` sets the newcomer's skill,
    around ``skill``), coaches leave with the hazard (R, 1) raised by the
    pandemic (R, 1) leaving a vacancy of ``vacancy_months`` (whole months of
    it), then grant positions close when the grant ends.  Updates the coach
    arrays in place and, when ``happened`` is not empty, marks in it the
    (R, C) positions of each of :data:`_COACH_EVENTS` (coaches who left,
    filled positions the grant's end closed)."""
    R, C = position.shape
    record = happened.shape[1] != 0
    for r in range(R):
        h = _with_pandemic(hazard[r, 0], pandemic[r, 0])
        for c in range(C):
            due = False
            if position[r, c] and not filled[r, c]:  # vacant: the vacancy counts down
                vacancy[r, c] -= 1
                due = vacancy[r, c] <= 0
                if due:
                    coach_skill[r, c] = clip01_at(skill[r] * (0.75 + 0.5 * u[r, c]))
                    filled[r, c] = True
            if filled[r, c] and not due and u[r, c] < h:
                filled[r, c] = False
                vacancy[r, c] = int(vacancy_months[r])
                if record:
                    happened[_COACH_LEFT, r, c] = True
        if not grant_active[r]:
            _end_grant_at(position, grant, filled, happened, record, retained[r], r)


@kernel
def _end_grant_at(position, grant, filled, happened, record, retained, r):
    """The grant of run r has ended: the district keeps the first
    ``retained`` (share, 0-1) of the grant's positions, the others close
    (marked in ``happened`` when ``record``, where a coach held them)."""
    n_grant = 0
    for c in range(grant.shape[1]):
        if grant[r, c]:
            n_grant += 1
    n_kept = np.rint(retained * n_grant)
    for c in range(grant.shape[1]):
        if not grant[r, c]:
            continue
        if c >= n_kept:
            if record:
                happened[_GRANT_ENDED, r, c] = filled[r, c]
            position[r, c] = False
            filled[r, c] = False
        grant[r, c] = False


def _mark_coach_loss(st: State, lost: np.ndarray, month: int, kind: str) -> None:
    """Record ``kind`` at the schools of the coaches ``lost`` (R, C)."""
    if st.events is None or not anything(lost):
        return
    r_idx = np.arange(st.runs)[:, None]
    schools_hit = lost[r_idx, np.maximum(st.coach_of, 0)] & (st.coach_of >= 0)
    note(st.events, month, kind, schools_hit)


# --- central office --------------------------------------------------------------


def central_office_turnover(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> None:
    """The central-office leader may leave; the successor brings a competing
    initiative with chance ``governance.initiative_churn`` (priority halves,
    demands rise for two years, schools grow more fatigued) or otherwise
    resets priority somewhere between half and all of its initial level.
    When a competing initiative ends it adds fatigue too: an initiative
    that came and went.  ``u`` is (R, 4)."""
    happened = event_marks(st.events, len(_CENTRAL_OFFICE_EVENTS), st.priority.shape)
    _central_office_leaders(
        draws.leader_leaves,
        draws.brings_initiative,
        draws.priority_reset,
        pv.cached("central_office_hazards", _central_office_hazards)[month_of_year(cal.month)],
        pv.col("governance.initiative_churn"),
        pv.col("governance.priority"),
        pv.col("sensemaking.fatigue_per_change"),
        st.engagement,
        st.priority,
        st.message,
        st.leader_changes,
        st.initiative_months,
        st.fatigue,
        happened,
    )
    if st.events is not None:
        for kind, mask in zip(_CENTRAL_OFFICE_EVENTS, happened, strict=True):
            note(st.events, cal.month, kind, mask)


#: Events of :func:`central_office_turnover`, in the order they are noted: the rows of its event masks.
_CENTRAL_OFFICE_EVENTS = ("competing_initiative", "new_central_office_leader")
_COMPETING_INITIATIVE, _NEW_LEADER = range(len(_CENTRAL_OFFICE_EVENTS))


@kernel
def _central_office_leaders(
    u_leaves,
    u_initiative,
    u_reset,
    hazard,
    churn,
    initial_priority,
    change,
    engagement,
    priority,
    message,
    leader_changes,
    initiative_months,
    fatigue,
    happened,
):
    """A competing initiative counts down (R,) and, when it ends, adds half a
    change's fatigue (``change`` per unit of fatigue room, 0-1) at invited
    schools; then the leader leaves when ``u[:, 0]`` is below the hazard (R,),
    and the successor brings an initiative with chance ``churn`` or resets the
    priority.  Updates the arrays in place and, when ``happened`` is not
    empty, marks in it the (R,) runs of each of :data:`_CENTRAL_OFFICE_EVENTS`
    (a new leader with an initiative, a new leader without)."""
    R = fatigue.shape[0]
    if _initiatives_count_down(initiative_months):
        ending = np.zeros(R, dtype=np.bool_)
        any_ending = False
        for r in range(R):
            ending[r] = initiative_months[r] == 1
            any_ending = any_ending or ending[r]
            initiative_months[r] = max(initiative_months[r] - 1, 0)
        if any_ending:
            _add_fatigue(fatigue, engagement, ending, change, 0.5)
    new_leader = np.zeros(R, dtype=np.bool_)
    initiative = np.zeros(R, dtype=np.bool_)
    anyone = False
    for r in range(R):
        new_leader[r] = u_leaves[r] < hazard[r]
        initiative[r] = new_leader[r] and u_initiative[r] < churn[r]
        anyone = anyone or new_leader[r]
    if not anyone:
        return
    for r in range(R):
        if new_leader[r]:
            leader_changes[r] += 1
        if initiative[r]:
            priority[r] = priority[r] * 0.5
            initiative_months[r] = INITIATIVE_MONTHS
        elif new_leader[r]:
            priority[r] = initial_priority[r] * (0.5 + 0.5 * u_reset[r])
        if new_leader[r]:
            message[r] = message[r] * 0.5
        if happened.shape[1] != 0:
            happened[_COMPETING_INITIATIVE, r] = initiative[r]
            happened[_NEW_LEADER, r] = new_leader[r] and not initiative[r]
    _add_fatigue(fatigue, engagement, new_leader, change, 1.0)


@kernel
def _initiatives_count_down(initiative_months):
    """Whether any run (R,) has a competing initiative under way."""
    under_way = False
    for r in range(initiative_months.shape[0]):
        under_way = under_way or initiative_months[r] != 0
    return under_way


@kernel
def _add_fatigue(fatigue, engagement, changed, change, scale):
    """Add ``scale`` times a change's fatigue, ``change`` (R,) per unit of
    room left (1 - fatigue), at the invited schools (R, S) of the runs where the
    central office ``changed`` (R,); every school adds (zero elsewhere)."""
    for r in range(fatigue.shape[0]):
        for s in range(fatigue.shape[1]):
            add = 0.0
            if changed[r] and engagement[r, s] != NOT_INVITED:
                add = scale * change[r] * (1.0 - fatigue[r, s])
            fatigue[r, s] = fatigue[r, s] + add
