"""Institutionalization, authenticity and the deep bench.

Embeddedness (seed 001) is a stock of routine: in school months it grows in
working schools with the quality of their practice (mean principle practice
times team commitment) and their effort, faster when improvement is
integrated into existing structures, and decays in schools that do not
practise.  Embeddedness buffers turnover (see :mod:`sim.submodels.turnover`).

Institutionalization is earned school by school.  Each school month an
engaged school practising authentically is institutionalized with a monthly
hazard ``institution.hazard`` x embeddedness ** ``institution.hazard_shape``,
raised by integration into existing structures (``institution.integration_hazard``),
by the deep bench (``institution.bench_hazard`` per groomed successor) and
cut while the principal is new (tenure below ``institution.stable_leader_months``).
An institutionalized school keeps it unless, rarely, it is lost: with
hazard ``institution.loss_hazard`` in a month its work is stalled (a leader
left with no successor) or a competing initiative is under way.

Authenticity (seed 003) is read off the principles and the tools each
month: authentic when all six principles are practised (practice at or
above ``improvement.practice_threshold``), partially authentic when some
are or the tools are used (tool use at or above the same threshold),
inauthentic otherwise.  A school year counts as authentic for the
school when it ends (July) with authentic practice.

Deep bench (seed 001): in school months a working school grooms a
successor with chance ``succession.deep_bench`` x
``succession.groom_chance``, up to one successor for each seat a successor
can fill (principal and lead) and never more than it has members of at
least developing skill besides the principal.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.events import event_marks, note
from improvesim.sim.jit import (
    at_run,
    clip01_at,
    coefficients,
    kernel,
    named,
    pick,
    rule,
    step,
    team_means_of_run,
)
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import (
    ENGAGED,
    PRINCIPAL,
    SKILL_DEVELOPING,
    SUCCESSION_SEATS,
    Authenticity,
    ParamVectors,
    State,
)
from improvesim.sim.structure import LONG_SPELL, YEAR_END
from improvesim.sim.submodels.calendar import Calendar, month_of_year
from improvesim.sim.submodels.improvement import INQUIRY, MEASUREMENT

AUTHENTIC = int(Authenticity.AUTHENTIC)

#: Most successors on a school's deep bench: one for each seat a successor can fill.
MAX_BENCH = len(SUCCESSION_SEATS)


@step
def practice_quality_of_run(principles, commitment, weights, r, quality, team):
    """Write into ``quality`` (S,) the quality of practice (0-1) of every school of run r: mean
    principle practice (``principles`` (6, R, S), added in order, then divided, as np.mean does)
    times the team mean of ``commitment`` (K, R, S) with seat ``weights`` (``team`` (S,) is
    scratch), over the run's contiguous rows."""
    quality[:] = principles[0, r]
    for k in range(1, principles.shape[0]):
        row = principles[k, r]
        for s in range(quality.shape[0]):
            quality[s] = quality[s] + row[s]
    team_means_of_run(commitment, weights, r, team)
    for s in range(quality.shape[0]):
        quality[s] = quality[s] / principles.shape[0] * team[s]


def embed(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray) -> None:
    """Grow embeddedness with practice and effort, decay it without."""
    if cal.summer:
        return
    _grow_or_decay_embeddedness(
        st.embeddedness,
        (st.principles, st.commitment, st.weights, st.effort),
        busy,
        pv.cached("embed_speed_by_run", _embed_speed),
        pv.col("institution.embed_decay"),
    )


def _embed_speed(pv: ParamVectors) -> np.ndarray:
    """(R,) growth rate of embeddedness at full quality of practice, faster when
    improvement is integrated into existing structures."""
    return pv.col("institution.embed_rate") * (
        1.0 + pv.col("institution.integration_boost") * pv.col("time.integrated")
    )


