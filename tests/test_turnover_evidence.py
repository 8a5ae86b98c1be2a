"""Turnover closer to the evidence (issue 14, item 7): three mechanisms behind
schema parameters, switched on by the second edition's defaults; each can be
switched off (its first-edition value), and then leaves the output as it was.

- After a principal leaves, the lead and the teachers of that school leave
  more readily (``turnover.after_principal_rise`` for
  ``turnover.after_principal_months``; Bartanen, Grissom and Rogers 2019).
- A teammate promoted from the deep bench leaves a seat that a newcomer
  fills (``succession.refill_promoted_seat``).
- A pandemic raises exits only once it has been under way for
  ``turnover.pandemic_delay`` months (Bacher-Hicks, Chi and Orellana 2023).

Rule tests on hand-made states, then seeded replicates of whole runs, where
staff turnover is watched month by month (the production function, wrapped
to record what it did).  Tolerances are three standard errors from the
replicates' spread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import draws, small

from improvesim.sim import engine
from improvesim.sim.engine import Engine, simulate
from improvesim.sim.params import Params, Shock, defaults, load_scenario
from improvesim.sim.rng import derive_seeds
from improvesim.sim.schema import BY_NAME
from improvesim.sim.state import ASSISTANT_PRINCIPAL, LEAD, PRINCIPAL, ParamVectors, blank_state
from improvesim.sim.submodels import calendar, turnover

AUGUST = 0
#: Standard errors a replicate estimate may stray from what the mechanism stands for.
Z = 3.0

#: Every mechanism of this file switched off (the first edition's values).
ALL_OFF = {
    "turnover.after_principal_rise": 0.0,
    "succession.refill_promoted_seat": 0,
    "turnover.pandemic_delay": 0,
    "turnover.arrival_fatigue": 0.0,
}

# --- the defaults are the second edition's -----------------------------------------------


def test_the_second_edition_switches_every_mechanism_on_at_its_documented_value():
    assert BY_NAME["turnover.after_principal_rise"].default > 0.0
    assert BY_NAME["succession.refill_promoted_seat"].default == 1
    assert BY_NAME["turnover.pandemic_delay"].default == 5
    assert BY_NAME["turnover.pandemic_rise"].default == pytest.approx(17.5 / 15.0 - 1.0, abs=5e-4)


def test_the_documented_values_are_in_range():
    """The second edition can switch each on at its documented value."""
    rise, delay = BY_NAME["turnover.pandemic_rise"], BY_NAME["turnover.pandemic_delay"]
    assert rise.low <= 17.5 / 15.0 - 1.0 <= rise.high
    assert delay.low <= 5 <= delay.high
    assert BY_NAME["succession.refill_promoted_seat"].high == 1
    assert BY_NAME["turnover.after_principal_rise"].high > 0


@pytest.mark.parametrize(
    "unused",
    [
        {"turnover.after_principal_months": 36},  # how long a rise of 0 lasts
        {"turnover.pandemic_delay": 5, "turnover.pandemic_rise": 0.0},  # when a rise of 0 starts
    ],
)
def test_an_off_mechanism_leaves_every_byte(unused):
    """With a mechanism off, its other parameter changes nothing (the golden
    files, tests/golden, hold the first edition's bytes, viano2024_case's
    pandemic among them)."""
    base = load_scenario("viano2024_case").with_overrides({**ALL_OFF, "succession.deep_bench": 1.0})
    if "turnover.pandemic_rise" in unused:
        base = base.with_overrides({"turnover.pandemic_rise": 0.0})
    seeds = derive_seeds(1, 8)
    a = simulate([base] * 8, seeds, record_schools=True, record_events=True)
    b = simulate([base.with_overrides(unused)] * 8, seeds, record_schools=True, record_events=True)
    assert a.district.tobytes() == b.district.tobytes()
    assert all(a.schools[k].tobytes() == b.schools[k].tobytes() for k in a.schools)
    assert a.events == b.events


# --- after the principal leaves: rules ------------------------------------------------


def seat_draws(st, pv, times):
    """Exit draws (K, R, S): each seat's August hazard ``times`` a factor."""
    hazard = turnover.hazards_by_month(turnover.seat_rates(pv, st.team_size), pv["turnover.summer_share"])[AUGUST]
    return np.broadcast_to(hazard * times, st.skill.shape).copy()


