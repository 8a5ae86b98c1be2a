"""Network and knowledge: convenings spread what works between schools.

At a convening, participating schools close part of the gap between their
practice and understanding and those of the network's bright spots
(schools with recent results above ``knowledge.bright_spot_results``).  The
pull is ``knowledge.spread_rate`` times the hub's capacity times the
strength of the common aim: top-down support provides a common aim, and
full school autonomy (every school its own aim) weakens it by
``knowledge.autonomy_aim_loss`` (seed 001: a common aim makes networking work).
Attending also lifts the practice of organizing as a network.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.jit import coefficients, kernel, named, pick, rule, step, sum_last_axis
from improvesim.sim.state import ENGAGED, N_PRINCIPLES, PAUSED, ParamVectors, State, anything
from improvesim.sim.submodels.improvement import NETWORKS


class NetworkState(NamedTuple):
    """The state arrays a convening reads and writes."""

    principles: np.ndarray  # (6, R, S) 0-1
    understanding: np.ndarray  # (R, S) 0-1
    engagement: np.ndarray  # (R, S) Engagement
    results: np.ndarray  # (R, S) recent results, -1 to 1
    convening: np.ndarray  # (R,) a convening is held
    hub_capacity: np.ndarray  # (R,) 0-1


def common_aim(pv: ParamVectors) -> np.ndarray:
    """Strength (R, 1) of the network's common aim, 0-1."""
    autonomy_loss = pv["knowledge.autonomy_aim_loss"] * pv["governance.school_autonomy"]
    return pv["governance.top_down_support"] * (1.0 - autonomy_loss)


def _aim_strength(pv: ParamVectors) -> np.ndarray:
    """Weight (R,) of the common aim in the pull of a convening, from ``aim_floor`` to 1."""
    return (pv["knowledge.aim_floor"] + pv["knowledge.aim_weight"] * common_aim(pv))[:, 0]


class NetworkCoefficients(NamedTuple):
    """Per-run (R,) coefficients of a convening, with the weight of the common aim."""

    SECTIONS = ("knowledge",)
    DERIVED = {"aim_strength": _aim_strength}

    spread_rate: np.ndarray
    bright_spot_results: np.ndarray
    aim_strength: np.ndarray


def network_coefficients(pv: ParamVectors) -> np.ndarray:
    """:class:`NetworkCoefficients` of a batch, as the (fields, R) array kernels take."""
    return coefficients(NetworkCoefficients, pv)


@rule
def spread_strength_at(convening, hub_capacity, spread_rate, aim_strength):
    """Share (0-1) of the gap to bright spots one run's convening closes: none
    without a convening, else ``spread_rate x hub_capacity x aim_strength``."""
    held = (1.0 if convening else 0.0) * hub_capacity
    return spread_rate * held * aim_strength


def network(st: State, pv: ParamVectors) -> None:
    """Spread bright spots' practice and understanding at a convening."""
    if not anything(st.convening):
        return
    _convene(pick(NetworkState, st), network_coefficients(pv))


@kernel
def _convene(state, coef):
    """A convening month on the state (:class:`NetworkState`), in place, in the
    runs holding one: the bright spots' practice summed over schools (NumPy's
    pairwise sums, :func:`sim.jit.sum_last_axis`), then spread."""
    st = NetworkState(*state)
    runs, schools = st.engagement.shape
    bright_practice = np.empty((N_PRINCIPLES + 1, runs, schools))
    _bright_spot_practice(state, coef, bright_practice)
    totals = np.zeros((N_PRINCIPLES + 1, runs))
    sum_last_axis(bright_practice, st.convening, totals)
    _spread_from_bright_spots(state, coef, totals)


@rule
def _is_bright_spot(engagement, results, bright_spot_results):
    """Whether a school is a bright spot: participating, with recent results above ``bright_spot_results``."""
    return engagement in (ENGAGED, PAUSED) and results > bright_spot_results


@step
def _bright_spot_practice(state, coef, out):
    """Bright spots' principles (6, R, S) and understanding (R, S), stacked in
    ``out`` (7, R, S), others' zeroed (values times 1.0 or 0.0), in the runs
    holding a convening (the other runs' are left as they were: nothing reads them)."""
    st = NetworkState(*state)
    c = named(NetworkCoefficients, coef)
    principles = st.principles
    runs, schools = st.engagement.shape
    bright = np.empty(schools)
    for r in range(runs):  # run by run, principle by principle over the run's contiguous row of schools
        if not st.convening[r]:
            continue
        for s in range(schools):
            is_bright = _is_bright_spot(st.engagement[r, s], st.results[r, s], c.bright_spot_results[r])
            bright[s] = 1.0 if is_bright else 0.0
        for k in range(principles.shape[0]):
            row, into = principles[k, r], out[k, r]
            for s in range(schools):
                into[s] = row[s] * bright[s]
        for s in range(schools):
            out[principles.shape[0], r, s] = st.understanding[r, s] * bright[s]


@step
def _spread_from_bright_spots(state, coef, totals):
    """Move participating schools' principles (6, R, S) and understanding
    (R, S) toward the bright spots' means, and lift attendees' networking.

    ``totals`` (7, R) are the bright spots' summed principles and
    understanding.  A participating school closes the spread strength's share
    of a positive gap to each mean (nothing in a run without bright spots),
    then the same share of its gap to full networking practice.  Runs without
    a convening are skipped (their strength is 0: each step would add 0 x a gap).
    """
    st = NetworkState(*state)
    c = named(NetworkCoefficients, coef)
    principles, understanding, engagement = st.principles, st.understanding, st.engagement
    runs, schools = engagement.shape
    n_principles = principles.shape[0]
    attend, pull = np.empty(schools), np.empty(schools)
    for r in range(runs):
        if not st.convening[r]:
            continue
        n_bright = 0
        for s in range(schools):
            n_bright += _is_bright_spot(engagement[r, s], st.results[r, s], c.bright_spot_results[r])
        any_bright = 1.0 if n_bright > 0 else 0.0
        n_bright = max(n_bright, 1)
        strength = spread_strength_at(st.convening[r], st.hub_capacity[r], c.spread_rate[r], c.aim_strength[r])
        for s in range(schools):
            attend[s] = 1.0 if engagement[r, s] in (ENGAGED, PAUSED) else 0.0
            pull[s] = strength * attend[s] * any_bright
        # principle by principle over the run's contiguous row of schools (a school's principles
        # move toward the means first, then its networking practice, as school by school)
        for k in range(n_principles):
            target = totals[k, r] / n_bright
            row = principles[k, r]
            for s in range(schools):
                row[s] = row[s] + pull[s] * max(target - row[s], 0.0)
        target = totals[n_principles, r] / n_bright
        networks = principles[NETWORKS, r]
        for s in range(schools):
            understanding[r, s] = understanding[r, s] + pull[s] * max(target - understanding[r, s], 0.0)
            attended = strength * attend[s]
            networks[s] = networks[s] + attended * (1.0 - networks[s])
