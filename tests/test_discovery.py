"""Scenario discovery (improvesim discover): a planted box is found, categories and integers work, bad input is refused."""

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import improvesim

from improvesim.analysis.discovery import Condition, DiscoveryError, design_warnings, discover, mark_sets
from improvesim.analysis.store import load_sweep
from improvesim.cli import main
from improvesim.experiments.spec import load_experiment
from improvesim.experiments.sweep import run_sweep

# The planted region: the outcome is 1 inside, 0 outside, plus noise on every run.
PLANTED = {
    "turnover.teacher": (0.15, 0.50),  # both limits
    "time.protected_hours": (None, 12.0),  # upper limit only
    "coaching.coaches": (3, None),  # an integer, lower limit only
}
PLANTED_CHOICE = ("governance.participation", "optional")
RANGES = {"turnover.teacher": (0.0, 0.6), "time.protected_hours": (0.0, 20.0), "coaching.coaches": (0, 12)}
NOISE_SD = 0.3  # per run; the mean of 3 replicates has sd 0.17, so a set lands on the wrong side of 0.5 rarely
LHS = """
scenario = "baseline"
design = "lhs"
samples = 600
replicates = 3
seed = 7
outcomes = ["institutionalized_share", "faded_share"]
[set]
"run.years" = 1
"district.schools" = 2
"rollout.initial_schools" = 2
[parameters]
"turnover.teacher" = { min = 0.0, max = 0.6 }
"time.protected_hours" = { min = 0.0, max = 20.0 }
"coaching.coaches" = { min = 0, max = 12 }
"governance.participation" = { choices = ["optional", "required"] }
"messaging.urgency" = { min = 0.0, max = 1.0 }
"""
GRID = """
scenario = "baseline"
design = "grid"
replicates = 2
seed = 3
outcomes = ["engaged_share", "institutionalized_share_y3"]
[set]
"run.years" = 2
"district.schools" = 4
"rollout.initial_schools" = 4
[parameters]
"turnover.teacher" = [0.05, 0.3, 0.55]
"coaching.coaches" = [0, 2, 4]
"governance.participation" = ["optional", "required"]
"""


def _sweep(folder, body, name):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(body)
    store = folder / name
    summary = run_sweep(load_experiment(path), store, progress=False)
    assert summary.ok == summary.runs
    return store