def test_the_lead_and_teachers_leave_more_readily_while_a_school_is_unsettled():
    pv, st = small({"turnover.after_principal_rise": 1.0, "turnover.after_principal_months": 3}, schools=4)
    st.unsettled_months[0, :2] = 2
    u = seat_draws(st, pv, times=1.5)  # above the hazard, below it doubled
    leaves = turnover.staff_turnover(st, pv, calendar.calendar_and_shocks(st, pv, AUGUST), draws(st, staff_exit=u))
    assert leaves[LEAD:, 0, :2].all() and not leaves[LEAD:, 0, 2:].any()
    assert not leaves[[PRINCIPAL, ASSISTANT_PRINCIPAL]].any()  # administrators are not raised
    assert st.unsettled_months[0].tolist() == [1, 1, 0, 0]  # counts down


def test_a_principal_who_leaves_unsettles_the_school_for_the_set_months():
    months = 3
    pv, st = small({"turnover.after_principal_rise": 1.0, "turnover.after_principal_months": months}, schools=2)
    cal = calendar.calendar_and_shocks(st, pv, AUGUST)
    u = np.full(st.skill.shape, 0.99)
    u[PRINCIPAL, 0, 0] = 0.0  # school 0 loses its principal
    turnover.staff_turnover(st, pv, cal, draws(st, staff_exit=u))
    after = [st.unsettled_months[0].tolist()]
    for _ in range(months + 1):
        turnover.staff_turnover(st, pv, cal, draws(st, staff_exit=0.99))
        after.append(st.unsettled_months[0].tolist())
    # raised in the `months` months after the exit (unsettled before each of them), then settled
    assert after == [[3, 0], [2, 0], [1, 0], [0, 0], [0, 0]]


# --- a promoted teammate's seat: rules ------------------------------------------------


NOVICE = {"succession.onboarding": 0.0, "knowledge.management": 0.0}


def principal_leaves(refill, bench=1, lead_leaves=False):
    pv, st = small({**NOVICE, "succession.refill_promoted_seat": refill}, schools=3)
    st.bench[:] = bench
    st.skill[:] = 0.5
    st.skill[LEAD] = 0.9  # the most skilled teammate: the successor
    st.commitment[:] = 0.6
    st.tenure[:] = 24
    u = np.full(st.skill.shape, 0.99)
    u[PRINCIPAL] = 0.0
    if lead_leaves:
        u[LEAD] = 0.0
    turnover.staff_turnover(st, pv, calendar.calendar_and_shocks(st, pv, AUGUST), draws(st, staff_exit=u))
    return pv, st


def novice_range(pv):
    """Lowest and highest skill of a newcomer with no onboarding or documented knowledge."""
    initial, low = pv["district.initial_skill"][0, 0], pv["turnover.newcomer_low"][0, 0]
    return initial * low, initial * (low + 1.0)


def test_a_promoted_leads_old_seat_holds_a_novice():
    pv, st = principal_leaves(refill=1)
    lowest, highest = novice_range(pv)
    assert ((st.skill[LEAD] >= lowest) & (st.skill[LEAD] < highest)).all() and (st.tenure[LEAD] == 0).all()
    assert (st.skill[PRINCIPAL] >= 0.4).all() and (st.bench == 0).all()  # the successor stepped up
    assert (st.skill[LEAD + 1 :] == 0.5).all() and (st.tenure[LEAD + 1 :] == 25).all()  # nobody else moved


def test_without_the_switch_the_promoted_teammates_seat_is_not_vacated():
    _, st = principal_leaves(refill=0)
    assert (st.skill[LEAD] == 0.9).all() and (st.tenure[LEAD] == 25).all()


