"""Institutionalization, authenticity and the deep bench.

Embeddedness (seed 001) is a stock of routine: in school months it grows in
working schools with the quality of their practice (mean principle practice
times team commitment), faster when improvement is integrated into existing
structures, and decays in schools that do not practise.  A school whose
embeddedness has stayed above ``institution.threshold`` for
``institution.min_months`` months in a row is institutionalized.
Embeddedness buffers turnover (see :mod:`sim.submodels.turnover`).

Authenticity (seed 003) is read off the principles each month: authentic
when all six are practised (practice at or above
``improvement.practice_threshold``), partially authentic when some are,
inauthentic when none are.  A school year counts as authentic for the
school when it ends (July) with authentic practice.

Deep bench (seed 001): in school months a working school grooms a
successor with chance ``succession.deep_bench`` x
``succession.groom_chance``, up to one successor for each seat a successor
can fill (principal and lead) and never more than it has members of at
least developing skill besides the principal.
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.events import event_marks, note
from improvesim.sim.jit import clip01_at, kernel, team_mean_at
from improvesim.sim.rng import MonthDraws
from improvesim.sim.state import PRINCIPAL, SKILL_DEVELOPING, SUCCESSION_SEATS, ParamVectors, State
from improvesim.sim.structure import LONG_SPELL, YEAR_END
from improvesim.sim.submodels.calendar import Calendar, month_of_year

#: Most successors on a school's deep bench: one for each seat a successor can fill.
MAX_BENCH = len(SUCCESSION_SEATS)


@kernel
def practice_quality_at(principles, commitment, weights, r, s):
    """Quality of practice (0-1) of run r, school s: mean principle practice
    (principles (6, R, S), added in order, then divided, as np.mean does) times
    the team mean of ``commitment`` (K, R, S) with seat ``weights``."""
    total = principles[0, r, s]
    for k in range(1, principles.shape[0]):
        total = total + principles[k, r, s]
    return total / principles.shape[0] * team_mean_at(commitment, weights, r, s)


def embed(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray) -> None:
    """Grow embeddedness with authentic practice, decay it without."""
    if cal.summer:
        return
    _grow_or_decay_embeddedness(
        st.embeddedness,
        st.principles,
        st.commitment,
        st.weights,
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
def _grow_or_decay_embeddedness(e, principles, commitment, weights, busy, speed, decay):
    """Embeddedness ``e`` (R, S), 0-1, in place: in working (``busy``) schools
    e + speed x quality x (1 - e), in the others e - decay x e (``speed`` and
    ``decay`` (R,) per month); then clipped to [0, 1]."""
    for r in range(e.shape[0]):
        for s in range(e.shape[1]):
            x = e[r, s]
            if busy[r, s]:
                grown = practice_quality_at(principles, commitment, weights, r, s) * speed[r]
                grown = grown * (1.0 - x)
                grown = grown + x
            else:
                grown = x - decay[r] * x
            e[r, s] = clip01_at(grown)


def institutionalize(st: State, pv: ParamVectors, month: int) -> None:
    """Count months embedded and flag institutionalized schools."""
    marks = event_marks(st.events, 1, st.engagement.shape)
    _count_embedded_months(
        st.embeddedness,
        pv.col("institution.threshold"),
        pv.cached("min_months_by_run", _min_months_whole),
        st.embedded_months,
        st.institutionalized,
        st.first_institutionalized,
        month,
        marks,
    )
    if st.events is not None:
        note(st.events, month, "institutionalized", marks[0])


@kernel
def _count_embedded_months(
    embeddedness, threshold, min_months, embedded_months, institutionalized, first_institutionalized, month, marks
):
    """In place: one more month embedded (``embeddedness`` at or above the run's
    ``threshold``) or back to 0; institutionalized after ``min_months`` (R,) whole
    months, the first time noted as ``month``.  Marks ``marks[0]`` where a school
    is institutionalized that was not last month (when ``marks`` is not empty)."""
    record = marks.shape[1] > 0
    for r in range(embeddedness.shape[0]):
        for s in range(embeddedness.shape[1]):
            if embeddedness[r, s] >= threshold[r]:
                embedded_months[r, s] += 1
            else:
                embedded_months[r, s] = 0
            now = embedded_months[r, s] >= min_months[r]
            if now:
                if first_institutionalized[r, s] < 0:
                    first_institutionalized[r, s] = month
                if record:
                    marks[0, r, s] = not institutionalized[r, s]
            institutionalized[r, s] = now


def _min_months_whole(pv: ParamVectors) -> np.ndarray:
    """``institution.min_months`` rounded up, (R,) integers: a whole number of
    months reaches it exactly when it reaches the rounded-up value (and comparing
    integers with integers is cheaper)."""
    return np.ceil(pv.col("institution.min_months")).astype(np.int64)


def classify_authenticity(st: State, pv: ParamVectors, month: int) -> np.ndarray:
    """Authentic, partial or inauthentic from the six principles; track fading.
    Returns the number (R, S) of principles practised."""
    marks = event_marks(st.events, len(_PRACTICE_EVENTS), st.engagement.shape)
    practised = _classify_practice(
        st.principles,
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
_PRACTICE_EVENTS = ("became_authentic", "faded")


@kernel
def _classify_practice(
    principles, threshold, ever_authentic, months_not_authentic, authentic_years, authenticity, year_end, marks
):
    """In place: a school practises a principle at or above the run's
    ``threshold``; authentic when it practises all, partial (1) when some,
    inauthentic (0) when none (``authenticity``, int8: 0-2).  Months since
    authentic practice count up once a school has ever been authentic, back to
    0 while it is; at the ``year_end`` an authentic school counts one more
    authentic year.  Returns the (R, S) int64 number of principles practised.
    Marks (when ``marks`` is not empty) ``marks[0]`` where a school is authentic
    for the first time and ``marks[1]`` where its practice faded (``LONG_SPELL``
    months without, looked for when any school of the batch has been authentic)."""
    n, runs, schools = principles.shape
    record = marks.shape[1] > 0
    practised = np.empty((runs, schools), dtype=np.int64)
    anyone_ever = False
    for r in range(runs):
        for s in range(schools):
            count = 0
            for k in range(n):
                if principles[k, r, s] >= threshold[r]:
                    count += 1
            practised[r, s] = count
            authentic = count == n
            if authentic:
                if record:
                    marks[0, r, s] = not ever_authentic[r, s]
                ever_authentic[r, s] = True
            if ever_authentic[r, s]:
                anyone_ever = True
                months_not_authentic[r, s] += 1  # one more month since authentic practice,
                if authentic:  # unless practised now
                    months_not_authentic[r, s] = 0
            if year_end and authentic:
                authentic_years[r, s] += 1
            authenticity[r, s] = (1 if authentic else 0) + (1 if count > 0 else 0)
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
