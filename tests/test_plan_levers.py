"""Two plan levers: stopping competing initiatives, and who the coaches are.

* ``governance.initiative_moratorium_years`` / ``initiative_sunset_months``: the board stops new
  competing initiatives for some years, and ends any later one after a sunset.
* ``coaching.model``: hired (the reference), external (more skill at hire, billed by the day) or
  internal (less skill at hire, more understanding per visit, and what a coach learned stays in the
  district when the coach leaves the post).

Rules on hand-made states, then over seeded replicates of bundled scenarios (paired: every variant
runs on the same seeds, so the same central-office leaders come and go and the same coaches leave).
"""

import numpy as np
import pytest
from conftest import draws, small

from improvesim.sim import rng
from improvesim.sim.engine import Engine, run_replicates
from improvesim.sim.params import load_scenario
from improvesim.sim.state import ParamVectors, initial_state
from improvesim.sim.submodels import calendar, central_office, coaching, turnover

JUNE = 10
REPLICATES = 16


# --- stopping competing initiatives: rules ------------------------------------------------------


def new_leader_with_an_initiative(overrides: dict, month: int):
    """The state after a new central-office leader arrives in ``month`` and would bring an initiative."""
    pv, st = small({"governance.initiative_churn": 1.0, **overrides})
    turnover.central_office_turnover(st, pv, calendar.calendar_and_shocks(st, pv, month), draws(st, fill=0.0))
    return pv, st


def test_during_the_moratorium_a_new_leader_brings_no_initiative_and_resets_priority():
    pv, st = new_leader_with_an_initiative({"governance.initiative_moratorium_years": 2.0}, month=23)
    assert st.initiative_months[0] == 0 and st.leader_changes[0] == 1
    # the reset of a leader without an initiative: the lowest share of the initial priority (draw 0)
    low = pv["governance.new_leader_priority_low"][0, 0] * pv["governance.priority"][0, 0]
    assert st.priority[0] == pytest.approx(low)


def test_after_the_moratorium_a_new_leader_may_bring_one_again():
    pv, st = new_leader_with_an_initiative({"governance.initiative_moratorium_years": 2.0}, month=24)
    assert st.initiative_months[0] == pv["governance.initiative_length"][0, 0]
    assert st.priority[0] == pytest.approx(0.8 * pv["governance.initiative_priority_cut"][0, 0])


@pytest.mark.parametrize("sunset,months", [(12, 12), (24, 24), (120, 24)])
def test_a_sunset_ends_an_initiative_early_and_never_lengthens_it(sunset, months):
    _, st = new_leader_with_an_initiative({"governance.initiative_sunset_months": sunset}, month=JUNE)
    assert st.initiative_months[0] == months  # initiative_length is 24 by default


# --- stopping competing initiatives: over seeded replicates --------------------------------------


def initiative_timeline(scenario: str, overrides: dict, years: int = 10):
    """Months with a competing initiative (R, T), the mean pressure on schools (R, T) and the result
    of REPLICATES seeded replicates of ``scenario`` with ``overrides``."""
    p = load_scenario(scenario).with_overrides({"run.years": years, **overrides})
    engine = Engine([p] * REPLICATES, rng.derive_seeds(int(p["run.seed"]), REPLICATES))
    on, pressure = [], []
    while not engine.done:
        cal = calendar.calendar_and_shocks(engine.st, engine.pv, engine.month)
        on.append(engine.st.initiative_months > 0)
        pressure.append(cal.pressure.mean(axis=1))
        engine.step()
    return np.array(on).T, np.array(pressure).T, engine.result()


@pytest.fixture(scope="module")
def moratorium_on_the_baseline():
    stopped = {"governance.initiative_moratorium_years": 5.0, "governance.initiative_sunset_months": 12}
    return initiative_timeline("baseline", {}), initiative_timeline("baseline", stopped)


def test_stopping_initiatives_frees_time(moratorium_on_the_baseline):
    (on, pressure, _), (on_stopped, pressure_stopped, _) = moratorium_on_the_baseline
    # the same leaders come and go (their draws do not depend on the lever): paired, month by month
    assert (on_stopped <= on).all() and (pressure_stopped <= pressure + 1e-12).all()
    assert on[:, :60].any() and not on_stopped[:, :60].any()  # none in the moratorium's five years
    assert on_stopped.sum() < on.sum() and pressure_stopped.mean() < pressure.mean()


