"""The district budget of a plan: items, unit costs, grant and district shares, integrated time."""

import numpy as np
import pytest

from improvesim.analysis.budget import CASH_ITEMS, RECORDED, budget
from improvesim.sim.engine import run_replicates
from improvesim.sim.params import defaults, load_scenario


def recorded_by_hand(months=24):
    """Two runs: 4 coaches throughout (run 1 loses one in month 6, refilled in month 9), 10 of 40 schools
    engaged and 2 paused, a convening in month 3, one successor per school."""
    coaches = np.full((2, months), 4.0)
    coaches[1, 6:9] = 3.0
    return {
        "coaches_in_post": coaches,
        "convening": np.zeros((2, months)) + (np.arange(months) == 3),
        "engaged_share": np.full((2, months), 10 / 40),
        "paused_share": np.full((2, months), 2 / 40),
        "deep_bench": np.full((2, months), 1.0),
    }


def test_items_from_unit_costs_by_hand():
    p = defaults().with_overrides(
        {
            "run.years": 2,
            "district.schools": 40,
            "coaching.coaches": 4,
            "coaching.grant_share": 0.5,
            "coaching.funded_years": 1.0,
            "time.protected_hours": 7.0,
            "time.integrated": 0.25,
            "knowledge.hub_staff": 1.0,
        }
    )
    b = budget([p, p], recorded_by_hand())
    c = lambda k: p[f"costs.{k}"]  # noqa: E731
    team = p["district.team_size"]
    assert b.items["coach_salaries"][0].tolist() == pytest.approx([4 * c("coach_wage")] * 2)
    assert b.items["coach_benefits"][0] == pytest.approx(b.items["coach_salaries"][0] * c("benefits_rate"))
    # run 1: the first four coaches, then the refill in month 9: five hires, all in year 1
    assert b.items["coach_training"][1].tolist() == pytest.approx([5 * c("coach_training"), 0])
    # 10 engaged schools x 7 hours x team x 10 school months, three quarters of it added on top
    sub_days = 10 * 7 * team * 10 * 0.75 / c("substitute_day_hours")
    assert b.items["substitutes"][0, 0] == pytest.approx(sub_days * c("substitute_daily"))
    assert b.opportunity[0, 0] == pytest.approx(10 * 7 * team * 10 * 0.25 * c("staff_hourly"))
    assert b.items["data_systems"][0, 0] == pytest.approx(12 * c("data_system"))
    attendees = 10 * c("attendees_per_school")
    convening = c("convening") + attendees * (c("convening_attendee") + c("substitute_daily"))
    assert b.items["convenings"][0].tolist() == pytest.approx([convening, 0])
    assert b.items["successor_stipends"][0, 0] == pytest.approx(40 * c("successor_stipend"))
    # the grant pays half the coach items in year 1 and nothing after
    coach = sum(b.items[k] for k in ("coach_salaries", "coach_benefits", "coach_training"))
    assert b.grant[:, 0] == pytest.approx(0.5 * coach[:, 0]) and (b.grant[:, 1] == 0).all()


def test_grant_plus_district_is_the_total_year_by_year_in_a_real_run():
    p = load_scenario("grant_cliff").with_overrides({"run.years": 7})
    result = run_replicates(p, 4, 5)
    b = budget([p] * 4, {m: result.metric(m) for m in RECORDED})
    assert set(b.items) == set(CASH_ITEMS) and b.total.shape == (4, 7)
    assert b.total == pytest.approx(sum(b.items[k] for k in CASH_ITEMS))
    assert b.grant + b.district == pytest.approx(b.total)
    assert (b.grant[:, :5] > 0).all() and (b.grant[:, 5:] == 0).all()  # grant_cliff: five funded years
    assert (b.district >= 0).all() and (b.opportunity >= 0).all()
    # the coach items follow the coaches in post the engine recorded
    wages = result.metric("coaches_in_post")[:, :12].sum(axis=1) * p["costs.coach_wage"] / 12
    assert b.items["coach_salaries"][:, 0] == pytest.approx(wages)


def test_external_coaches_are_billed_by_the_day_instead_of_salary_benefits_and_training():
    hired = defaults().with_overrides(
        {"run.years": 2, "coaching.coaches": 4, "coaching.grant_share": 1.0, "coaching.funded_years": 1.0}
    )
    external = hired.with_overrides({"coaching.model": "external"})
    b = budget([hired, external], recorded_by_hand())
    c = lambda k: hired[f"costs.{k}"]  # noqa: E731
    assert b.items["coach_contracts"][0].tolist() == [0.0, 0.0]
    for k in ("coach_salaries", "coach_benefits", "coach_training"):
        assert b.items[k][0, 0] > 0 and b.items[k][1].tolist() == [0.0, 0.0]
    # run 1: four coaches all year, three for months 6 to 8 (as in recorded_by_hand)
    coach_months = 4 * 12 - 3
    assert b.items["coach_contracts"][1, 0] == pytest.approx(
        coach_months * c("external_coach_daily") * c("coach_days") / 12
    )
    # the grant pays the contracts while it runs, the district after; the total adds up
    assert b.grant[1, 0] == pytest.approx(b.items["coach_contracts"][1, 0]) and b.grant[1, 1] == 0
    assert b.items["coach_contracts"][1, 1] > 0 and b.district[1, 1] == pytest.approx(b.total[1, 1])
    assert b.total == pytest.approx(sum(b.items[k] for k in CASH_ITEMS))
