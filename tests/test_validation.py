"""Validation (issue 7): the reduced pattern suite and its criteria (the calibration: tests/test_calibration.py).

The suite runs every pattern of ``improvesim validate`` at the documented
settings (200 replicates, seed 1; about 15 seconds) and fails when a pattern
breaks, when a documented failure starts to pass, or when
``docs/validation.md`` no longer shows the table the model gives.  The criteria are tested on hand-made
outcomes, so a criterion that could never fail would be caught here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, improvesim

from improvesim.analysis.validation import KNOWN_FAILURES, PATTERNS, CasePattern, Contrast, markdown_table, validate
from improvesim.sim.params import load_scenario

#: The documented table's settings (docs/validation.md): the whole suite takes seconds.
REPLICATES, SEED = 200, 1


@pytest.fixture(scope="module")
def table():
    return validate(REPLICATES, SEED)


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.key for p in PATTERNS])
def test_pattern_holds_or_is_a_documented_failure(table, pattern):
    row = table.set_index("pattern").loc[pattern.key]
    if pattern.key in KNOWN_FAILURES:
        # a documented failure that starts to pass means the docs are out of date
        assert not row["passed"], f"{pattern.key} now passes: update KNOWN_FAILURES and docs/validation.md"
    else:
        assert row["passed"], f"{pattern.key}: observed {row['observed']}; model {row['model']}"


def test_docs_show_the_current_table(table):
    docs = (ROOT / "docs" / "validation.md").read_text()
    assert markdown_table(table) in docs, (
        "run improvesim validate and paste results/validation/validation.md between the markers of docs/validation.md"
    )


def test_known_failures_name_patterns():
    assert set(KNOWN_FAILURES) <= {p.key for p in PATTERNS}


CASE = CasePattern("case", "d", "s", "scenarios/viano2024_case.toml", "share", 2, 2)


def test_case_pattern_passes_only_when_the_observed_count_is_in_the_central_range():
    inside = {"share": np.linspace(0.0, 0.5, 101)}  # counts 0 to 4
    outside = {"share": np.full(50, 0.75)}  # always 6 of 8
    assert CASE.judge(inside)["passed"]
    assert not CASE.judge(outside)["passed"]


def test_case_pattern_matches_counts_that_round_to_the_observed_value():
    shares = np.array([1.4, 1.6, 2.0, 2.4, 2.6]) / 8
    assert CASE.matches({"share": shares}).tolist() == [False, True, True, True, False]


def test_observed_wording_of_ranges():
    assert CASE.observed == "2 of 8"
    at_least = CasePattern("k", "d", "s", "x.toml", "share", 6, 8)
    assert at_least.observed == "at least 6 of 8"


CONTRAST = Contrast("c", "d", "s", "x.toml", "y", better={}, worse={}, min_relative=0.25, expected="e")


def test_contrast_needs_direction_interval_and_size():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.6, 100)
    assert CONTRAST.judge({"y": base}, {"y": base - 0.2})["passed"]  # clear, large effect
    assert not CONTRAST.judge({"y": base}, {"y": base - 0.05})["passed"]  # clear but too small
    assert not CONTRAST.judge({"y": base}, {"y": base + 0.1})["passed"]  # wrong direction
    noisy = base + rng.normal(0, 1.0, 100)
    assert not CONTRAST.judge({"y": base}, {"y": noisy})["passed"]  # interval covers zero


def test_every_pattern_names_an_existing_scenario_and_a_known_outcome():
    from improvesim.sim.end_of_run import OUTCOMES

    for p in PATTERNS:
        assert load_scenario(p.scenario), p.key
        assert p.outcome in OUTCOMES, p.key
    keys = [p.key for p in PATTERNS]
    assert len(keys) == len(set(keys))
    # both kinds of evidence: some patterns calibrate, the others test the model
    assert any(p.calibration for p in PATTERNS) and any(not p.calibration for p in PATTERNS)


def test_validate_command_prints_and_writes_the_table(tmp_path):
    out = tmp_path / "v"
    proc = improvesim("validate", "--replicates", 30, "--out", out)
    assert proc.returncode in (0, 1), proc.stderr
    text = (out / "validation.md").read_text()
    assert text.startswith("| Pattern | Source | Observed | Model | Used for | Verdict |")
    table = pd.read_csv(out / "validation.csv")
    assert len(table) == len(PATTERNS)
    explained = table["passed"] | table["pattern"].isin(list(KNOWN_FAILURES))
    assert proc.returncode == (0 if explained.all() else 1)
    again = improvesim("validate", "--replicates", 30, "--out", out)
    assert again.returncode == 2 and "--force" in again.stderr


def test_validate_rejects_bad_input(tmp_path):
    proc = improvesim("validate", "--replicates", 1, "--out", tmp_path / "v")
    assert proc.returncode == 2 and "at least 2" in proc.stderr and "Traceback" not in proc.stderr


def test_running_the_case_shows_the_observed_patterns(tmp_path):
    import json

    proc = improvesim(
        "run", "scenarios/viano2024_case.toml", "--replicates", 40, "--out", tmp_path / "v", "--no-schools"
    )
    assert proc.returncode == 0, proc.stderr
    assert "Observed patterns beside the model" in proc.stdout
    rows = json.loads((tmp_path / "v" / "summary.json").read_text())["observed"]
    assert [r["pattern"] for r in rows] == [p.key for p in PATTERNS if p.scenario == "viano2024_case"]
    for r in rows:
        assert sum(r["distribution"].values()) == pytest.approx(1.0)
        assert r["model_p05"] <= r["model_mean"] <= r["model_p95"]
