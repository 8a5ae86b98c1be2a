"""The patterns the district model's second edition must show (issue 14), fixed before it was built.

The criteria were stated here and committed before the new dynamics first
ran, so that no criterion is tuned to a result; they now live in
:mod:`improvesim.analysis.structure` (the calibration's structure step calls
the same code), with their sources.  Every criterion is a replicate mean of
a named outcome at a named month over 200 replicates, seed 1 (common random
numbers between arms), against a stated range, and every one must pass at
the defaults.  ``institutionalization_takes_years`` was a test of
``test_patterns.py`` at 40 replicates; it runs here at 200.
"""

from __future__ import annotations

import pytest

from improvesim.analysis import structure
from improvesim.analysis.structure import CRITERIA, Arms


@pytest.fixture(scope="module")
def arms():
    return Arms()


@pytest.mark.parametrize("criterion", CRITERIA, ids=[c.key for c in CRITERIA])
def test_the_defaults_meet_the_criterion(arms, criterion):
    measured, holds = criterion.check(arms)
    assert holds, (criterion.statement, measured)


def test_verdicts_name_the_first_failure_and_skip_the_rest_when_asked():
    """A district without protected time or coaching breaks a criterion; with ``stop_at_first_failure``
    the criteria after the first that fails are not run."""
    none = {"time.protected_hours": 0.0, "coaching.coaches": 0}
    out = structure.verdicts(none, replicates=20, stop_at_first_failure=True)
    assert not out["admissible"] and out["failed"]
    failed_at = [c.key for c in CRITERIA].index(out["failed"])
    assert all(out[c.key] is True for c in CRITERIA[:failed_at])
    assert all(out[c.key] is None for c in CRITERIA[failed_at + 1 :])


def test_an_arms_own_levers_win_over_a_particles_constants():
    """A calibration that calibrates a support lever (coaching.coaches, protected hours) must not give the
    "no support" arm coaches, nor the "all high" arm fewer: the particle's value applies elsewhere."""
    arms = Arms({"coaching.coaches": 5, "time.protected_hours": 6.0, "sensemaking.drift": 0.05})
    assert arms.params("baseline")["coaching.coaches"] == 5
    for arm, levels in (
        ("no_support", structure.NO_SUPPORT),
        ("supports_high", structure.SUPPORTS_HIGH),
        ("supports_low", structure.SUPPORTS_LOW),
    ):
        params = arms.params(arm)
        assert {key: params[key] for key in levels} == levels, arm
        assert params["sensemaking.drift"] == 0.05
