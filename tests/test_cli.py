"""The command line: outputs, refusals and bad input (exit status 2, no traceback)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, RUN_FILES, improvesim

from improvesim.sim.outcomes import PRINCIPLE_SHARES
from improvesim.sim.params import ParameterError, defaults, load_scenario


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "baseline"
    proc = improvesim("run", "scenarios/baseline.toml", "--out", out, "--replicates", 4)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_writes_every_output(baseline_run):
    out, proc = baseline_run
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
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
        "ever_institutionalized_share",
        *PRINCIPLE_SHARES,
        "tool_use_share",
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


@pytest.mark.parametrize("force", [["--force"], []])
@pytest.mark.parametrize("command", [["run", "scenarios/baseline.toml", "--replicates", 2], ["validate"]])
def test_force_never_replaces_a_folder_that_is_not_results(tmp_path, command, force):
    """With or without --force, a folder of other files is named as such (never "use --force")."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ideas.md").write_text("my notes")
    proc = improvesim(*command, "--out", notes, *force)
    assert proc.returncode == 2 and "not improvesim results" in proc.stderr and "Traceback" not in proc.stderr
    assert "use --force" not in proc.stderr
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
        (["run", "nope"], "nope: no such scenario file, and no bundled scenario of that name; bundled: baseline,"),
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
        (
            ["run", "baseline", "--set", "turnover.teacher", "0.3"],
            "expected section.key=value, got 'turnover.teacher'; write --set turnover.teacher=VALUE",
        ),
        (["run", "scenarios/baseline.toml", "--replicates", "0"], "--replicates: run.replicates: got 0, out of range"),
        (["run", "baseline", "--replicates", "100001"], "--replicates: run.replicates: got 100001, out of range"),
        (["run", "baseline", "--seed", "-1"], "--seed: run.seed: got -1, out of range"),
        (["run", "baseline", "--seed", "3", "--set", "run.seed=5"], "--seed and --set run.seed: give it once"),
        (["run", ""], "an empty name; give a scenario file or a bundled name"),
        (["explain", "baseline", "--school", "1", "--replicate", "10"], "--replicate: got 10; allowed: 0 to 9"),
        (
            ["explain", "baseline", "--school", "1", "--replicates", "5", "--replicate", "999"],
            "--replicate: got 999; allowed: 0 to 4",
        ),
        (["params", "scenarios/nope.toml"], "no such scenario file"),
    ],
)
def test_bad_input_is_one_clear_message(args, expected, tmp_path):
    proc = improvesim(*args, "--out", tmp_path / "o") if args[0] == "run" else improvesim(*args)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
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


def test_params_into_a_closed_pipe_stops_quietly():
    import subprocess
    import sys

    proc = subprocess.run(
        f"{sys.executable} -m improvesim params | head -n 2", shell=True, cwd=ROOT, capture_output=True, text=True
    )
    assert proc.stdout.startswith("Parameters of defaults")
    assert proc.stderr == "", proc.stderr


def test_a_run_with_overrides_says_so_in_its_table_summary_and_figure(tmp_path):
    proc = improvesim(
        "run", "baseline", "--set", "turnover.teacher=0.3", "--replicates", 2, "--out", tmp_path / "o", "--no-schools"
    )
    assert proc.returncode == 0, proc.stderr
    # the bundled scenario is shown by its name line ("Baseline district"), not its file stem
    assert proc.stdout.startswith("Baseline district with turnover.teacher=0.3: 2 replicates")
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["title"] == "Baseline district with turnover.teacher=0.3"
    assert summary["overrides"] == ["turnover.teacher=0.3"]
    assert summary["parameters"]["turnover"]["teacher"] == 0.3


def test_the_figure_title_names_the_overrides():
    from improvesim.analysis.plots import trajectories
    from improvesim.scenario_run import run_title
    from improvesim.sim.engine import run_replicates

    title = run_title("baseline", ["turnover.teacher=0.3"])
    figure = trajectories(run_replicates(load_scenario("baseline").with_overrides({"run.years": 1}), 2, 1), title)
    assert figure.axes[0].get_title().startswith("baseline with turnover.teacher=0.3")