def _inside(plan: pd.DataFrame) -> np.ndarray:
    inside = plan[PLANTED_CHOICE[0]] == PLANTED_CHOICE[1]
    for name, (low, high) in PLANTED.items():
        if low is not None:
            inside &= plan[name] >= low
        if high is not None:
            inside &= plan[name] <= high
    return inside.to_numpy()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A real LHS store (the sweep engine wrote it) whose institutionalized_share is replaced by the planted box."""
    store = _sweep(tmp_path_factory.mktemp("planted"), LHS, "planted")
    plan = pd.read_parquet(store / "plan.parquet").set_index("run_id")
    rng = np.random.default_rng(2024)
    for part in sorted((store / "parts").glob("outcomes-*.parquet")):
        frame = pd.read_parquet(part)
        inside = _inside(plan.loc[frame["run_id"]])
        frame["institutionalized_share"] = inside + rng.normal(0.0, NOISE_SD, len(frame))
        frame.to_parquet(part, index=False)
    return store


@pytest.fixture(scope="module")
def grid_store(tmp_path_factory):
    """A real small grid of the model: an integer and a categorical factor, 2 years."""
    return _sweep(tmp_path_factory.mktemp("grid"), GRID, "grid")


def test_the_planted_box_is_found_within_a_tenth_of_each_range(planted):
    d = discover(planted, Condition("institutionalized_share", "above", 0.5))
    box = d.box.set_index("parameter")
    assert set(PLANTED) | {PLANTED_CHOICE[0]} <= set(box.index)
    for name, (low, high) in PLANTED.items():
        span = RANGES[name][1] - RANGES[name][0]
        row = box.loc[name]
        for side, planted_limit, sweep_limit in (("lower", low, RANGES[name][0]), ("upper", high, RANGES[name][1])):
            expected = sweep_limit if planted_limit is None else planted_limit
            assert abs(row[side] - expected) <= 0.1 * span, (name, side, row[side], expected)
            if planted_limit is not None:
                assert row[f"{side}_restricted"] and row[f"qp_{side}"] < 0.05, (name, side)
    assert box.loc["governance.participation", "categories"] == "optional"
    assert box.loc["coaching.coaches", "lower"] == int(box.loc["coaching.coaches", "lower"])
    # the parameter that plays no part is left (nearly) whole
    if "messaging.urgency" in box.index:
        assert box.loc["messaging.urgency", "upper"] - box.loc["messaging.urgency", "lower"] >= 0.8
    step = d.chosen_step
    assert step["coverage"] >= 0.5 and step["density"] >= 0.9
    assert d.feature_scores["parameter"].iloc[-1] == "messaging.urgency"
    assert d.feature_scores["score"].sum() == pytest.approx(1.0)
    # the rule: the densest step among those with enough coverage
    eligible = d.trajectory[d.trajectory["coverage"] >= 0.5]
    assert step["density"] == eligible["density"].max()
    again = discover(planted, Condition("institutionalized_share", "above", 0.5))
    pd.testing.assert_frame_equal(again.box, d.box)
    pd.testing.assert_frame_equal(again.feature_scores, d.feature_scores)


def test_the_summary_restates_the_condition_with_meanings_and_units(planted):
    d = discover(planted, Condition("institutionalized_share", "above", 0.5, share=2 / 3))
    text = d.summary()
    assert "institutionalized_share above 0.5 in at least 67% of their replicates" in text
    assert "time.protected_hours (time each improvement team meets" in text
    assert "hours per team per month" in text
    assert 'governance.participation (whether schools may opt out or must take part) is "optional"' in text
    assert f"{d.chosen_step['density']:.0%} of parameter sets" in text
    assert f"holds {d.chosen_step['coverage']:.0%} of all such sets" in text


def test_sets_of_interest_by_mean_or_by_share_of_replicates():
    values = pd.DataFrame({"set": [0, 0, 0, 1, 1, 1], "value": [0.0, 0.0, 0.9, 0.4, 0.4, 0.4]})
    sets = pd.Index([0, 1, 2])
    by_mean, analysed = mark_sets(values, Condition("x", "below", 0.35), sets)
    assert list(analysed) == [0, 1]  # set 2 has no successful run
    assert by_mean.tolist() == [True, False]
    by_share, _ = mark_sets(values, Condition("x", "below", 0.35, share=0.5), sets)
    assert by_share.tolist() == [True, False]
    all_replicates, _ = mark_sets(values, Condition("x", "below", 0.35, share=1.0), sets)
    assert all_replicates.tolist() == [False, False]


def test_the_cli_writes_every_file_on_a_real_grid_with_a_warning(grid_store, tmp_path):
    means = load_sweep(grid_store).outcomes.groupby("set")["engaged_share"].mean()
    threshold = float(np.median(means))
    out = tmp_path / "disc"
    proc = improvesim(
        "discover", grid_store, "--outcome", "engaged_share", "--below", threshold, "--out", out, "--min-coverage", 0.4
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "grid design" in proc.stderr and "mislead" in proc.stderr
    for name in ("report.md", "trajectory.png", "trajectory.csv", "box.csv", "feature_scores.csv"):
        assert (out / name).stat().st_size > 0, name
    report = (out / "report.md").read_text()
    assert f"engaged_share below {threshold:g}" in report
    assert "grid design" in report and "mislead" in report
    trajectory = pd.read_csv(out / "trajectory.csv")
    assert trajectory["chosen"].sum() == 1 and trajectory.loc[trajectory["chosen"], "coverage"].iloc[0] >= 0.4
    assert sorted(pd.read_csv(out / "feature_scores.csv")["parameter"]) == [
        "coaching.coaches",
        "governance.participation",
        "turnover.teacher",
    ]
    # the default folder, and no silent overwrite
    assert main(["discover", str(grid_store), "--outcome", "engaged_share", "--below", str(threshold)]) == 0
    assert (grid_store / "discovery-engaged_share" / "report.md").exists()
    args = ["discover", str(grid_store), "--outcome", "engaged_share", "--above", str(threshold), "--out", str(out)]
    assert main(args) == 2
    assert main([*args, "--force"]) == 0
    assert "engaged_share above" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--outcome", "engaged_share", "--above", "2"], "no parameter set has engaged_share above 2"),
        (["--outcome", "engaged_share", "--below", "2"], "every parameter set has engaged_share below 2"),
        (
            ["--outcome", "engaged_shar", "--below", "0.5"],
            "this store holds: engaged_share, institutionalized_share_y3",
        ),
        (["--outcome", "engaged_share", "--below", "0.5", "--share", "0"], "--share: got 0; allowed"),
        (["--outcome", "engaged_share", "--below", "0.5", "--share", "1.5"], "--share: got 1.5; allowed"),
        (["--outcome", "engaged_share", "--below", "0.5", "--min-coverage", "0"], "--min-coverage: got 0"),
        (["--outcome", "institutionalized_share_y3", "--below", "0.5"], "undefined in 36 of 36 runs"),
    ],
)
def test_bad_requests_give_one_clear_message(grid_store, tmp_path, capsys, extra, message):
    out = tmp_path / "never"
    assert main(["discover", str(grid_store), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("improvesim discover: error:")
    assert not out.exists()


def test_not_a_store_a_damaged_store_and_a_store_without_varied_factors(grid_store, tmp_path, capsys):
    assert main(["discover", str(tmp_path), "--outcome", "engaged_share", "--below", "0.5"]) == 2
    assert "is not a sweep store" in capsys.readouterr().err
    damaged = tmp_path / "damaged"
    shutil.copytree(grid_store, damaged, ignore=shutil.ignore_patterns("discovery-*"))
    (damaged / "experiment.json").write_text('{"experiment": ')
    assert main(["discover", str(damaged), "--outcome", "engaged_share", "--below", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "cannot be read as a sweep store" in err and "Traceback" not in err
    flat = GRID.split("[parameters]")[0] + '[parameters]\n"turnover.teacher" = [0.2]\n'
    store = _sweep(tmp_path, flat, "flat")
    assert main(["discover", str(store), "--outcome", "engaged_share", "--below", "0.5"]) == 2
    assert "no parameter takes more than one value" in capsys.readouterr().err


def test_grid_and_morris_designs_are_flagged_and_space_filling_ones_are_not():
    assert any("mislead" in w for w in design_warnings("grid", 500))
    assert any("mislead" in w for w in design_warnings("morris", 500))
    assert design_warnings("lhs", 500) == [] and design_warnings("sobol", 500) == []
    assert any("Only 40 parameter sets" in w for w in design_warnings("lhs", 40))


def test_a_share_outside_the_unit_interval_is_refused():
    with pytest.raises(DiscoveryError, match="--share"):
        Condition("engaged_share", "below", 0.5, share=-0.1)


def test_the_bundled_experiment_spans_uncertainties_and_levers_with_the_fading_outcomes():
    from improvesim.sim.schema import BY_NAME

    exp = load_experiment("fading_conditions")
    assert exp.design == "lhs"
    roles = {BY_NAME[f.name].role for f in exp.factors}
    assert roles == {"uncertainty", "lever"}
    assert {"institutionalized_share_y10", "faded_share_y10"} <= set(exp.outcomes)
    assert any(f.kind == "choice" for f in exp.factors) and any(f.kind == "int" for f in exp.factors)