@kernel
def _grow_or_decay_embeddedness(e, practice, busy, speed, decay):
    """Embeddedness ``e`` (R, S), 0-1, in place: in working (``busy``) schools
    e + speed x quality x effort x (1 - e), in the others e - decay x e
    (``speed`` and ``decay`` (R,) per month; ``practice`` the principles
    (6, R, S), commitment (K, R, S), seat weights (R, K) and effort (R, S));
    then clipped to [0, 1]."""
    principles, commitment, weights, effort = practice
    quality, team = np.empty(e.shape[1]), np.empty(e.shape[1])
    for r in range(e.shape[0]):
        practice_quality_of_run(principles, commitment, weights, r, quality, team)
        for s in range(e.shape[1]):
            x = e[r, s]
            if busy[r, s]:
                grown = quality[s] * effort[r, s]
                grown = grown * speed[r]
                grown = grown * (1.0 - x)
                grown = grown + x
            else:
                grown = x - decay[r] * x
            e[r, s] = clip01_at(grown)


class InstitutionState(NamedTuple):
    """The state arrays institutionalization reads and writes."""

    embeddedness: np.ndarray  # (R, S) 0-1
    authenticity: np.ndarray  # (R, S) Authenticity of last month
    engagement: np.ndarray  # (R, S) Engagement
    stall: np.ndarray  # (R, S) months the work stays stalled
    bench: np.ndarray  # (R, S) groomed successors
    tenure: np.ndarray  # (K, R, S) months in the seat
    initiative_months: np.ndarray  # (R,) months left of a competing initiative
    institutionalized: np.ndarray  # (R, S)
    first_institutionalized: np.ndarray  # (R, S) month, -1 if never


class InstitutionCoefficients(NamedTuple):
    """Per-run (R,) coefficients of institutionalization: the schema's ``institution.*``
    and ``time.integrated``."""

    SECTIONS = ("institution", "time")

    hazard: np.ndarray
    hazard_shape: np.ndarray
    integrated: np.ndarray
    integration_hazard: np.ndarray
    bench_hazard: np.ndarray
    stable_leader_months: np.ndarray
    new_leader_hazard: np.ndarray
    loss_hazard: np.ndarray


#: Events of :func:`institutionalize`, in the order they are noted: the rows of its event marks.
_INSTITUTION_EVENTS = ("institutionalized", "institutionalization_lost")


def institutionalize(st: State, pv: ParamVectors, cal: Calendar, draws: MonthDraws) -> None:
    """Institutionalization gained and lost in a school month (the draw ``institutionalize``)."""
    if cal.summer:
        return
    marks = event_marks(st.events, len(_INSTITUTION_EVENTS), st.engagement.shape)
    _gain_or_lose_institution(
        pick(InstitutionState, st), coefficients(InstitutionCoefficients, pv), draws.institutionalize, cal.month, marks
    )
    if st.events is not None:
        for kind, mask in zip(_INSTITUTION_EVENTS, marks, strict=True):
            note(st.events, cal.month, kind, mask)


@rule
def institution_hazard_at(c, embeddedness, bench, principal_tenure):
    """Monthly chance, 0-1, that a school practising authentically is
    institutionalized: ``hazard`` x ``embeddedness`` ** ``hazard_shape``, times
    1 + ``integration_hazard`` x integration, times 1 + ``bench_hazard`` x the
    groomed successors, times ``new_leader_hazard`` while the principal's
    tenure (months) is below ``stable_leader_months``."""
    h = c.hazard * embeddedness**c.hazard_shape
    h *= 1.0 + c.integration_hazard * c.integrated
    h *= 1.0 + c.bench_hazard * bench
    if principal_tenure < c.stable_leader_months:
        h *= c.new_leader_hazard
    return min(h, 1.0)


@rule
def institution_hazard_bound_at(c, bench):
    """An upper bound (>= 0) of :func:`institution_hazard_at` at a school with ``bench``
    successors, whatever its embeddedness (0-1) and its principal's tenure: ``hazard`` x (1 +
    ``integration_hazard`` x integration) x (1 + ``bench_hazard`` x the bench), the same products
    with embeddedness ** ``hazard_shape`` (at most 1, the shape being positive) and
    ``new_leader_hazard`` (at most 1) left out.  Each factor left out is at most 1 and rounding is
    monotonic, so a draw at or above the bound is at or above the hazard: the power need not be
    taken."""
    h = c.hazard * (1.0 + c.integration_hazard * c.integrated)
    return h * (1.0 + c.bench_hazard * bench)


