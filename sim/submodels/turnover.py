"""Turnover of school staff, coaches and the central-office leader.

Annual exit rates (NCES 2021-22 follow-up surveys for teachers and
principals) become monthly hazards with a summer peak: a share
``turnover.summer_share`` of the year's cumulative hazard falls in June and
July, the rest is spread over the ten school months, so that the chance of
staying a whole year is exactly ``1 - rate``.  A pandemic raises hazards by
up to ``turnover.pandemic_rise``, once it has been under way for
``turnover.pandemic_delay`` months.  After a principal leaves, the lead and
the teachers of that school leave more readily (by
``turnover.after_principal_rise``) for ``turnover.after_principal_months``.

A replacement starts as a novice unless the school's onboarding routines
(scaled by how embedded they are) or the district's documented knowledge
carry skill and commitment over; a principal or improvement lead who leaves
is replaced from the deep bench when the school has a groomed successor,
otherwise the work stalls for up to ``succession.stall_months`` (shortened
by embeddedness) and the new leader may not continue it.  With
``succession.refill_promoted_seat``, the seat the promoted teammate leaves
is taken by a newcomer, drawn as replacements are.  Knowledge and practice
walk out with people, except what is embedded or documented.

Staff exits run on exit clocks (:mod:`sim.rng`): each seat holds a budget
of cumulative hazard, Exp(1), drawn when the seat is filled; every month the
seat's cumulative hazard -ln(1 - p) is spent from it, and the holder leaves
in the month it would run out.  That is a Bernoulli(p) exit each month,
month by month the same distribution, with one draw per departure instead
of one per seat a month.

The monthly hazards are per-run constants computed once with NumPy; the
exits and what follows them run in compiled kernels (:mod:`sim.jit`), one
call per process a month, each taking its named state, coefficients and
draws.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.events import event_marks, note
from improvesim.sim.jit import at_run, clip01_at, coefficients, kernel, named, pick, rule, step, team_mean_at
from improvesim.sim.rng import CLOCK_REFILL, MonthDraws, uniform_at
from improvesim.sim.state import (
    ASSISTANT_PRINCIPAL,
    LEAD,
    N_PRINCIPLES,
    NOT_INVITED,
    PRINCIPAL,
    SKILL_DEVELOPING,
    SUCCESSION_SEATS,
    ParamVectors,
    State,
    anything,
    frozen,
    hire_skill,
    internal_learning,
    skill_kept,
)
from improvesim.sim.structure import MAX_ANNUAL_RATE, MONTHS_PER_YEAR, SCHOOL_MONTHS, SUMMER
from improvesim.sim.submodels.calendar import Calendar, month_of_year, pandemic_by_month


def monthly_hazard(annual: np.ndarray, summer_share: np.ndarray, month: int) -> np.ndarray:
    """Monthly exit probability for an annual exit rate, with a summer peak.

    The yearly cumulative hazard -ln(1 - annual) is split: ``summer_share``
    over the two summer months, the rest over the ten school months.
    """
    cumulative = -np.log1p(-np.minimum(annual, MAX_ANNUAL_RATE))
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
    return [summer if m in SUMMER else school for m in range(MONTHS_PER_YEAR)]


def _seat_hazards_by_month(pv: ParamVectors, team_size: int) -> list[np.ndarray]:
    """(K, R, 1) hazards by seat, before any pandemic, by month of the year."""
    return hazards_by_month(seat_rates(pv, team_size), pv["turnover.summer_share"])


def _coach_hazards(pv: ParamVectors) -> list[np.ndarray]:
    """(R, 1) monthly coach exit hazards, before any pandemic, by month of the year."""
    return hazards_by_month(pv["turnover.coach"], pv["turnover.summer_share"])


def _central_office_hazards(pv: ParamVectors) -> list[np.ndarray]:
    """(R,) monthly central-office leader exit hazards by month of the year."""
    return hazards_by_month(pv.col("turnover.central_office"), pv.col("turnover.summer_share"))


@rule
def _with_pandemic(hazard, severity, pandemic_rise):
    """A monthly exit hazard (0-1) raised by a pandemic of ``severity`` (0-1),
    by ``pandemic_rise`` at full severity."""
    return hazard * (1.0 + pandemic_rise * severity)


def pandemic_for_exits(pv: ParamVectors, cal: Calendar) -> np.ndarray:
    """(R, 1) severity (0-1) of the pandemic that raises exit hazards this month:
    the calendar's, in runs where the pandemic has been under way without a
    break for at least ``turnover.pandemic_delay`` months, zero elsewhere (a
    read-only view of the calendar's own array when no run has a delay).  Read-only."""
    return pandemic_for_exits_at(pv, cal.month, cal.pandemic)


def pandemic_for_exits_at(pv: ParamVectors, month: int, pandemic: np.ndarray) -> np.ndarray:
    """:func:`pandemic_for_exits` in ``month``, whose calendar's pandemic severity is ``pandemic`` (R, 1)."""
    if not anything(pv.col("turnover.pandemic_delay")):
        # a read-only view of the calendar's own array: the turnover kernels always take a
        # read-only one (one compiled version), and the calendar's stays as other kernels take it
        return frozen(pandemic.view())
    return pv.cached("pandemic_for_exits", _pandemic_for_exits_by_month)[month]


def pandemic_for_exits_by_month(pv: ParamVectors, pandemic: np.ndarray) -> np.ndarray:
    """:func:`pandemic_for_exits` of every month (T, R, 1), whose calendar's pandemic severities
    are ``pandemic`` (T, R, 1)."""
    if not anything(pv.col("turnover.pandemic_delay")):
        return pandemic
    return np.array(pv.cached("pandemic_for_exits", _pandemic_for_exits_by_month))


def _pandemic_for_exits_by_month(pv: ParamVectors) -> list[np.ndarray]:
    """:func:`pandemic_for_exits` month by month, each (R, 1) and read-only:
    the severity where a pandemic has been under way without a break for at
    least ``turnover.pandemic_delay`` months, 0.0 elsewhere (computed once per
    batch; one shared zero column for months without a pandemic anywhere)."""
    delay = pv.col("turnover.pandemic_delay")
    none = frozen(np.zeros((len(delay), 1)))
    under_way = np.zeros_like(delay)  # months the pandemic has been under way before this one
    severities = []
    for severity in pandemic_by_month(pv):
        if severity is None:
            severities.append(none)
            under_way = np.zeros_like(delay)
            continue
        on = severity > 0
        severities.append(frozen(np.where(on & (under_way >= delay), severity, 0.0)[:, None]))
        under_way = np.where(on, under_way + 1, 0)
    return severities


@rule
def _unsettled(hazard, seat, unsettled, rise):
    """A monthly exit hazard (0-1) of team ``seat``, raised by ``rise`` for the
    lead and the teachers (every seat from the lead's on) of a school still
    ``unsettled`` after its principal left."""
    if unsettled and seat >= LEAD:
        return hazard * (1.0 + rise)
    return hazard


# --- staff ---------------------------------------------------------------------


class StaffState(NamedTuple):
    """The state arrays staff turnover reads and writes."""

    skill: np.ndarray  # (K, R, S) 0-1
    commitment: np.ndarray  # (K, R, S) 0-1
    tenure: np.ndarray  # (K, R, S) months
    exit_budget: np.ndarray  # (K, R, S) cumulative exit hazard left (exit clocks)
    exit_clock_key: np.ndarray  # (R, 2) key halves of stream staff_clock
    engagement: np.ndarray  # (R, S) Engagement
    bench: np.ndarray  # (R, S) groomed successors
    embeddedness: np.ndarray  # (R, S) 0-1
    stall: np.ndarray  # (R, S) months the work stays stalled
    in_cycle: np.ndarray  # (R, S) a PDSA cycle is under way
    unsettled_months: np.ndarray  # (R, S) months left of raised exits after the principal left
    local_knowledge: np.ndarray  # (R, S) 0-1
    understanding: np.ndarray  # (R, S) 0-1
    principles: np.ndarray  # (6, R, S) 0-1
    knowledge_base: np.ndarray  # (R,) 0-1
    weights: np.ndarray  # (R, K) seat weights of team means


class StaffCoefficients(NamedTuple):
    """Per-run (R,) coefficients of staff turnover and succession."""

    SECTIONS = ("turnover", "succession", "knowledge", "district", "sensemaking")

    pandemic_rise: np.ndarray
    newcomer_low: np.ndarray
    initial_skill: np.ndarray
    initial_commitment: np.ndarray
    onboarding: np.ndarray
    management: np.ndarray
    documented_skill: np.ndarray
    successor_skill_margin: np.ndarray
    threshold: np.ndarray
    stall_months: np.ndarray
    continue_base: np.ndarray
    continue_embedded: np.ndarray
    dropped_commitment: np.ndarray
    practice_loss: np.ndarray
    after_principal_rise: np.ndarray
    after_principal_months: np.ndarray
    refill_promoted_seat: np.ndarray
    arrival_fatigue: np.ndarray


class StaffMonth(NamedTuple):
    """This month's exits: the month, a draw and the hazards the exit budgets are spent on."""

    month: int  # the month, a counter of stream staff_clock
    new_leader_continues: np.ndarray  # (R, S) uniforms
    hazard: np.ndarray  # (K, R, 1) exit hazards by seat, before any pandemic
    pandemic: np.ndarray  # (R, 1) severity of the pandemic raising exits (pandemic_for_exits), 0-1


def staff_turnover(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> np.ndarray:
    """Exits (exit clocks, see the module docstring) and replacements on school
    teams, with the draw ``new_leader_continues``.  Returns the (K, R, S) mask
    of exits."""
    K = st.team_size
    hazard = pv.cached(f"seat_hazards_{K}", lambda pv: _seat_hazards_by_month(pv, K))[month_of_year(cal.month)]
    month = StaffMonth(cal.month, draws.new_leader_continues, hazard, pandemic_for_exits(pv, cal))
    leaves = np.empty(st.skill.shape, dtype=bool)
    happened = event_marks(st.events, len(_STAFF_EVENTS), st.engagement.shape)
    _staff_exits_and_replacements(
        pick(StaffState, st), coefficients(StaffCoefficients, pv), tuple(month), leaves, happened
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
def _staff_exits_and_replacements(state, coef, month, leaves, happened):
    """Staff exits (this ``month``'s :class:`StaffMonth`: a seat's exit budget
    below its cumulative hazard, raised by the pandemic and, for the lead and the teachers of a
    school whose principal left recently, by ``after_principal_rise``), marked
    in ``leaves`` (K, R, S), then, school by school, each step for every school
    in turn: newcomers, successors (and, with ``refill_promoted_seat``,
    newcomers in their former seats), stalled work, knowledge lost and the
    bench; last, schools whose principal left are unsettled for
    ``after_principal_months``.  Updates the state arrays
    (:class:`StaffState`) in place and, when ``happened`` is not empty, marks in
    it the (R, S) schools of each of :data:`_STAFF_EVENTS`."""
    st = StaffState(*state)
    c = named(StaffCoefficients, coef)
    m = StaffMonth(*month)
    left_at = np.zeros(st.unsettled_months.shape, dtype=np.bool_)
    if _exits(m, c, st.tenure, st.unsettled_months, st.exit_budget, leaves, left_at):
        # what follows the exits: only the schools someone left are visited (nothing follows
        # elsewhere), listed once in (run, school) order; the steps are called here, not from a
        # step of their own: Numba copies an inlined step's code, with all it inlined, twice at
        # each call, which cost 2-5 s of this kernel's 15-18 s of compiling (docs/scale.md)
        hit = _schools_left(left_at)
        # what the team was before anyone was replaced
        team_skill, team_commitment = _team_means(st.skill, st.commitment, st.weights, hit)
        successors = _successors(leaves, st.bench, hit)
        _replace_newcomers(st, c, m, leaves, hit, team_skill, team_commitment)
        _promote_successors(st, c, successors, hit, team_skill, team_commitment)
        _refill_promoted_seats(st, c, m, leaves, successors, hit, team_skill, team_commitment)
        stalled = _stalled(leaves, successors, st.engagement, hit)
        dropped = _stall_work(st, c, stalled, hit, m.new_leader_continues)
        _knowledge_walks_out(st, c, leaves, hit)
        _bench_keeps_only_skilled_staff(st.skill, st.bench, hit)
        if happened.shape[1] != 0:
            _mark_staff_events(happened, successors, stalled, dropped, st.engagement)
    _unsettle_after_principal(st.unsettled_months, leaves, c.after_principal_months)


@rule
def _seat_hazard(hazard, severity, seat, unsettled, cr):
    """This month's exit hazard (0-1) of team ``seat``: the seat's ``hazard``
    raised by a pandemic of ``severity`` (0-1) and, at a school still
    ``unsettled`` after its principal left, for the lead and the teachers
    (coefficients ``cr`` of one run)."""
    return _unsettled(_with_pandemic(hazard, severity, cr.pandemic_rise), seat, unsettled, cr.after_principal_rise)


@rule
def _cumulative(hazard):
    """The cumulative hazard -ln(1 - ``hazard``) of a monthly exit hazard
    (probability, 0-1): infinite from 1 on (everyone leaves)."""
    if hazard >= 1.0:
        return np.inf
    return -np.log1p(-hazard)


@step
def _exits(m, c, tenure, unsettled_months, budget, leaves, left_at):
    """Mark in ``leaves`` (K, R, S) who leaves this month: a seat whose exit
    ``budget`` (K, R, S) is below the cumulative hazard of the seat's hazard,
    raised by the pandemic and, where ``unsettled_months`` (R, S) is not zero,
    for the lead and the teachers; the others spend that cumulative hazard
    from their budget (a leaver's budget is left for :func:`_replace_newcomers`).
    Marks in ``left_at`` (R, S, all False on entry) the schools someone left.  Adds a month to
    everyone's tenure.  Whether anyone left."""
    K, R, S = leaves.shape
    anyone = False
    for k in range(K):
        for r in range(R):
            h = _with_pandemic(m.hazard[k, r, 0], m.pandemic[r, 0], c.pandemic_rise[r])
            settled = _cumulative(h)
            raised = _cumulative(_unsettled(h, k, True, c.after_principal_rise[r]))
            for s in range(S):  # (choices of values, not branches: the seats that stay spend)
                spent = raised if unsettled_months[r, s] > 0 else settled
                kept = budget[k, r, s]
                left = kept < spent
                budget[k, r, s] = kept if left else kept - spent
                leaves[k, r, s] = left
                left_at[r, s] |= left
                anyone |= left
                tenure[k, r, s] += 1
    return anyone


@rule
def _new_exit_budget(key, month, s, k):
    """The Exp(1) exit budget of whoever fills seat k of school s in ``month``
    (stream ``staff_clock`` of the run's ``key``, slot :data:`CLOCK_REFILL`)."""
    return -np.log1p(-uniform_at(key, month, s, k, CLOCK_REFILL))


@step
def _unsettle_after_principal(unsettled_months, leaves, months):
    """Count down the months (R, S) a school stays unsettled after its principal
    left, and start ``months`` (R,) of them where the principal left this month
    (``leaves`` (K, R, S)): the raise applies in the months after the exit."""
    for r in range(unsettled_months.shape[0]):
        for s in range(unsettled_months.shape[1]):
            left = max(unsettled_months[r, s] - 1, 0)
            if leaves[PRINCIPAL, r, s]:
                left = int(months[r])
            unsettled_months[r, s] = left


@step
def _schools_left(left_at):
    """The schools ``left_at`` (R, S) marks (where someone left), in (run, school) order: a pair
    of (n,) arrays, their runs and their schools (:func:`_hit_at` gives the j-th)."""
    R, S = left_at.shape
    runs, schools = np.empty(R * S, dtype=np.int64), np.empty(R * S, dtype=np.int64)
    j = 0
    for r in range(R):  # (one pass: every school written, the count moving on where someone left)
        for s in range(S):
            runs[j], schools[j] = r, s
            j += 1 if left_at[r, s] else 0
    return runs[:j], schools[:j]


@rule
def _hit_at(hit, j):
    """Run r and school s of the j-th school of ``hit`` (:func:`_schools_left`)."""
    runs, schools = hit
    return runs[j], schools[j]


@step
def _team_means(skill, commitment, weights, hit):
    """Team means (n,) of ``skill`` and ``commitment`` (K, R, S) at each of the schools ``hit``
    lists."""
    team_skill = np.empty(len(hit[0]))
    team_commitment = np.empty(len(hit[0]))
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        team_skill[j] = team_mean_at(skill, weights, r, s)
        team_commitment[j] = team_mean_at(commitment, weights, r, s)
    return team_skill, team_commitment


@step
def _successors(leaves, bench, hit):
    """(2, R, S) masks of the seats of :data:`SUCCESSION_SEATS` a groomed
    successor steps into: the principal's first, then the lead's, while the
    bench (R, S) has successors (at the schools ``hit`` lists, where someone left)."""
    K, R, S = leaves.shape
    steps_up = np.zeros((len(SUCCESSION_SEATS), R, S), dtype=np.bool_)
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        left = bench[r, s]
        for i in range(len(SUCCESSION_SEATS)):
            if leaves[SUCCESSION_SEATS[i], r, s] and left > 0:
                steps_up[i, r, s] = True
                left -= 1
    return steps_up


@step
def _replace_newcomers(st, c, m, leaves, hit, team_skill, team_commitment):
    """Newcomers in the seats left start near the district's initial (novice)
    levels, spread by a fresh uniform from ``newcomer_low`` times them (the
    leaver's exit budget b as a uniform, 1 - exp(-b), over the hazard: uniform
    on [0, 1) given b below the cumulative hazard), and draw their own exit
    budgets; onboarding routines, scaled by
    embeddedness, pass on part of the team's skill and commitment (R, S, before
    the exits, (n,)), and documented knowledge part of the skill.  Visits the
    schools ``hit`` lists: those someone left."""
    K = leaves.shape[0]
    skill, commitment = st.skill, st.commitment
    run, cr = 0, at_run(c, 0)  # (one run's coefficients, taken again when the run changes)
    documented = cr.documented_skill * cr.management * st.knowledge_base[0]
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        if r != run:
            run, cr = r, at_run(c, r)
            documented = cr.documented_skill * cr.management * st.knowledge_base[r]
        carry = cr.onboarding * st.embeddedness[r, s]
        unsettled = st.unsettled_months[r, s] > 0
        for k in range(K):
            if not leaves[k, r, s]:
                continue
            h = _seat_hazard(m.hazard[k, r, 0], m.pandemic[r, 0], k, unsettled, cr)
            fresh = -np.expm1(-st.exit_budget[k, r, s]) / h
            skill[k, r, s], commitment[k, r, s] = _newcomer(
                cr, fresh, team_skill[j], team_commitment[j], carry, documented
            )
            st.tenure[k, r, s] = 0
            st.exit_budget[k, r, s] = _new_exit_budget(st.exit_clock_key[r], m.month, s, k)


@rule
def _newcomer(cr, fresh, team_skill, team_commitment, carry, documented):
    """Skill and commitment (0-1) of a newcomer with the fresh uniform ``fresh``:
    novice levels (the district's initial levels times ``newcomer_low`` +
    ``fresh``; commitment lowered by the ``arrival_fatigue`` newcomers carry
    from initiatives that came and went), plus ``carry`` (onboarding) or
    ``documented`` (the knowledge base), whichever is larger, of the gap to
    the team's skill, and ``carry`` of the gap to its commitment
    (coefficients ``cr`` of one run)."""
    spread = cr.newcomer_low + fresh
    novice_skill = cr.initial_skill * spread
    novice_commit = cr.initial_commitment * spread
    novice_commit *= 1.0 - cr.arrival_fatigue
    gap = team_skill - novice_skill
    skill = clip01_at(novice_skill + max(carry, documented) * max(gap, 0.0))
    gap = team_commitment - novice_commit
    commitment = clip01_at(novice_commit + carry * max(gap, 0.0))
    return skill, commitment


@step
def _promote_successors(st, c, successors, hit, team_skill, team_commitment):
    """A groomed successor steps into each seat ``successors`` (2, R, S) marks
    with the team's skill (at least ``successor_skill_margin`` above developing)
    and commitment (at least the threshold), and leaves the deep bench (at the schools ``hit``
    lists, with their team means (n,))."""
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        least_skill = SKILL_DEVELOPING + c.successor_skill_margin[r]
        for i in range(len(SUCCESSION_SEATS)):
            if successors[i, r, s]:
                seat = SUCCESSION_SEATS[i]
                st.skill[seat, r, s] = max(team_skill[j], least_skill)
                st.commitment[seat, r, s] = max(team_commitment[j], c.threshold[r])
                st.bench[r, s] -= 1


@step
def _refill_promoted_seats(st, c, m, leaves, successors, hit, team_skill, team_commitment):
    """In runs with ``refill_promoted_seat``, the seat of each teammate promoted
    into a seat ``successors`` (2, R, S) marks is taken by a newcomer, drawn as
    replacements are (:func:`_newcomer`, team means (R, S) from before the
    exits), with tenure 0 and an exit budget of their own.  The promoted
    teammate is :func:`_promoted_teammate`; the newcomer's uniform is 1 -
    exp(-b) of the budget b the teammate had left after this month: uniform
    on [0, 1) (a stayer's budget left is Exp(1), memoryless) and used for
    nothing else, since the seat's budget is drawn afresh.  Visits the schools ``hit``
    lists, with their team means (n,)."""
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        stepped_up = False
        for i in range(len(SUCCESSION_SEATS)):
            stepped_up |= successors[i, r, s]
        if c.refill_promoted_seat[r] == 0 or not stepped_up:  # (nobody was promoted)
            continue
        cr = at_run(c, r)
        documented = cr.documented_skill * cr.management * st.knowledge_base[r]
        carry = cr.onboarding * st.embeddedness[r, s]
        promoted = -1
        for i in range(len(SUCCESSION_SEATS)):
            if not successors[i, r, s]:
                continue
            promoted = _promoted_teammate(st.skill, leaves, successors, promoted, r, s)
            if promoted < 0:
                continue
            fresh = -np.expm1(-st.exit_budget[promoted, r, s])
            st.skill[promoted, r, s], st.commitment[promoted, r, s] = _newcomer(
                cr, fresh, team_skill[j], team_commitment[j], carry, documented
            )
            st.tenure[promoted, r, s] = 0
            st.exit_budget[promoted, r, s] = _new_exit_budget(st.exit_clock_key[r], m.month, s, promoted)


@step
def _promoted_teammate(skill, leaves, successors, taken, r, s):
    """The seat of the teammate a successor is promoted from, at run r, school s:
    the most skilled member (the first on ties) besides the principal, of at
    least developing skill (K, R, S), who did not leave this month (``leaves``),
    is not in a seat a successor fills this month (``successors`` (2, R, S)) and
    is not the teammate promoted already (seat ``taken``, -1 for none); -1 when
    there is none."""
    best = -1
    for k in range(PRINCIPAL + 1, skill.shape[0]):
        if leaves[k, r, s] or k == taken or skill[k, r, s] < SKILL_DEVELOPING:
            continue
        filled = False
        for i in range(len(SUCCESSION_SEATS)):
            filled = filled or (SUCCESSION_SEATS[i] == k and successors[i, r, s])
        if not filled and (best < 0 or skill[k, r, s] > skill[best, r, s]):
            best = k
    return best


@step
def _stalled(leaves, successors, engagement, hit):
    """(2, R, S) masks of invited schools whose principal (row 0) or lead (row 1)
    left with no successor ready (at the schools ``hit`` lists, where someone left)."""
    stalled = np.zeros(successors.shape, dtype=np.bool_)
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        if engagement[r, s] == NOT_INVITED:
            continue
        for i in range(len(SUCCESSION_SEATS)):
            stalled[i, r, s] = leaves[SUCCESSION_SEATS[i], r, s] and not successors[i, r, s]
    return stalled


@step
def _stall_work(st, c, stalled, hit, u_continue):
    """Losing the principal or lead with no successor (``stalled`` (2, R, S))
    stalls the work for ``stall_months`` shortened by embeddedness (0-1), and
    ends the cycle under way; the new leader continues the work when
    ``u_continue`` (R, S) falls below a chance that grows with embeddedness,
    otherwise the whole team's commitment drops to ``dropped_commitment`` of
    itself.  Visits the schools ``hit`` lists (only there can a leader have left).
    Returns where the new leader dropped the work (R, S)."""
    _, R, S = stalled.shape
    dropped = np.zeros((R, S), dtype=np.bool_)
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        if not (stalled[0, r, s] or stalled[1, r, s]):
            continue
        cr = at_run(c, r)
        embedded = st.embeddedness[r, s]
        months = round(cr.stall_months * (1.0 - embedded))
        st.stall[r, s] = max(st.stall[r, s], months)
        dropped[r, s] = u_continue[r, s] >= cr.continue_base + cr.continue_embedded * embedded
        if dropped[r, s]:
            for k in range(st.commitment.shape[0]):
                st.commitment[k, r, s] = st.commitment[k, r, s] * cr.dropped_commitment
        st.in_cycle[r, s] = False
    return dropped


@step
def _knowledge_walks_out(st, c, leaves, hit):
    """Local knowledge and practice leave with people (the weighted share of the
    team that left), except what is embedded in routines (embeddedness, 0-1) or
    documented (``management``, 0-1); practice and understanding lose
    ``practice_loss`` of that share.  Visits the schools ``hit`` lists:
    nothing is lost where nobody left."""
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        management = c.management[r]
        practice_loss = c.practice_loss[r]
        embedded = st.embeddedness[r, s]
        lost = team_mean_at(leaves, st.weights, r, s)
        knowledge_lost = 1.0 - max(embedded, management)  # not kept
        st.local_knowledge[r, s] = st.local_knowledge[r, s] * (1.0 - lost * knowledge_lost)
        half_lost = practice_loss * lost
        kept = 1.0 - half_lost * (1.0 - embedded)
        for p in range(N_PRINCIPLES):
            st.principles[p, r, s] = st.principles[p, r, s] * kept
        st.understanding[r, s] = st.understanding[r, s] * (1.0 - half_lost * knowledge_lost)


@step
def _bench_keeps_only_skilled_staff(skill, bench, hit):
    """The bench (successors, (R, S)) holds at most as many successors as the
    team has members of at least developing skill besides the principal:
    groomed staff who leave take their place on the bench with them.  Checked
    at the schools ``hit`` lists, those someone left: elsewhere skill
    only grew and the bench grows only while it holds fewer."""
    for j in range(len(hit[0])):
        r, s = _hit_at(hit, j)
        skilled = 0
        for k in range(PRINCIPAL + 1, skill.shape[0]):
            if skill[k, r, s] >= SKILL_DEVELOPING:
                skilled += 1
        bench[r, s] = min(bench[r, s], skilled)


@step
def _mark_staff_events(happened, successors, stalled, dropped, engagement):
    """Mark in ``happened`` (4, R, S) the schools of each of :data:`_STAFF_EVENTS`."""
    _, R, S = happened.shape
    for r in range(R):
        for s in range(S):
            invited = engagement[r, s] != NOT_INVITED
            happened[_DROPPED_WORK, r, s] = dropped[r, s]
            happened[_SUCCESSOR_STEPPED_UP, r, s] = (successors[0, r, s] or successors[1, r, s]) and invited
            happened[_PRINCIPAL_LEFT, r, s] = stalled[0, r, s]
            happened[_LEAD_LEFT, r, s] = stalled[1, r, s]


# --- coaches -------------------------------------------------------------------


class CoachState(NamedTuple):
    """The coach positions (R, C) coach turnover reads and writes."""

    coach_position: np.ndarray  # the position exists (funded)
    coach_grant: np.ndarray  # funded by the grant
    coach_filled: np.ndarray
    coach_skill: np.ndarray  # 0-1
    coach_vacancy: np.ndarray  # months until a vacant position is filled


class CoachCoefficients(NamedTuple):
    """Per-run (R,) coefficients of coach turnover."""

    SECTIONS = ("coaching", "turnover")
    DERIVED = {"hire_skill": hire_skill, "skill_kept": skill_kept, "learning": internal_learning}

    hire_skill: np.ndarray  # mean skill at hire under the run's coach model
    new_coach_low: np.ndarray
    new_coach_spread: np.ndarray
    vacancy_months: np.ndarray
    retained_after_grant: np.ndarray
    pandemic_rise: np.ndarray
    skill: np.ndarray  # a hired coach's mean skill: what a learning coach grows towards
    learning: np.ndarray  # share of that gap a coach in post closes a month
    skill_kept: np.ndarray  # share of what the departed coach learned beyond the hire the next one starts with


def coach_turnover(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> None:
    """Coaches leave (leaving a vacancy for ``coaching.vacancy_months`` months, at least one),
    vacancies are filled with new coaches of the run's ``coaching.model`` (internal coaches learn
    on the job, and the next internal coach in a post starts with a share of what the one who
    left had learned beyond a new hire), and when the grant ends its positions close unless the
    district keeps them.  Draws ``coach_exit``."""
    if st.coach_position.shape[1] == 0:
        return
    happened = event_marks(st.events, len(_COACH_EVENTS), st.coach_position.shape)
    hazard = pv.cached("coach_hazards", _coach_hazards)[month_of_year(cal.month)]
    _coach_exits_and_vacancies(
        pick(CoachState, st),
        coefficients(CoachCoefficients, pv),
        draws.coach_exit,
        hazard,
        pandemic_for_exits(pv, cal),
        cal.grant_active,
        happened,
    )
    if st.events is not None:
        for kind, lost in zip(_COACH_EVENTS, happened, strict=True):
            _mark_coach_loss(st, lost, cal.month, kind)


#: Events of :func:`coach_turnover`, in the order they are noted: the rows of its event masks.
_COACH_EVENTS = ("coach_left", "grant_ended")
_COACH_LEFT, _GRANT_ENDED = range(len(_COACH_EVENTS))


@kernel
def _coach_exits_and_vacancies(state, coef, u, hazard, pandemic, grant_active, happened):
    """Coach positions (:class:`CoachState`, (R, C)) month by month: vacancies
    count down and those whose time has come are filled (the draw ``u`` (R, C)
    sets the newcomer's skill, from ``new_coach_low`` to that plus
    ``new_coach_spread`` times the mean ``hire_skill``, plus ``skill_kept`` of
    what the coach who left the post had above that), coaches in post close
    ``learning`` of their gap to ``skill`` (when below it), coaches leave with the hazard
    (R, 1) raised by the pandemic (R, 1) leaving a vacancy of ``vacancy_months``
    (whole months of it), then grant positions close when the grant ends (R,).
    Updates the coach arrays in place and, when ``happened`` is not empty, marks
    in it the (R, C) positions of each of :data:`_COACH_EVENTS` (coaches who
    left, filled positions the grant's end closed)."""
    st = CoachState(*state)
    c = named(CoachCoefficients, coef)
    position, filled, vacancy = st.coach_position, st.coach_filled, st.coach_vacancy
    R, C = position.shape
    record = happened.shape[1] != 0
    for r in range(R):
        cr = at_run(c, r)
        h = _with_pandemic(hazard[r, 0], pandemic[r, 0], cr.pandemic_rise)
        for k in range(C):
            due = False
            if position[r, k] and not filled[r, k]:  # vacant: the vacancy counts down
                vacancy[r, k] -= 1
                due = vacancy[r, k] <= 0
                if due:
                    newcomer = clip01_at(cr.hire_skill * (cr.new_coach_low + cr.new_coach_spread * u[r, k]))
                    if cr.skill_kept > 0:  # what the coach who left (skill still in the post) had learned
                        newcomer = newcomer + cr.skill_kept * max(st.coach_skill[r, k] - newcomer, 0.0)
                    st.coach_skill[r, k] = newcomer
                    filled[r, k] = True
            if filled[r, k] and not due and cr.learning > 0:
                st.coach_skill[r, k] += cr.learning * max(cr.skill - st.coach_skill[r, k], 0.0)
            if filled[r, k] and not due and u[r, k] < h:
                filled[r, k] = False
                vacancy[r, k] = int(cr.vacancy_months)
                if record:
                    happened[_COACH_LEFT, r, k] = True
        if not grant_active[r]:
            _end_grant_at(position, st.coach_grant, filled, happened, record, cr.retained_after_grant, r)


@step
def _end_grant_at(position, grant, filled, happened, record, retained, r):
    """The grant of run r has ended: the district keeps the first
    ``retained`` (share, 0-1) of the grant's positions, the others close
    (marked in ``happened`` when ``record``, where a coach held them)."""
    n_grant = 0
    for k in range(grant.shape[1]):
        if grant[r, k]:
            n_grant += 1
    n_kept = np.rint(retained * n_grant)
    for k in range(grant.shape[1]):
        if not grant[r, k]:
            continue
        if k >= n_kept:
            if record:
                happened[_GRANT_ENDED, r, k] = filled[r, k]
            position[r, k] = False
            filled[r, k] = False
        grant[r, k] = False


def _mark_coach_loss(st: State, lost: np.ndarray, month: int, kind: str) -> None:
    """Record ``kind`` at the schools of the coaches ``lost`` (R, C)."""
    if st.events is None or not anything(lost):
        return
    r_idx = np.arange(st.runs)[:, None]
    schools_hit = lost[r_idx, np.maximum(st.coach_of, 0)] & (st.coach_of >= 0)
    note(st.events, month, kind, schools_hit)


# --- central office --------------------------------------------------------------


def moratorium_months(pv: ParamVectors) -> np.ndarray:
    """(R,) months from the start of the board's moratorium on new competing initiatives."""
    return MONTHS_PER_YEAR * pv.col("governance.initiative_moratorium_years")


class OfficeState(NamedTuple):
    """The state arrays central-office turnover reads and writes."""

    engagement: np.ndarray  # (R, S) Engagement
    priority: np.ndarray  # (R,) 0-1
    message: np.ndarray  # (R,) the felt message, 0-1
    leader_changes: np.ndarray  # (R,)
    initiative_months: np.ndarray  # (R,) months left of a competing initiative
    fatigue: np.ndarray  # (R, S) 0-1


class OfficeCoefficients(NamedTuple):
    """Per-run (R,) coefficients of central-office turnover."""

    SECTIONS = ("governance", "sensemaking", "messaging")
    DERIVED = {"moratorium_months": moratorium_months}

    initiative_churn: np.ndarray
    initiative_length: np.ndarray
    initiative_sunset_months: np.ndarray
    moratorium_months: np.ndarray
    initiative_priority_cut: np.ndarray
    priority: np.ndarray
    new_leader_priority_low: np.ndarray
    new_leader_priority_spread: np.ndarray
    new_leader_message_kept: np.ndarray
    fatigue_per_change: np.ndarray
    initiative_end_fatigue: np.ndarray


class OfficeDraws(NamedTuple):
    """The central office's draws (R,) this month (see :data:`sim.rng.DRAWS`)."""

    leader_leaves: np.ndarray
    brings_initiative: np.ndarray
    priority_reset: np.ndarray


def central_office_turnover(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> None:
    """The central-office leader may leave; the successor brings a competing
    initiative with chance ``governance.initiative_churn`` (priority is cut,
    demands rise while it lasts, schools grow more fatigued) or otherwise
    resets priority somewhere between a share and all of its initial level.
    During the board's moratorium (``governance.initiative_moratorium_years``
    from the start) no new leader brings one; an initiative lasts
    ``governance.initiative_length`` months, at most the district's sunset
    (``governance.initiative_sunset_months``).  When a competing initiative
    ends it adds fatigue too: an initiative that came and went."""
    happened = event_marks(st.events, len(_CENTRAL_OFFICE_EVENTS), st.priority.shape)
    _central_office_leaders(
        pick(OfficeState, st),
        coefficients(OfficeCoefficients, pv),
        pick(OfficeDraws, draws),
        pv.cached("central_office_hazards", _central_office_hazards)[month_of_year(cal.month)],
        cal.month,
        happened,
    )
    if st.events is not None:
        for kind, mask in zip(_CENTRAL_OFFICE_EVENTS, happened, strict=True):
            note(st.events, cal.month, kind, mask)


#: Events of :func:`central_office_turnover`, in the order they are noted: the rows of its event masks.
_CENTRAL_OFFICE_EVENTS = ("competing_initiative", "new_central_office_leader")
_COMPETING_INITIATIVE, _NEW_LEADER = range(len(_CENTRAL_OFFICE_EVENTS))


@kernel
def _central_office_leaders(state, coef, draws, hazard, month, happened):
    """A competing initiative counts down (R,) and, when it ends, adds
    ``initiative_end_fatigue`` of a change's fatigue at invited schools; then
    the leader leaves when the draw ``leader_leaves`` is below the hazard (R,),
    and the successor brings an initiative when ``brings_initiative`` is below
    the churn and ``month`` is past the ``moratorium_months``, lasting
    ``initiative_length`` months but no longer than ``initiative_sunset_months``;
    otherwise the successor resets the priority (``priority_reset``).  Updates the arrays
    (:class:`OfficeState`) in place and, when ``happened`` is not empty, marks
    in it the (R,) runs of each of :data:`_CENTRAL_OFFICE_EVENTS` (a new leader
    with an initiative, a new leader without)."""
    st = OfficeState(*state)
    c = named(OfficeCoefficients, coef)
    u = OfficeDraws(*draws)
    R = st.fatigue.shape[0]
    if _initiatives_count_down(st.initiative_months):
        ending = np.zeros(R, dtype=np.bool_)
        any_ending = False
        for r in range(R):
            ending[r] = st.initiative_months[r] == 1
            any_ending = any_ending or ending[r]
            st.initiative_months[r] = max(st.initiative_months[r] - 1, 0)
        if any_ending:
            _add_fatigue(st.fatigue, st.engagement, ending, c.fatigue_per_change, c.initiative_end_fatigue)
    new_leader = np.zeros(R, dtype=np.bool_)
    initiative = np.zeros(R, dtype=np.bool_)
    anyone = False
    for r in range(R):
        new_leader[r] = u.leader_leaves[r] < hazard[r]
        allowed = month >= c.moratorium_months[r]
        initiative[r] = new_leader[r] and allowed and u.brings_initiative[r] < c.initiative_churn[r]
        anyone = anyone or new_leader[r]
    if not anyone:
        return
    for r in range(R):
        cr = at_run(c, r)
        if new_leader[r]:
            st.leader_changes[r] += 1
        if initiative[r]:
            st.priority[r] = st.priority[r] * cr.initiative_priority_cut
            st.initiative_months[r] = min(cr.initiative_length, cr.initiative_sunset_months)
        elif new_leader[r]:
            reset = cr.new_leader_priority_low + cr.new_leader_priority_spread * u.priority_reset[r]
            st.priority[r] = cr.priority * reset
        if new_leader[r]:
            st.message[r] = st.message[r] * cr.new_leader_message_kept
        if happened.shape[1] != 0:
            happened[_COMPETING_INITIATIVE, r] = initiative[r]
            happened[_NEW_LEADER, r] = new_leader[r] and not initiative[r]
    _add_fatigue(st.fatigue, st.engagement, new_leader, c.fatigue_per_change, np.ones(R))


@step
def _initiatives_count_down(initiative_months):
    """Whether any run (R,) has a competing initiative under way."""
    under_way = False
    for r in range(initiative_months.shape[0]):
        under_way = under_way or initiative_months[r] != 0
    return under_way


@step
def _add_fatigue(fatigue, engagement, changed, change, scale):
    """Add ``scale`` (R,) times a change's fatigue, ``change`` (R,) per unit of
    room left (1 - fatigue), at the invited schools (R, S) of the runs where the
    central office ``changed`` (R,); every school adds (zero elsewhere)."""
    for r in range(fatigue.shape[0]):
        for s in range(fatigue.shape[1]):
            add = 0.0
            if changed[r] and engagement[r, s] != NOT_INVITED:
                add = scale[r] * change[r] * (1.0 - fatigue[r, s])
            fatigue[r, s] = fatigue[r, s] + add
