"""Network and knowledge: convenings spread what works between schools.

At a convening, participating schools close part of the gap between their
practice and understanding and those of the network's bright spots
(schools with good recent results).  The pull is ``knowledge.spread_rate``
times the hub's capacity times the strength of the common aim: top-down
support provides a common aim, and full school autonomy (every school its
own aim) halves it (seed 001: a common aim makes networking work).
Attending also lifts the practice of organizing as a network.
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.jit import kernel
from improvesim.sim.state import ENGAGED, N_PRINCIPLES, PAUSED, ParamVectors, State, anything
from improvesim.sim.submodels.improvement import NETWORKS

#: Recent results above which a school is a bright spot.
BRIGHT_SPOT_RESULTS = 0.3


def common_aim(pv: ParamVectors) -> np.ndarray:
    """Strength (R, 1) of the network's common aim, 0-1."""
    return pv["governance.top_down_support"] * (1.0 - 0.5 * pv["governance.school_autonomy"])


def _aim_strength(pv: ParamVectors) -> np.ndarray:
    """Weight (R,) of the common aim in the pull of a convening, 0.25-1."""
    return pv.cached("aim_strength_by_run", lambda pv: (0.25 + 0.75 * common_aim(pv))[:, 0])


def spread_strength(st: State, pv: ParamVectors) -> np.ndarray:
    """(R, 1) share of the gap to bright spots closed at this month's convening."""
    strength = np.empty(st.runs)
    _spread_strengths(strength, st.convening, st.hub_capacity, pv.col("knowledge.spread_rate"), _aim_strength(pv))
    return strength[:, None]


@kernel
def _spread_strength_at(convening, hub_capacity, spread_rate, aim_strength):
    """Share (0-1) of the gap to bright spots one run's convening closes: none
    without a convening, else ``spread_rate x hub_capacity x aim_strength``."""
    held = (1.0 if convening else 0.0) * hub_capacity
    return spread_rate * held * aim_strength


@kernel
def _spread_strengths(strength, convening, hub_capacity, spread_rate, aim_strength):
    """:func:`_spread_strength_at` of every run, written to ``strength`` (R,)."""
    for r in range(strength.shape[0]):
        strength[r] = _spread_strength_at(convening[r], hub_capacity[r], spread_rate[r], aim_strength[r])


def network(st: State, pv: ParamVectors) -> None:
    """Spread bright spots' practice and understanding at a convening."""
    if not anything(st.convening):
        return
    bright_practice = np.empty((N_PRINCIPLES + 1,) + st.understanding.shape)
    _bright_spot_practice(st.engagement, st.results, st.principles, st.understanding, bright_practice)
    # (float sums over the schools stay NumPy's pairwise sums, in NumPy)
    totals = bright_practice.sum(axis=2)
    _spread_from_bright_spots(
        st.principles,
        st.understanding,
        st.engagement,
        st.results,
        st.convening,
        st.hub_capacity,
        pv.col("knowledge.spread_rate"),
        _aim_strength(pv),
        totals,
    )


@kernel
def _is_bright_spot(engagement, results):
    """Whether a school is a bright spot: participating, with recent results above 0.3."""
    return engagement in (ENGAGED, PAUSED) and results > BRIGHT_SPOT_RESULTS


@kernel
def _bright_spot_practice(engagement, results, principles, understanding, out):
    """Bright spots' principles (6, R, S) and understanding (R, S), stacked in
    ``out`` (7, R, S), others' zeroed (values times 1.0 or 0.0)."""
    runs, schools = engagement.shape
    for r in range(runs):
        for s in range(schools):
            bright = 1.0 if _is_bright_spot(engagement[r, s], results[r, s]) else 0.0
            for k in range(principles.shape[0]):
                out[k, r, s] = principles[k, r, s] * bright
            out[principles.shape[0], r, s] = understanding[r, s] * bright


@kernel
def _spread_from_bright_spots(
    principles, understanding, engagement, results, convening, hub_capacity, spread_rate, aim_strength, totals
):
    """Move participating schools' principles (6, R, S) and understanding
    (R, S) toward the bright spots' means, and lift attendees' networking.

    ``totals`` (7, R) are the bright spots' summed principles and
    understanding.  A participating school closes the spread strength's share
    of a positive gap to each mean (nothing in a run without bright spots),
    then the same share of its gap to full networking practice.
    """
    runs, schools = engagement.shape
    n_principles = principles.shape[0]
    for r in range(runs):
        n_bright = 0
        for s in range(schools):
            n_bright += _is_bright_spot(engagement[r, s], results[r, s])
        any_bright = 1.0 if n_bright > 0 else 0.0
        n_bright = max(n_bright, 1)
        strength = _spread_strength_at(convening[r], hub_capacity[r], spread_rate[r], aim_strength[r])
        for s in range(schools):
            attend = 1.0 if engagement[r, s] in (ENGAGED, PAUSED) else 0.0
            pull = strength * attend * any_bright
            for k in range(n_principles):
                target = totals[k, r] / n_bright
                principles[k, r, s] = principles[k, r, s] + pull * max(target - principles[k, r, s], 0.0)
            target = totals[n_principles, r] / n_bright
            understanding[r, s] = understanding[r, s] + pull * max(target - understanding[r, s], 0.0)
            attended = strength * attend
            principles[NETWORKS, r, s] = principles[NETWORKS, r, s] + attended * (1.0 - principles[NETWORKS, r, s])
