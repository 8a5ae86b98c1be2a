"""Time to events per school (survival.parquet) and their Kaplan-Meier estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from improvesim.analysis.survival import kaplan_meier, survival_frame
from improvesim.sim.engine import SimulationResult, run_replicates
from improvesim.sim.params import load_scenario
from improvesim.sim.state import Authenticity

A = Authenticity.AUTHENTIC


def _result(months: int, invited, institutionalized_at, authentic_from, faded_at) -> SimulationResult:
    """A one-run, hand-made result: per school the invitation month and the first month of each state (-1: never)."""
    S = len(invited)
    schools = {name: np.zeros((1, months, S), dtype=bool) for name in ("institutionalized", "faded")}
    schools["authenticity"] = np.zeros((1, months, S), dtype=np.int8)
    for s in range(S):
        if institutionalized_at[s] >= 0:
            schools["institutionalized"][0, institutionalized_at[s] :, s] = True
        if authentic_from[s] >= 0:
            schools["authenticity"][0, authentic_from[s] :, s] = A
        if faded_at[s] >= 0:
            schools["faded"][0, faded_at[s] :, s] = True
            schools["authenticity"][0, faded_at[s] :, s] = 0
    zeros = np.zeros((1, S), dtype=np.int64)
    return SimulationResult(
        params=(None,),
        seeds=(1,),
        district=np.zeros((1, months, 1)),
        schools=schools,
        first_institutionalized=np.asarray([institutionalized_at]),
        invited_month=np.asarray([invited]),
        joined=zeros.astype(bool),
        authentic_years=zeros,
        final_authenticity=zeros,
    )


def test_each_school_is_at_risk_from_its_own_origin_and_censored_at_the_run_end():
    result = _result(
        months=24,
        invited=[0, 6, -1, 0],
        institutionalized_at=[10, -1, -1, 20],
        authentic_from=[3, 8, -1, -1],
        faded_at=[-1, 15, -1, -1],
    )
    frame = survival_frame(result, first_replicate=7).set_index(["school", "event"])
    assert set(frame["replicate"]) == {7}
    inst = frame.xs("institutionalized", level="event")
    assert list(inst.index) == [0, 1, 3]  # school 2 was never invited: not at risk
    assert inst.loc[0, ["origin_month", "month", "duration_months", "censored"]].tolist() == [0, 10, 11, False]
    assert inst.loc[1, ["origin_month", "month", "duration_months", "censored"]].tolist() == [6, 23, 18, True]
    assert inst.loc[3, ["month", "censored"]].tolist() == [20, False]
    faded = frame.xs("faded", level="event")
    assert list(faded.index) == [0, 1]  # only schools once authentic are at risk of fading
    assert faded.loc[0, ["origin_month", "month", "censored"]].tolist() == [3, 23, True]
    assert faded.loc[1, ["origin_month", "month", "duration_months", "censored"]].tolist() == [8, 15, 8, False]


def test_runs_of_different_lengths_are_censored_each_at_its_own_horizon():
    short = survival_frame(_result(12, [0], [-1], [-1], [-1]))
    long = survival_frame(_result(36, [0], [-1], [-1], [-1]))
    assert short["month"].tolist() == [11] and long["month"].tolist() == [35]


def test_kaplan_meier_matches_the_product_limit_by_hand():
    # durations 1, 2, 3 with events, 4 and 5 censored: S = 4/5, 3/5, 2/5, then flat
    frame = pd.DataFrame(
        {
            "event": ["faded"] * 5,
            "duration_months": [1, 2, 3, 4, 5],
            "censored": [False, False, False, True, True],
        }
    )
    km = kaplan_meier(frame, "faded")
    assert km["months"].tolist() == [0, 1, 2, 3, 4, 5]
    assert km["survival"].tolist() == pytest.approx([1, 0.8, 0.6, 0.4, 0.4, 0.4])
    assert (km["low"] <= km["survival"]).all() and (km["survival"] <= km["high"]).all()
    assert kaplan_meier(frame, "institutionalized").empty


def test_the_model_s_survival_records_agree_with_its_own_first_institutionalized_months():
    result = run_replicates(load_scenario("framework_full"), 20, 1, record_schools=True)
    frame = survival_frame(result)
    inst = frame[(frame["event"] == "institutionalized") & ~frame["censored"]]
    expected = result.first_institutionalized[inst["replicate"], inst["school"]]
    assert (inst["month"].to_numpy() == expected).all()
    invited = (result.invited_month >= 0).sum()
    assert (frame["event"] == "institutionalized").sum() == invited