def test_two_successors_come_from_two_seats():
    """Principal and lead leave with two on the bench: the two most skilled
    teammates who stay step up, and each leaves a seat to a newcomer."""
    pv, st = small({**NOVICE, "succession.refill_promoted_seat": 1}, schools=2)
    st.bench[:] = 2
    st.skill[:] = 0.5
    st.skill[ASSISTANT_PRINCIPAL] = 0.8
    st.skill[LEAD + 2] = 0.7
    st.tenure[:] = 24
    u = np.full(st.skill.shape, 0.99)
    u[[PRINCIPAL, LEAD]] = 0.0
    turnover.staff_turnover(st, pv, calendar.calendar_and_shocks(st, pv, AUGUST), draws(st, staff_exit=u))
    _, highest = novice_range(pv)
    assert (st.tenure == 0).sum(axis=0).tolist() == [[4, 4]]  # principal, lead, and the two promoted seats
    assert (st.skill[[ASSISTANT_PRINCIPAL, LEAD + 2]] < highest).all()
    assert (st.skill[LEAD + 1] == 0.5).all() and (st.tenure[LEAD + 1] == 25).all()


def test_no_seat_is_refilled_without_a_skilled_teammate():
    """A successor on the bench whose groomed teammate left with everyone else
    steps up; no stayer is promoted, so no seat is refilled."""
    pv, st = small({**NOVICE, "succession.refill_promoted_seat": 1}, schools=2)
    st.bench[:] = 1
    st.skill[:] = 0.2  # below developing: nobody on the team could have been groomed
    st.tenure[:] = 24
    u = np.full(st.skill.shape, 0.99)
    u[PRINCIPAL] = 0.0
    turnover.staff_turnover(st, pv, calendar.calendar_and_shocks(st, pv, AUGUST), draws(st, staff_exit=u))
    assert (st.tenure[PRINCIPAL + 1 :] == 25).all()


# --- the pandemic's delay: rules ------------------------------------------------------


def test_a_pandemic_raises_exits_only_after_the_delay_and_a_break_starts_it_again():
    values = defaults().with_overrides({"turnover.pandemic_delay": 2, "run.years": 2}).values
    shocks = (Shock("pandemic", 1, 3, 0.5), Shock("pandemic", 6, 4, 1.0), Shock("pandemic", 10, 3, 0.4))
    pv = ParamVectors([Params(values=values, shocks=shocks)])
    st = blank_state(1, 2, 6, 1)
    by_month = [
        float(turnover.pandemic_for_exits(pv, calendar.calendar_and_shocks(st, pv, m))[0, 0]) for m in range(15)
    ]
    # months 1-3 a pandemic (raised from its third month), a break, then 6-12 one pandemic in two tables
    assert by_month == [0, 0, 0, 0.5, 0, 0, 0, 0, 1.0, 1.0, 0.4, 0.4, 0.4, 0, 0]


def test_without_a_delay_exits_see_the_calendars_pandemic():
    pv, st = small({"turnover.pandemic_delay": 0})
    cal = calendar.calendar_and_shocks(st, pv, AUGUST)
    writable = cal.pandemic.flags.writeable
    seen = turnover.pandemic_for_exits(pv, cal)
    # the calendar's own severities, as a read-only view (the turnover kernels' one compiled
    # version), the calendar's array left as it was
    assert np.shares_memory(seen, cal.pandemic) and np.array_equal(seen, cal.pandemic)
    assert not seen.flags.writeable and cal.pandemic.flags.writeable == writable


# --- seeded replicates of whole runs ----------------------------------------------------