def test_scenario_files_may_carry_a_name_and_description(tmp_path):
    named = tmp_path / "named.toml"
    named.write_text('name = "Our district"\ndescription = "What we run"\n[run]\nyears = 2\n')
    params = load_scenario(named)
    assert (params.title, params.description, params["run.years"]) == ("Our district", "What we run", 2)
    proc = improvesim("run", named, "--replicates", 2, "--out", tmp_path / "o", "--no-schools")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Our district: 2 replicates")
    # the next real error is still reported, not hidden behind the name
    named.write_text('name = "Our district"\n[turnover]\nteachr = 0.1\n')
    proc = improvesim("run", named, "--out", tmp_path / "p")
    assert proc.returncode == 2 and "turnover.teachr: unknown parameter" in proc.stderr
    named.write_text("name = 5\n")
    proc = improvesim("run", named, "--out", tmp_path / "p")
    assert proc.returncode == 2 and "name: must be text in quotes" in proc.stderr
    named.write_text('nmae = "x"\n')
    proc = improvesim("run", named, "--out", tmp_path / "p")
    assert proc.returncode == 2 and "nmae: unknown top-level key (did you mean 'name'?)" in proc.stderr


def test_bundled_names_resolve_everywhere(tmp_path):
    """A bare name is a bundled file, from any folder; a file of that name in the working folder wins."""
    assert load_scenario("baseline").values == load_scenario(ROOT / "scenarios/baseline.toml").values
    assert load_scenario("plans/deep_bench.toml").name == "deep_bench"
    proc = improvesim("params", "mandate", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0 and '"required"' in proc.stdout
    (tmp_path / "baseline").write_text("[run]\nyears = 2\n")
    proc = improvesim("params", "baseline", "--format", "json", cwd=tmp_path)
    assert '"name": "run.years"' in proc.stdout and json.loads(proc.stdout)["scenario"] == "baseline"


def test_an_experiment_names_its_scenario_beside_itself_first(tmp_path):
    from improvesim.experiments.spec import load_experiment

    (tmp_path / "baseline.toml").write_text("[run]\nyears = 3\n")
    (tmp_path / "e.toml").write_text('scenario = "baseline"\ndesign = "grid"\n[parameters]\n"coaching.coaches" = [1]\n')
    assert load_experiment(tmp_path / "e.toml").base["run.years"] == 3
    (tmp_path / "baseline.toml").unlink()
    assert load_experiment(tmp_path / "e.toml").base["run.years"] == 10  # the bundled baseline
    assert load_experiment("turnover_coaching").base.name == "baseline"
    (tmp_path / "e.toml").write_text('scenario = "nope"\ndesign = "grid"\n')
    with pytest.raises(ParameterError, match=r'e.toml: scenario: "nope": no such scenario file.*bundled: baseline'):
        load_experiment(tmp_path / "e.toml")


def test_outcome_descriptions_say_what_they_measure():
    lines = improvesim("outcomes").stdout.splitlines()
    for line in lines:
        name, meaning = line.split(maxsplit=1)
        assert not meaning.startswith(name) and ("_" not in name or name not in meaning), line


def test_version():
    import improvesim as package

    proc = improvesim("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"improvesim {package.__version__}"


def test_run_streams_batches_with_the_same_values(tmp_path):
    """Rows written batch by batch equal one batch's; replicates keep their numbers and seeds."""
    from improvesim.scenario_run import simulate_into
    from improvesim.sim.engine import run_replicates

    params = load_scenario("baseline").with_overrides(
        {"run.years": 2, "district.schools": 6, "rollout.initial_schools": 6}
    )
    (tmp_path / "a").mkdir()
    summary, _ = simulate_into(params, 5, 3, tmp_path / "a", batch=2)
    district = pd.read_parquet(tmp_path / "a" / "district.parquet")
    schools = pd.read_parquet(tmp_path / "a" / "schools.parquet")
    whole = run_replicates(params, 5, 3, record_schools=True)
    assert district["replicate"].tolist() == sorted(district["replicate"].tolist()) and district["replicate"].max() == 4
    assert (district["seed"].unique() == list(whole.seeds)).all()
    from improvesim.analysis.summary import district_frame, schools_frame

    pd.testing.assert_frame_equal(district, district_frame(whole))
    pd.testing.assert_frame_equal(schools, schools_frame(whole), check_categorical=False)
    assert summary["replicates"] == 5


def test_run_on_two_threads_writes_the_same_bytes_as_on_one(tmp_path):
    """Batches computed two at a time in threads: the same rows, values, summary and order as one
    at a time, and the same bytes of every Parquet file (row groups follow the rows, not the batches)."""
    import json

    from improvesim.scenario_run import simulate_into

    params = load_scenario("baseline").with_overrides(
        {"run.years": 2, "district.schools": 6, "rollout.initial_schools": 6}
    )
    written = {}
    for workers, batch in ((1, 256), (2, 2)):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        summary, result = simulate_into(params, 7, 3, folder, batch=batch, workers=workers)
        frames = {name: pd.read_parquet(folder / f"{name}.parquet") for name in ("district", "schools", "survival")}
        written[workers] = (json.dumps(summary, sort_keys=True, default=str), result.district.tobytes(), frames)
    assert written[1][0] == written[2][0] and written[1][1] == written[2][1]
    for name, frame in written[1][2].items():
        pd.testing.assert_frame_equal(frame, written[2][2][name], obj=name)
        assert (tmp_path / "w1" / f"{name}.parquet").read_bytes() == (tmp_path / "w2" / f"{name}.parquet").read_bytes()


def test_batches_keep_their_order_on_any_number_of_threads():
    from improvesim.sim.engine import parallel_batch, simulate_batches

    params = load_scenario("baseline").with_overrides(
        {"run.years": 1, "district.schools": 3, "rollout.initial_schools": 3}
    )
    seeds = list(range(10, 21))
    for workers in (1, 3):
        parts = list(
            simulate_batches([params] * len(seeds), seeds, batch=parallel_batch(len(seeds), 4, 3), workers=workers)
        )
        assert [s for p in parts for s in p.seeds] == seeds and max(len(p.seeds) for p in parts) == 3
    assert parallel_batch(100, 2) == 50 and parallel_batch(1000, 2) == 256 and parallel_batch(1, 8) == 1
    with pytest.raises(ValueError, match="at least 1"):
        next(simulate_batches([params] * len(seeds), seeds, workers=0))


def test_a_plan_names_its_base_beside_itself_first(tmp_path):
    from improvesim.analysis.compare import load_plan

    (tmp_path / "grant_cliff.toml").write_text("[coaching]\ncoaches = 9\n")
    (tmp_path / "p.toml").write_text('name = "P"\nbase = "grant_cliff"\n[succession]\ndeep_bench = 0.9\n')
    plan = load_plan(tmp_path / "p.toml")
    assert (plan.name, plan.params["coaching.coaches"], plan.params["succession.deep_bench"]) == ("P", 9, 0.9)
    (tmp_path / "grant_cliff.toml").unlink()
    bundled = load_scenario("grant_cliff")
    plan = load_plan(tmp_path / "p.toml")
    assert plan.params["coaching.coaches"] == bundled["coaching.coaches"]
    assert plan.params["coaching.funded_years"] == bundled["coaching.funded_years"]
    (tmp_path / "p.toml").write_text('base = "p"\n')
    with pytest.raises(ParameterError, match="base: bases chain deeper than"):
        load_plan(tmp_path / "p.toml")


def test_names_inside_files_never_resolve_against_the_working_folder(tmp_path):
    """A file called `baseline` or `grant_cliff` in the working folder cannot change a bundled experiment or plan."""
    (tmp_path / "baseline").write_text("[district]\nschools = 20\n[rollout]\ninitial_schools = 20\n")
    (tmp_path / "grant_cliff").write_text("[coaching]\ncoaches = 9\n")
    proc = improvesim("params", "plans/deep_bench", "--format", "json", cwd=tmp_path)
    coaches = next(r for r in json.loads(proc.stdout)["parameters"] if r["name"] == "coaching.coaches")
    assert coaches["value"] == load_scenario("grant_cliff")["coaching.coaches"]
    code = "from improvesim.experiments.spec import load_experiment as l; print(l('turnover_coaching').base['district.schools'])"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.strip() == "40"


def test_observed_patterns_are_shown_only_for_the_bundled_case_as_shipped(tmp_path):
    changed = improvesim(
        "run",
        "viano2024_case",
        "--replicates",
        4,
        "--set",
        "coaching.coaches=3",
        "--out",
        tmp_path / "a",
        "--no-schools",
    )
    assert changed.returncode == 0, changed.stderr
    assert "Observed patterns" not in changed.stdout and "nan" not in changed.stdout
    assert "observed" not in json.loads((tmp_path / "a" / "summary.json").read_text())
    (tmp_path / "viano2024_case.toml").write_text("[district]\nschools = 30\n[rollout]\ninitial_schools = 30\n")
    mine = improvesim(
        "run", tmp_path / "viano2024_case.toml", "--replicates", 2, "--out", tmp_path / "b", "--no-schools"
    )
    assert mine.returncode == 0 and "Observed patterns" not in mine.stdout
    text = (tmp_path / "b" / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text


def test_the_compile_notice_looks_where_numba_files_the_kernels(tmp_path):
    """The first-use check reads each listed kernel's index where Numba itself files it: an empty
    cache folder is a first use, and an unwritable one sends Numba (and the check) to
    ``__pycache__`` beside the sources instead of announcing a compile on every command."""
    from improvesim.sim.precompile import kernels_cached, load_signatures

    assert improvesim("run", "baseline", "--replicates", 1, "--out", tmp_path / "run").returncode == 0
    assert kernels_cached()  # what a first run compiles is cached now
    assert kernels_cached([])  # nothing listed: nothing to compile ahead
    probe = (
        "import json; from improvesim.sim.precompile import kernels_cached, load_signatures;"
        "from improvesim.sim.submodels import sensemaking;"
        "print(json.dumps([kernels_cached(), sensemaking._school_month._cache._cache_file._index_path]))"
    )

    def check(cache_dir):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    cached, index = check(tmp_path / "empty")
    assert not cached and index.startswith(str(tmp_path / "empty"))
    unwritable = tmp_path / "a_file"
    unwritable.write_text("not a folder")
    cached, index = check(unwritable / "cache")
    assert not index.startswith(str(unwritable))  # Numba's fallback, which the check reads
    assert not cached or Path(index).exists()
    assert load_signatures()  # the list the check reads is shipped


def test_the_resume_command_of_an_interrupted_sweep_repeats_its_posterior_and_workers(tmp_path):
    """A sweep stopped part way prints the exact command that finishes it: a posterior is part of that command."""
    import argparse

    from improvesim.cli import _interrupted_message
    from improvesim.experiments.sweep import SweepInterrupted

    args = argparse.Namespace(
        command="sensitivity", experiment="sobol_full", posterior="viano2024", workers=2, dask_local=None
    )
    exc = SweepInterrupted(tmp_path, tmp_path, 10, 100, KeyboardInterrupt())
    message = _interrupted_message(args, exc)
    assert message.endswith(
        f"improvesim sensitivity sobol_full --out {tmp_path} --resume --posterior viano2024 --workers 2"
    )


def test_shared_store_is_an_option_of_the_commands_that_write_a_sweep_store(capsys):
    """--shared-store (a --scheduler cluster's workers write their own parts) goes with the commands
    that sweep into a store; calibrate, whose results are not parts, refuses it as any unknown option."""
    from improvesim.cli import build_parser

    parser = build_parser()
    for command in ("sweep", "sensitivity", "frontier"):
        args = parser.parse_args([command, "x", "--scheduler", "tcp://10.0.0.5:8786", "--shared-store"])
        assert args.shared_store and not parser.parse_args([command, "x"]).shared_store
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["calibrate", "x", "--scheduler", "tcp://10.0.0.5:8786", "--shared-store"])
    assert refused.value.code == 2 and "--shared-store" in capsys.readouterr().err
