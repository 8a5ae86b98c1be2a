"""The workshop guide's three exercises (docs/workshop.md), checked on the runs the page shows.

Each claim the guide makes is checked on seeds 1 to 10 and must hold in at
least 8 of them, and on seed 1, the seed the guide uses
(:mod:`improvesim.analysis.workshop` computes them); the guide must quote
the numbers the current model gives (``scripts/workshop_numbers.py`` prints
them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from improvesim.analysis.workshop import exercise_1, exercise_2, exercise_3, guide_phrases

#: Seeds out of ten on which a claim must hold (issue 20).
AT_LEAST = 8
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "workshop.md"


@pytest.fixture(scope="module")
def exercises():
    return exercise_1(), exercise_2(), exercise_3()


def assert_holds(held):
    n, on_seed_1 = held
    assert n >= AT_LEAST and on_seed_1, held


def test_exercise_1_a_school_loses_its_green_after_a_leader_leaves_and_a_deep_bench_means_fewer_stalls(exercises):
    ex1 = exercises[0]
    assert_holds(ex1["story_holds"])
    assert_holds(ex1["fewer_stalls_holds"])


def test_exercise_2_the_districts_agree_until_the_grant_ends_then_schools_lose_their_green(exercises):
    ex2 = exercises[1]
    for claim in ("same_until_year_5_holds", "fewer_green_holds", "turned_holds"):
        assert_holds(ex2[claim])
    before, after = ex2["average_authentic_y5_y10_cliff"]
    assert after < before and after < ex2["average_authentic_y10_kept"]


def test_exercise_3_a_mandate_engages_more_schools_and_fewer_are_authentic(exercises):
    ex3 = exercises[2]
    for claim in ("more_engaged_holds", "fewer_authentic_holds", "more_orange_holds"):
        assert_holds(ex3[claim])


def test_the_guide_quotes_the_numbers_of_the_current_model(exercises):
    guide = " ".join(GUIDE.read_text(encoding="utf-8").split())
    missing = [phrase for phrase in guide_phrases(*exercises) if phrase not in guide]
    assert not missing, f"docs/workshop.md is out of date; run scripts/workshop_numbers.py: {missing}"