def test_stopping_initiatives_does_not_lower_authentic_practice_on_the_baseline(moratorium_on_the_baseline):
    (*_, result), (*_, stopped) = moratorium_on_the_baseline
    # authentic practice over the ten years, replicate by replicate (paired)
    gain = stopped.metric("authentic_share").mean(axis=1) - result.metric("authentic_share").mean(axis=1)
    spread = gain.std(ddof=1) / np.sqrt(len(gain))
    assert gain.mean() > -2 * spread, (gain.mean(), spread)


def test_the_stop_initiatives_plan_changes_the_reference_by_the_lever_only():
    p = load_scenario("plans/stop_initiatives")
    assert p["governance.initiative_moratorium_years"] > 0 and p["governance.initiative_sunset_months"] < 120
    levers = {"governance.initiative_moratorium_years": 0.0, "governance.initiative_sunset_months": 120}
    assert p.with_overrides(levers).values == load_scenario("plans/grant_only").values


# --- coach models: rules ----------------------------------------------------------------------


def coaches_at_the_start(model: str) -> np.ndarray:
    p = load_scenario("grant_cliff").with_overrides({"coaching.model": model})
    return initial_state(ParamVectors([p] * 4), rng.derive_seeds(1, 4)).coach_skill


def test_coaches_are_hired_with_the_skill_of_their_model():
    hired = coaches_at_the_start("hired")
    p = load_scenario("grant_cliff")
    # the same draws, scaled (no coach reaches full skill, so nothing is clipped)
    assert coaches_at_the_start("external") == pytest.approx(hired * p["coaching.external_skill"])
    assert coaches_at_the_start("internal") == pytest.approx(hired * p["coaching.internal_skill"])


def understanding_after_a_visit(model: str) -> float:
    pv, st = small({"coaching.model": model, "coaching.visits_per_month": 1.0}, schools=1, coaches=1)
    cal = calendar.calendar_and_shocks(st, pv, 0)
    cal = cal._replace(pressure=np.zeros_like(cal.pressure))
    coaching.coaching(st, pv, cal, draws(st, visit_rounding=0.0))
    assert st.visits[0, 0] == 1.0
    return float(st.understanding[0, 0])


def test_a_visit_by_an_internal_coach_gives_more_understanding():
    # the same coach skill (0.6) in every model: only the understanding per visit differs
    hired, external, internal = (understanding_after_a_visit(m) for m in ("hired", "external", "internal"))
    p = load_scenario("baseline")
    assert external == hired and internal == pytest.approx(hired * p["coaching.internal_understanding"])


def skill_of_the_next_coach(model: str, departed: float) -> float:
    """Skill of the coach who fills a post whose coach, of skill ``departed``, left; the hire's own
    draw is the lowest (0)."""
    pv, st = small({"coaching.model": model}, coaches=1)
    st.coach_filled[:] = False
    st.coach_vacancy[:] = 1
    st.coach_skill[:] = departed
    turnover.coach_turnover(st, pv, calendar.calendar_and_shocks(st, pv, JUNE), draws(st, coach_exit=0.0))
    assert st.coach_filled.all()
    return float(st.coach_skill[0, 0])


def test_what_an_internal_coach_learned_stays_in_the_district():
    p = load_scenario("baseline")
    lowest = p["coaching.skill"] * p["coaching.new_coach_low"]
    assert skill_of_the_next_coach("hired", 1.0) == pytest.approx(lowest)
    assert skill_of_the_next_coach("external", 1.0) == pytest.approx(lowest * p["coaching.external_skill"])
    internal = lowest * p["coaching.internal_skill"]
    kept = p["coaching.internal_skill_kept"]
    assert skill_of_the_next_coach("internal", 1.0) == pytest.approx(internal + kept * (1.0 - internal))
    # a departed coach with less skill than the hire's draw passes on nothing
    assert skill_of_the_next_coach("internal", 0.1) == pytest.approx(internal)


def skill_after_a_month_in_post(model: str, skill: float) -> float:
    pv, st = small({"coaching.model": model}, coaches=1)
    st.coach_skill[:] = skill
    turnover.coach_turnover(st, pv, calendar.calendar_and_shocks(st, pv, 0), draws(st, coach_exit=1.0))
    assert st.coach_filled.all()
    return float(st.coach_skill[0, 0])