@dataclass
class Watched:
    """What staff turnover did, month by month, in every run of a batch."""

    months: list[int] = field(default_factory=list)
    unsettled: list[np.ndarray] = field(default_factory=list)  # (R, S) before the month's exits
    bench: list[np.ndarray] = field(default_factory=list)  # (R, S) before
    leaves: list[np.ndarray] = field(default_factory=list)  # (K, R, S)
    refilled: list[np.ndarray] = field(default_factory=list)  # (K, R, S) new in a seat nobody left
    skill: list[np.ndarray] = field(default_factory=list)  # (K, R, S) after
    commitment: list[np.ndarray] = field(default_factory=list)  # (K, R, S) after


def watch(params: Params, replicates: int, monkeypatch) -> tuple[Engine, Watched]:
    """Run ``replicates`` seeded runs of ``params`` (seed 1), recording each
    month's staff turnover (the production function), stepped month by month
    through the submodels' functions (``Engine.run`` without an event log
    skips them for the same kernels, tests/test_fast_path.py)."""
    seen = Watched()
    real = engine.staff_turnover

    def recording(st, pv, cal, month_draws):
        seen.months.append(cal.month)
        seen.unsettled.append(st.unsettled_months.copy())
        seen.bench.append(st.bench.copy())
        leaves = real(st, pv, cal, month_draws)
        seen.leaves.append(leaves.copy())
        seen.refilled.append((st.tenure == 0) & ~leaves)
        seen.skill.append(st.skill.copy())
        seen.commitment.append(st.commitment.copy())
        return leaves

    monkeypatch.setattr(engine, "staff_turnover", recording)
    eng = Engine([params] * replicates, derive_seeds(1, replicates))
    while not eng.done:
        eng.step()
    return eng, seen


def base_hazards(eng: Engine) -> list[np.ndarray]:
    """(K, R, 1) exit hazards by seat before any rise, by month of the year."""
    return turnover.hazards_by_month(turnover.seat_rates(eng.pv, eng.st.team_size), eng.pv["turnover.summer_share"])