@kernel
def _gain_or_lose_institution(state, coef, u, month, marks):
    """In place: a school not institutionalized, engaged and authentic last month,
    is institutionalized when its draw ``u`` (R, S) falls below
    :func:`institution_hazard_at` (the first time noted as ``month``); an
    institutionalized school whose work is stalled, or whose district runs a
    competing initiative, loses it when ``u`` falls below ``loss_hazard``.
    Marks ``marks[0]`` and ``marks[1]`` (when not empty) where it was gained or lost."""
    st = InstitutionState(*state)
    c = named(InstitutionCoefficients, coef)
    record = marks.shape[1] > 0
    R, S = st.embeddedness.shape
    for r in range(R):
        cr = at_run(c, r)
        competing = st.initiative_months[r] > 0
        for s in range(S):
            if st.institutionalized[r, s]:
                threatened = competing or st.stall[r, s] > 0
                if threatened and u[r, s] < cr.loss_hazard:
                    st.institutionalized[r, s] = False
                    if record:
                        marks[1, r, s] = True
                continue
            if st.engagement[r, s] != ENGAGED or st.authenticity[r, s] != AUTHENTIC:
                continue
            if u[r, s] >= institution_hazard_bound_at(cr, st.bench[r, s]):  # (not institutionalized)
                continue
            h = institution_hazard_at(cr, st.embeddedness[r, s], st.bench[r, s], st.tenure[PRINCIPAL, r, s])
            if u[r, s] < h:
                st.institutionalized[r, s] = True
                if st.first_institutionalized[r, s] < 0:
                    st.first_institutionalized[r, s] = month
                if record:
                    marks[0, r, s] = True


def classify_authenticity(st: State, pv: ParamVectors, month: int) -> np.ndarray:
    """Authentic, partial or inauthentic from the six principles; track fading.
    Returns the number (R, S) of principles practised."""
    marks = event_marks(st.events, len(_PRACTICE_EVENTS), st.engagement.shape)
    practised = _classify_practice(
        (st.principles, st.tools, st.practised_bits),
        pv.col("improvement.practice_threshold"),
        st.ever_authentic,
        st.months_not_authentic,
        st.authentic_years,
        st.authenticity,
        month_of_year(month) == YEAR_END,
        marks,
    )
    if st.events is not None:
        for kind, mask in zip(_PRACTICE_EVENTS, marks, strict=True):
            note(st.events, month, kind, mask)
    return practised


#: Events of :func:`classify_authenticity`, in the order they are noted: the rows of its event marks.
_PRACTICE_EVENTS = ("became_authentic", "faded", "run_charts_lapsed", "inquiry_lapsed")
_RUN_CHARTS_ROW, _INQUIRY_ROW = _PRACTICE_EVENTS.index("run_charts_lapsed"), _PRACTICE_EVENTS.index("inquiry_lapsed")
#: Bit of each principle whose lapse is an event (run charts: measurement; PDSA cycles: inquiry).
_MEASUREMENT_BIT, _INQUIRY_BIT = 1 << MEASUREMENT, 1 << INQUIRY


@step
def _practised_of_run(principles, threshold, r, counts, held):
    """Write into ``counts`` and ``held`` (S,) how many of the ``principles`` (6, R, S) each school of
    run r practises at or above ``threshold``, and which (bit k for principle k), principle by
    principle over the run's contiguous row of schools."""
    counts[:] = 0
    held[:] = 0
    for k in range(principles.shape[0]):
        row = principles[k, r]
        for s in range(counts.shape[0]):
            if row[s] >= threshold:
                counts[s] += 1
                held[s] |= 1 << k