def test_an_internal_coach_learns_the_craft_on_the_job_up_to_a_hired_coachs_skill():
    p = load_scenario("baseline")
    learning, target = p["coaching.internal_learning"], p["coaching.skill"]
    assert skill_after_a_month_in_post("internal", 0.3) == pytest.approx(0.3 + learning * (target - 0.3))
    assert skill_after_a_month_in_post("internal", 0.9) == 0.9  # above a hired coach's skill: no change
    assert skill_after_a_month_in_post("hired", 0.3) == 0.3 and skill_after_a_month_in_post("external", 0.3) == 0.3


# --- coach models: over seeded replicates ------------------------------------------------------


@pytest.fixture(scope="module")
def coach_models():
    p = load_scenario("grant_cliff").with_overrides({"run.years": 3, "turnover.coach": 0.4})
    engines = {}
    variants = {m: {"coaching.model": m} for m in ("hired", "external", "internal")}
    variants["internal, nothing kept"] = {"coaching.model": "internal", "coaching.internal_skill_kept": 0.0}
    for model, overrides in variants.items():
        q = p.with_overrides(overrides)
        engine = Engine([q] * REPLICATES, rng.derive_seeds(int(q["run.seed"]), REPLICATES))
        skill, understanding = [], []
        while not engine.done:
            engine.step()
            filled = engine.st.coach_filled
            skill.append((engine.st.coach_skill * filled).sum(axis=1) / np.maximum(filled.sum(axis=1), 1))
            understanding.append(engine.st.understanding.mean(axis=1))
        engines[model] = np.array(skill).T, np.array(understanding).T, engine
    return engines


def test_external_coaches_bring_more_skill_and_internal_coaches_grow_into_it(coach_models):
    hired, external, internal = (coach_models[m][0] for m in ("hired", "external", "internal"))
    # the same coaches leave in the same months (their exits do not depend on the model)
    assert (external >= hired).all() and (external > hired).any()
    # internal coaches start with less skill than hired ones and close the gap while in post
    assert (internal[:, :12].mean(axis=1) < hired[:, :12].mean(axis=1)).all()
    growth = internal[:, 24:].mean(axis=1) - internal[:, :12].mean(axis=1)
    assert growth.mean() > 2 * growth.std(ddof=1) / np.sqrt(len(growth)), growth
    target = load_scenario("grant_cliff")["coaching.skill"]
    assert (internal[:, -1] <= target).all()


def test_what_departing_internal_coaches_learned_keeps_their_successors_more_skilled(coach_models):
    kept, lost = coach_models["internal"][0], coach_models["internal, nothing kept"][0]
    # the same coaches leave in the same months; a successor never starts lower, and learning keeps the order
    assert (kept >= lost - 1e-12).all() and (kept.mean(axis=1) > lost.mean(axis=1)).any()


def test_internal_coaches_build_understanding_sooner(coach_models):
    """Early (the first school year), schools coached by internal coaches understand their problem
    better: paired over replicates, with a tolerance of two standard errors of the paired mean."""
    hired, internal = coach_models["hired"][1][:, :10], coach_models["internal"][1][:, :10]
    gain = (internal - hired).mean(axis=1)
    assert gain.mean() > 2 * gain.std(ddof=1) / np.sqrt(len(gain)), gain


def test_the_running_cost_charges_an_external_coach_the_contract():
    cost = {}
    for model in ("hired", "external"):
        pv, st = small({"coaching.model": model}, coaches=2)
        central_office.costs(st, pv, calendar.calendar_and_shocks(st, pv, JUNE))  # summer: no protected time
        cost[model] = st.cost_month[0]
    p = load_scenario("baseline")
    contract = p["costs.external_coach_daily"] * p["costs.coach_days"]
    assert cost["external"] - cost["hired"] == pytest.approx(2 * (contract - p["costs.coach_salary"]) / 12)


def test_the_coach_model_plans_differ_from_the_reference_in_the_model_only():
    reference = load_scenario("plans/grant_only")
    for name, model in (("plans/external_coaches", "external"), ("plans/internal_coaches", "internal")):
        p = load_scenario(name)
        assert p["coaching.model"] == model
        assert p.with_overrides({"coaching.model": "hired"}).values == reference.values


def test_the_hired_model_is_todays_coaching():
    p = load_scenario("grant_cliff").with_overrides({"run.years": 2})
    again = p.with_overrides({"coaching.model": "hired", "governance.initiative_moratorium_years": 0.0})
    assert np.array_equal(run_replicates(p, 3, 7).district, run_replicates(again, 3, 7).district, equal_nan=True)
