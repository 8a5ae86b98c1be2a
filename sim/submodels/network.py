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

from sim.state import ParamVectors, State, anything, engagement_masks
from sim.submodels.improvement import NETWORKS

#: Recent results above which a school is a bright spot.
BRIGHT_SPOT_RESULTS = 0.3


def common_aim(pv: ParamVectors) -> np.ndarray:
    """Strength (R, 1) of the network's common aim, 0-1."""
    return pv["governance.top_down_support"] * (1.0 - 0.5 * pv["governance.school_autonomy"])


def spread_strength(st: State, pv: ParamVectors) -> np.ndarray:
    """(R, 1) share of the gap to bright spots closed at this month's convening."""
    held = (st.convening * st.hub_capacity)[:, None]
    return pv["knowledge.spread_rate"] * held * pv.cached("aim_strength", lambda pv: 0.25 + 0.75 * common_aim(pv))


def network(st: State, pv: ParamVectors) -> None:
    """Spread bright spots' practice and understanding at a convening."""
    if not anything(st.convening):
        return
    attend = engagement_masks(st).participating
    bright = attend & (st.results > BRIGHT_SPOT_RESULTS)
    n_bright = np.maximum(bright.sum(axis=1), 1)[:, None]
    strength = spread_strength(st, pv)
    pull = strength * attend * bright.any(axis=1, keepdims=True)
    target_p = (st.principles * bright).sum(axis=2, keepdims=True) / n_bright  # (6, R, 1)
    target_u = (st.understanding * bright).sum(axis=1, keepdims=True) / n_bright
    st.principles += pull * np.maximum(target_p - st.principles, 0.0)
    st.understanding += pull * np.maximum(target_u - st.understanding, 0.0)
    attended = strength * attend
    st.principles[NETWORKS] += attended * (1.0 - st.principles[NETWORKS])
