"""The command line: outputs, refusals and bad input (exit status 2, no traceback)."""

import json

import pandas as pd
import pytest
from conftest import ROOT, improvesim

from improvesim.sim.params import defaults, load_scenario


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "baseline"
    proc = improvesim("run", "scenarios/baseline.toml", "--out", out, "--replicates", 4)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_writes_every_output(baseline_run):
    out, proc = baseline_run
    assert sorted(p.name for p in out.iterdir()) == [
        ".improvesim",  # marks the folder as results that --force may replace
        "district.parquet",
        "schools.parquet",
        "summary.json",
        "trajectories.png",
    ]
    assert "institutionalized_share" in proc.stdout and "90% interval" in proc.stdout


def test_summary_json_has_the_agreed_fields(baseline_run):
    summary = json.loads((baseline_run[0] / "summary.json").read_text())
    assert {"scenario", "seed", "replicates", "years"} <= summary.keys()
    assert summary["replicates"] == 4 and summary["years"] == 10
    for name in [
        "institutionalized_share",
        "authentic_share",
        "partial_share",
        "inauthentic_share",
        "engaged_share",
        "faded_share",
        "share_with_6mo_disengagement",
    ]:
        final = summary["final"][name]
        assert final["p05"] <= final["mean"] <= final["p95"]
        assert len(summary["yearly"][name]) == 10


def test_parquet_tables_have_one_row_per_replicate_month_and_school(baseline_run):
    district = pd.read_parquet(baseline_run[0] / "district.parquet")
    schools = pd.read_parquet(baseline_run[0] / "schools.parquet")
    assert len(district) == 4 * 120
    assert len(schools) == 4 * 120 * 40
    assert set(schools["engagement"].cat.categories) == {"not_invited", "engaged", "paused", "opted_out"}
    assert not district.drop(columns=["seed"]).isna().any().any()


def test_refuses_to_overwrite_without_force(baseline_run, tmp_path):
    out, _ = baseline_run
    before = (out / "summary.json").read_bytes()
    proc = improvesim("run", "scenarios/baseline.toml", "--out", out, "--replicates", 2)
    assert proc.returncode == 2 and "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "summary.json").read_bytes() == before


def test_force_replaces_whole(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # results of an earlier run
    (out / "stale.txt").write_text("old")
    proc = improvesim("run", "scenarios/baseline.toml", "--out", out, "--replicates", 2, "--force", "--no-schools")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "stale.txt").exists() and (out / "summary.json").exists()
    assert json.loads((out / "summary.json").read_text())["replicates"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


@pytest.mark.parametrize("command", [["run", "scenarios/baseline.toml", "--replicates", 2], ["validate"]])
def test_force_never_replaces_a_folder_that_is_not_results(tmp_path, command):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ideas.md").write_text("my notes")
    proc = improvesim(*command, "--out", notes, "--force")
    assert proc.returncode == 2 and "not improvesim results" in proc.stderr and "Traceback" not in proc.stderr
    assert (notes / "ideas.md").read_text() == "my notes"


def test_set_changes_the_run(tmp_path):
    proc = improvesim(
        "run",
        "scenarios/baseline.toml",
        "--out",
        tmp_path / "a",
        "--replicates",
        2,
        "--set",
        "run.years=3",
        "--no-schools",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["years"] == 3


@pytest.mark.parametrize(
    "args,expected",
    [
        (["run", "scenarios/nope.toml"], "scenarios/nope.toml: no such scenario file"),
        (["run", "scenarios/baseline.toml", "--set", "turnover.teachers=0.2"], "did you mean 'turnover.teacher'"),
        (
            ["run", "scenarios/baseline.toml", "--set", "turnover.teacher=2"],
            "turnover.teacher: got 2.0, out of range; allowed: a number from 0 to 0.6",
        ),
        (
            ["run", "scenarios/baseline.toml", "--set", "coaching.coaches=many"],
            "coaching.coaches: got 'many', which is not a number",
        ),
        (["run", "scenarios/baseline.toml", "--set", "coaching.coaches"], "expected section.key=value"),
        (["run", "scenarios/baseline.toml", "--replicates", "0"], "run.replicates: got 0, out of range"),
        (["params", "scenarios/nope.toml"], "no such scenario file"),
    ],
)
def test_bad_input_is_one_clear_message(args, expected, tmp_path):
    proc = improvesim(*args, "--out", tmp_path / "o") if args[0] == "run" else improvesim(*args)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "content,expected",
    [
        (
            "[turnover]\nteacher = 0.2\nprincipl = 0.1\n",
            "bad.toml: turnover.principl: unknown parameter (did you mean 'turnover.principal'?)",
        ),
        ("[turnover\n", "bad.toml: not valid TOML"),
        ('[governance]\nparticipation = "sometimes"\n', 'allowed: one of "optional", "required"'),
        ("[district]\nschools = 5\n", "rollout.initial_schools"),
    ],
)
def test_bad_scenario_files(tmp_path, content, expected):
    bad = tmp_path / "bad.toml"
    bad.write_text(content)
    proc = improvesim("run", bad, "--out", tmp_path / "o")
    assert proc.returncode == 2, proc.stdout
    assert expected in proc.stderr and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_params_lists_every_parameter_with_range_unit_and_source():
    proc = improvesim("params", "--format", "json")
    records = json.loads(proc.stdout)["parameters"]
    assert len(records) == len(defaults().values)
    teacher = next(r for r in records if r["name"] == "turnover.teacher")
    assert teacher["unit"] == "per year" and teacher["low"] == 0 and teacher["source"] == "NCES-TFS"
    table = improvesim("params", "scenarios/mandate.toml").stdout
    assert "governance.participation" in table and '"required"' in table


def test_params_toml_round_trips(tmp_path):
    text = improvesim("params", "scenarios/framework_full.toml", "--format", "toml").stdout
    (tmp_path / "f.toml").write_text(text)
    assert load_scenario(tmp_path / "f.toml").values == load_scenario(ROOT / "scenarios/framework_full.toml").values