def ratio(observed: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Observed exits over those the base hazard expects, pooled over the
    replicates (R,), and its standard error from the replicates' spread."""
    n = len(observed)
    r = observed.sum() / expected.sum()
    se = np.sqrt(np.sum((observed - r * expected) ** 2) * n / (n - 1)) / expected.sum()
    return float(r), float(se)


def exits_against_hazard(eng: Engine, seen: Watched, seats: slice, where) -> tuple[float, float]:
    """:func:`ratio` of exits at ``seats`` in the school-months where ``where(i)``
    (R, S) holds for month ``i`` of the run."""
    hazard = base_hazards(eng)
    runs = eng.st.runs
    observed, expected = np.zeros(runs), np.zeros(runs)
    for i, month in enumerate(seen.months):
        mask = np.broadcast_to(where(i), seen.leaves[i].shape[1:])
        observed += (seen.leaves[i][seats] & mask).sum(axis=(0, 2))
        expected += (np.broadcast_to(hazard[month % 12][seats], seen.leaves[i][seats].shape) * mask).sum(axis=(0, 2))
    return ratio(observed, expected)


def test_teachers_leave_more_often_where_the_principal_just_left(monkeypatch):
    rise = 0.5
    params = defaults().with_overrides(
        {"run.years": 4, "turnover.after_principal_rise": rise, "turnover.after_principal_months": 12}
    )
    eng, seen = watch(params, 40, monkeypatch)
    teachers = slice(LEAD, None)
    unsettled, se_u = exits_against_hazard(eng, seen, teachers, lambda i: seen.unsettled[i] > 0)
    settled, se_s = exits_against_hazard(eng, seen, teachers, lambda i: seen.unsettled[i] == 0)
    assert abs(unsettled - (1 + rise)) < Z * se_u, (unsettled, se_u)
    assert abs(settled - 1) < Z * se_s, (settled, se_s)
    assert unsettled - settled > Z * np.hypot(se_u, se_s)  # the rise is seen, not noise
    # administrators are not raised
    admins, se_a = exits_against_hazard(eng, seen, slice(PRINCIPAL, LEAD), lambda i: seen.unsettled[i] > 0)
    assert abs(admins - 1) < Z * se_a, (admins, se_a)


def test_promoted_teammates_seats_hold_novices(monkeypatch):
    params = defaults().with_overrides(
        {
            **NOVICE,
            "run.years": 4,
            "succession.deep_bench": 1.0,
            "succession.refill_promoted_seat": 1,
            "turnover.arrival_fatigue": 0.0,  # (so that commitment and skill share the newcomer's draw)
            "succession.dropped_commitment": 1.0,  # (a new leader who drops the work cuts everyone's commitment)
            "turnover.principal": 0.3,
            "turnover.lead": 0.3,
        }
    )
    eng, seen = watch(params, 30, monkeypatch)
    refilled = np.array([r.sum() for r in seen.refilled])
    assert refilled.sum() >= 30, "too few promotions to judge"
    # refills only where the principal or lead left with a successor on the bench
    for i in np.flatnonzero(refilled):
        where = seen.refilled[i].any(axis=0)
        leader_left = seen.leaves[i][PRINCIPAL] | seen.leaves[i][LEAD]
        assert (leader_left[where] & (seen.bench[i][where] > 0)).all()
        assert (seen.refilled[i].sum(axis=0) <= seen.bench[i]).all()
    # each refilled seat holds a newcomer: novice skill and commitment from one uniform draw
    skill = np.concatenate([s[r] for s, r in zip(seen.skill, seen.refilled, strict=True)])
    commitment = np.concatenate([c[r] for c, r in zip(seen.commitment, seen.refilled, strict=True)])
    initial_skill, initial_commitment = params["district.initial_skill"], params["district.initial_commitment"]
    spread = skill / initial_skill - params["turnover.newcomer_low"]
    assert ((spread >= 0) & (spread < 1)).all()
    assert commitment / initial_commitment == pytest.approx(skill / initial_skill, rel=1e-12)
    # the draw behind it is uniform: a stayer's exit draw above the hazard, rescaled
    assert abs(spread.mean() - 0.5) < Z * np.sqrt(1 / 12 / len(spread)), spread.mean()


def test_no_seat_is_refilled_with_the_switch_off(monkeypatch):
    params = defaults().with_overrides(
        {
            **NOVICE,
            **ALL_OFF,
            "run.years": 3,
            "succession.deep_bench": 1.0,
            "turnover.principal": 0.3,
            "turnover.lead": 0.3,
        }
    )
    _, seen = watch(params, 10, monkeypatch)
    assert not any(r.any() for r in seen.refilled)


@pytest.mark.parametrize("delay", [0, 5])
def test_pandemic_exits_stay_flat_for_the_delay_then_rise(delay, monkeypatch):
    """A pandemic from March (month 7) for two years at full severity, raising
    exits by 1: with a delay of 5 months, exits through the summer of 2020
    stay at the base hazard and rise from August; without, they rise at once."""
    rise, start = 1.0, 7
    values = (
        defaults()
        .with_overrides({**ALL_OFF, "run.years": 3, "turnover.pandemic_rise": rise, "turnover.pandemic_delay": delay})
        .values
    )
    params = Params(values=values, shocks=(Shock("pandemic", start, 24, 1.0),))
    eng, seen = watch(params, 40, monkeypatch)
    every_seat = slice(None)

    def window(first, end):
        return exits_against_hazard(eng, seen, every_seat, lambda i: first <= seen.months[i] < end)

    before, se_b = window(0, start)
    delayed, se_d = window(start, start + 5)
    raised, se_r = window(start + 5, start + 24)
    assert abs(before - 1) < Z * se_b, (before, se_b)
    assert abs(raised - (1 + rise)) < Z * se_r, (raised, se_r)
    flat, up = 1.0, 1.0 + rise
    expected, other = (flat, up) if delay else (up, flat)
    assert abs(delayed - expected) < Z * se_d, (delayed, se_d)
    assert abs(delayed - other) > Z * se_d  # and clearly not the other timing