@kernel
def _classify_practice(
    practice, threshold, ever_authentic, months_not_authentic, authentic_years, authenticity, year_end, marks
):
    """In place: a school practises a principle (``practice``: the principles
    (6, R, S), the tool use (R, S), and the bits (R, S) of the principles
    practised last month, updated) at or above the run's ``threshold``;
    authentic when it practises all, partial (1) when some or when it uses the
    tools at or above the threshold, inauthentic (0) otherwise
    (``authenticity``, int8: 0-2).  Months since
    authentic practice count up once a school has ever been authentic, back to
    0 while it is; at the ``year_end`` an authentic school counts one more
    authentic year.  Returns the (R, S) int64 number of principles practised.
    Marks (when ``marks`` is not empty) ``marks[0]`` where a school is authentic
    for the first time and ``marks[1]`` where its practice faded (``LONG_SPELL``
    months without, looked for when any school of the batch has been authentic),
    ``marks[2]`` and ``marks[3]`` where measurement or disciplined inquiry was
    practised last month and is not now."""
    principles, tools, bits = practice
    n, runs, schools = principles.shape
    record = marks.shape[1] > 0
    practised = np.empty((runs, schools), dtype=np.int64)
    anyone_ever = False
    counts, held = np.empty(schools, dtype=np.int64), np.empty(schools, dtype=np.int64)
    for r in range(runs):
        _practised_of_run(principles, threshold[r], r, counts, held)
        for s in range(schools):
            count, now = counts[s], held[s]
            if record:
                lost = bits[r, s] & ~now
                marks[_RUN_CHARTS_ROW, r, s] = (lost & _MEASUREMENT_BIT) != 0
                marks[_INQUIRY_ROW, r, s] = (lost & _INQUIRY_BIT) != 0
            bits[r, s] = now
            practised[r, s] = count
            authentic = count == n
            if record and authentic:
                marks[0, r, s] = not ever_authentic[r, s]
            # (choices of values, not branches per school)
            ever = ever_authentic[r, s] | authentic
            ever_authentic[r, s] = ever
            anyone_ever |= ever
            # one more month since authentic practice once ever authentic, unless practised now
            since = months_not_authentic[r, s]
            months_not_authentic[r, s] = 0 if authentic else (since + 1 if ever else since)
            authentic_years[r, s] += 1 if year_end & authentic else 0
            some = (count > 0) | (tools[r, s] >= threshold[r])
            authenticity[r, s] = (1 if authentic else 0) + (1 if some else 0)
    if record and anyone_ever:  # (otherwise no count reaches the spell)
        for r in range(runs):
            for s in range(schools):
                marks[1, r, s] = months_not_authentic[r, s] == LONG_SPELL
    return practised


def grow_bench(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray, draws: MonthDraws) -> None:
    """Groom successors for the deep bench (the draw ``groom_successor``)."""
    if cal.summer:
        return
    marks = event_marks(st.events, 1, st.engagement.shape)
    chance = pv.cached("groom_chance_by_run", _groom_chance)
    _groom_successors(st.bench, st.skill, busy, draws.groom_successor, chance, marks)
    if st.events is not None:
        note(st.events, cal.month, "bench_grew", marks[0])


def _groom_chance(pv: ParamVectors) -> np.ndarray:
    """Monthly chance (R,) that a working school grooms a successor: the strength
    of the succession plan times the chance under a full plan."""
    return pv.col("succession.deep_bench") * pv.col("succession.groom_chance")


@kernel
def _groom_successors(bench, skill, busy, u, chance, marks):
    """In place: a working (``busy``) school grooms a successor when its uniform
    ``u`` (R, S) falls below the monthly ``chance`` (R,, 0-1), while its
    ``bench`` holds fewer than ``MAX_BENCH`` and fewer than its members besides
    the principal with at least developing ``skill`` (K, R, S).  Marks
    ``marks[0]`` where a school groomed one (when ``marks`` is not empty)."""
    record = marks.shape[1] > 0
    for r in range(bench.shape[0]):
        rate = chance[r]
        for s in range(bench.shape[1]):
            if busy[r, s] and u[r, s] < rate:
                skilled = 0
                for k in range(PRINCIPAL + 1, skill.shape[0]):
                    if skill[k, r, s] >= SKILL_DEVELOPING:
                        skilled += 1
                if bench[r, s] < MAX_BENCH and skilled > bench[r, s]:
                    bench[r, s] += 1
                    if record:
                        marks[0, r, s] = True
