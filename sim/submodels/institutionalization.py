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
successor with chance ``succession.deep_bench / 6``, up to two successors
and never more than it has members of at least developing skill besides
the principal.
"""

from __future__ import annotations

import numpy as np

from sim.events import note
from sim.state import (
    PRINCIPAL,
    SKILL_DEVELOPING,
    ParamVectors,
    State,
    anything,
    clip01,
    frozen,
    spread_over_schools,
    team_mean_of,
)
from sim.submodels.calendar import Calendar
from sim.submodels.sensemaking import LONG_SPELL

MAX_BENCH = 2
#: Last month (July) of the school year, when ``State.authentic_years`` counts it.
YEAR_END = 11
#: Monthly chance of grooming a successor under a full succession plan.
BENCH_RATE_SCALE = 1.0 / 6.0


def practice_quality(st: State) -> np.ndarray:
    """(R, S) quality of practice: mean principle practice x team commitment."""
    # (the mean over principles as np.mean computes it: a sum along the axis, then a division)
    return np.add.reduce(st.principles, axis=0) / st.principles.shape[0] * team_mean_of(st, "commitment")


def embed(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray) -> None:
    """Grow embeddedness with authentic practice, decay it without."""
    if cal.summer:
        return
    e = st.embeddedness
    # working schools: e + speed x quality x (1 - e); the others: e - decay x e
    grown = practice_quality(st)
    grown *= pv.cached("embed_speed", _embed_speed)
    grown *= 1.0 - e
    grown += e
    decayed = pv.full["institution.embed_decay"] * e
    np.subtract(e, decayed, out=decayed)
    np.copyto(grown, decayed, where=~busy)
    st.embeddedness[:] = clip01(grown)


def _embed_speed(pv: ParamVectors) -> np.ndarray:
    speed = pv["institution.embed_rate"] * (1.0 + pv["institution.integration_boost"] * pv["time.integrated"])
    return spread_over_schools(speed, pv.schools)


def institutionalize(st: State, pv: ParamVectors, month: int) -> None:
    """Count months embedded and flag institutionalized schools."""
    above = st.embeddedness >= pv.full["institution.threshold"]
    if anything(above):
        np.multiply(st.embedded_months + 1, above, out=st.embedded_months)  # one more month, or back to 0
    elif anything(st.embedded_months):
        st.embedded_months[:] = 0
    now = st.embedded_months >= pv.cached("min_months_whole", _min_months_whole)
    if anything(now):
        first = now & (st.first_institutionalized < 0)
        np.copyto(st.first_institutionalized, month, where=first)
        note(st.events, month, "institutionalized", now & ~st.institutionalized)
    st.institutionalized[:] = now


def _min_months_whole(pv: ParamVectors) -> np.ndarray:
    """``institution.min_months`` rounded up, (R, S) integers: a whole number of
    months reaches it exactly when it reaches the rounded-up value (and comparing
    integers with integers is cheaper)."""
    return frozen(np.ceil(pv.full["institution.min_months"]).astype(np.int64))


def classify_authenticity(st: State, pv: ParamVectors, month: int) -> np.ndarray:
    """Authentic, partial or inauthentic from the six principles; track fading.
    Returns the number (R, S) of principles practised."""
    practised = (st.principles >= pv.full["improvement.practice_threshold"]).sum(axis=0)
    authentic = practised == st.principles.shape[0]
    if st.events is not None:
        note(st.events, month, "became_authentic", authentic & ~st.ever_authentic)
    st.ever_authentic |= authentic
    if anything(st.ever_authentic):  # (otherwise every count stays zero)
        st.months_not_authentic += st.ever_authentic  # one more month since authentic practice,
        np.copyto(st.months_not_authentic, 0, where=authentic)  # unless practised now
        if st.events is not None:
            note(st.events, month, "faded", st.months_not_authentic == LONG_SPELL)
    if month % 12 == YEAR_END:
        st.authentic_years += authentic
    # inauthentic (0) + some principle practised (1) + all practised (1)
    np.add(authentic.view(np.int8), (practised > 0).view(np.int8), out=st.authenticity)
    return practised


def _bench_rate(pv: ParamVectors) -> np.ndarray:
    """(R, S) monthly chance of grooming a successor."""
    return spread_over_schools(pv["succession.deep_bench"] * BENCH_RATE_SCALE, pv.schools)


def grow_bench(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray, u: np.ndarray) -> None:
    """Groom successors for the deep bench; ``u`` is (R, S)."""
    if cal.summer:
        return
    grows = busy & (u < pv.cached("bench_rate", _bench_rate))
    if not anything(grows):
        return
    skilled = (st.skill[PRINCIPAL + 1 :] >= SKILL_DEVELOPING).sum(axis=0)
    grows &= (st.bench < MAX_BENCH) & (skilled > st.bench)
    st.bench += grows
    note(st.events, cal.month, "bench_grew", grows)
