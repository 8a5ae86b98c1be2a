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
inauthentic when none are.

Deep bench (seed 001): in school months a working school grooms a
successor with chance ``succession.deep_bench / 6``, up to two successors
and never more than it has members of at least developing skill besides
the principal.
"""

from __future__ import annotations

import numpy as np

from sim.events import note
from sim.state import PRINCIPAL, SKILL_DEVELOPING, Authenticity, ParamVectors, State, clip01, team_mean
from sim.submodels.calendar import Calendar
from sim.submodels.sensemaking import LONG_SPELL

MAX_BENCH = 2
#: Monthly chance of grooming a successor under a full succession plan.
BENCH_RATE_SCALE = 1.0 / 6.0


def practice_quality(st: State) -> np.ndarray:
    """(R, S) quality of practice: mean principle practice x team commitment."""
    return st.principles.mean(axis=0) * team_mean(st.commitment)


def embed(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray) -> None:
    """Grow embeddedness with authentic practice, decay it without."""
    if cal.summer:
        return
    e = st.embeddedness
    speed = pv["institution.embed_rate"] * (1.0 + pv["institution.integration_boost"] * pv["time.integrated"])
    grow = speed * practice_quality(st) * (1.0 - e)
    decay = pv["institution.embed_decay"] * e
    st.embeddedness[:] = clip01(np.where(busy, e + grow, e - decay))


def institutionalize(st: State, pv: ParamVectors, month: int) -> None:
    """Count months embedded and flag institutionalized schools."""
    above = st.embeddedness >= pv["institution.threshold"]
    st.embedded_months[:] = np.where(above, st.embedded_months + 1, 0)
    now = st.embedded_months >= pv["institution.min_months"]
    first = now & (st.first_institutionalized < 0)
    st.first_institutionalized[:] = np.where(first, month, st.first_institutionalized)
    note(st.events, month, "institutionalized", now & ~st.institutionalized)
    st.institutionalized[:] = now


def classify_authenticity(st: State, pv: ParamVectors, month: int) -> None:
    """Authentic, partial or inauthentic from the six principles; track fading."""
    practised = (st.principles >= pv["improvement.practice_threshold"]).sum(axis=0)
    cls = np.where(
        practised == st.principles.shape[0],
        Authenticity.AUTHENTIC,
        np.where(practised > 0, Authenticity.PARTIAL, Authenticity.INAUTHENTIC),
    )
    authentic = cls == Authenticity.AUTHENTIC
    note(st.events, month, "became_authentic", authentic & ~st.ever_authentic)
    st.ever_authentic |= authentic
    st.months_not_authentic[:] = np.where(authentic, 0, st.months_not_authentic + st.ever_authentic)
    note(st.events, month, "faded", st.months_not_authentic == LONG_SPELL)
    st.authenticity[:] = cls


def grow_bench(st: State, pv: ParamVectors, cal: Calendar, busy: np.ndarray, u: np.ndarray) -> None:
    """Groom successors for the deep bench; ``u`` is (R, S)."""
    if cal.summer:
        return
    skilled = (st.skill[PRINCIPAL + 1 :] >= SKILL_DEVELOPING).sum(axis=0)
    eligible = busy & (st.bench < MAX_BENCH) & (skilled > st.bench)
    grows = eligible & (u < pv["succession.deep_bench"] * BENCH_RATE_SCALE)
    st.bench += grows
    note(st.events, cal.month, "bench_grew", grows)
