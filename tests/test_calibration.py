"""Calibration (issue 17): ABC-SMC with pyabc, the screening, the posterior carried into runs, adoption, SBC.

Calibrations here are tiny (a few dozen particles, 2 or 3 generations, 3 to
4 replicates per particle): they check the machinery, not the posterior.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from test_bad_input import cli, refused

from improvesim.analysis import calibration as abc
from improvesim.calibrate import AdoptionError, adopt, calibrate, coverage, coverage_floor, sbc
from improvesim.experiments.design import build_design
from improvesim.experiments.plan import make_plan
from improvesim.experiments.spec import load_experiment
from improvesim.experiments.sweep import tasks_for
from improvesim.sim import schema
from improvesim.sim.end_of_run import end_of_run_outcomes
from improvesim.sim.engine import run_replicates
from improvesim.sim.params import ParameterError, load_scenario
from improvesim.sim.posterior import (
    load_posterior,
    params_per_replicate,
    pinned_constants,
    posterior_from_table,
    replicate_params,
)
from improvesim.sim.rng import derive_seeds

EXPERIMENT = ROOT / "experiments" / "calibrate_viano2024.toml"
TINY_ABC = {"population_size": 16, "max_populations": 2}


def tiny(tmp_path: Path, calibrated: int = 8, population: int = 16, generations: int = 2, replicates: int = 3) -> Path:
    """The bundled calibration experiment at tiny settings, as a file in ``tmp_path``."""
    text = EXPERIMENT.read_text()
    text = text.replace(
        'scenario = "viano2024_case"', f'scenario = "{(ROOT / "scenarios/viano2024_case.toml").as_posix()}"'
    )
    text = re.sub(r"^population_size = \d+", f"population_size = {population}", text, count=1, flags=re.M)  # [abc]
    text = text.replace("max_populations = 10", f"max_populations = {generations}")
    text = text.replace("replicates = 1 ", f"replicates = {replicates} ", 1)
    text = re.sub(r"^\[structure\]\nreplicates = \d+\nseed = \d+\n", "", text, count=1, flags=re.M)
    path = tmp_path / "cal.toml"
    path.write_text(text)
    cal = abc.load_calibration(path)
    assert cal.abc.population_size == population and cal.replicates == replicates and cal.structure is None
    if calibrated < 8:  # the others become nuisance parameters
        text = path.read_text()
        lines = [f'"{p.name}" = {{ min = {p.low}, max = {p.high} }}' for p in cal.calibrated[calibrated:]]
        for line in lines:
            text = text.replace(line + "\n", "")
        text = text.replace("[nuisance]\n", "[nuisance]\n" + "\n".join(lines) + "\n")
        path.write_text(text)
    return path


# --- the experiment file ------------------------------------------------------------------------


def test_the_bundled_experiment_fits_the_four_case_counts_and_calibrates_what_the_screening_named():
    cal = abc.load_calibration("calibrate_viano2024")
    assert {p.key for p in cal.targets} == {
        "viano_authentic_by_year_3",
        "viano_partial_at_end",
        "viano_authentic_all_years",
        "viano_long_disengagement",
    }
    morris = pd.read_csv(ROOT / "docs/validation/screening_case_morris.csv")
    assert set(cal.names) == set(abc.screened_constants(morris, 8))
    screened = load_experiment(ROOT / "experiments/morris_case_screening.toml")
    priors = {p.name: (p.low, p.high) for p in (*cal.calibrated, *cal.nuisance)}
    assert priors == {f.name: (f.low, f.high) for f in screened.factors}  # the screening asked the same question


def test_screening_score_weighs_each_outcome_alike():
    morris = pd.DataFrame(
        {
            "outcome": ["a", "a", "a", "b", "b", "b"],
            "factor": ["x", "y", "z", "x", "y", "z"],
            "mu_star": [10.0, 5.0, 0.0, 0.001, 0.0, 0.002],
        }
    )
    assert abc.screened_constants(morris, 2, floor=0.0) == ["x", "z"]  # z leads the small outcome b


def test_screening_score_leaves_out_an_outcome_no_constant_moves_beyond_noise():
    morris = pd.DataFrame(
        {
            "outcome": ["a", "a", "a", "b", "b", "b"],
            "factor": ["x", "y", "z", "x", "y", "z"],
            "mu_star": [10.0, 5.0, 0.0, 0.001, 0.0, 0.002],
        }
    )
    assert abc.screened_constants(morris, 2, floor=0.01) == ["x", "y"]  # b is noise: y's 5.0 on a counts


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        (('distance = "euclidean"', 'distance = "cosine"'), "abc.distance", "euclidean, manhattan, maximum"),
        (
            ('"time.hours_needed" = { min = 4.0, max = 16.0 }', '"time.hours_needed" = 6.0'),
            "calibrated.time.hours_needed",
            "{ min = LOW, max = HIGH }",
        ),
        (
            ('"sensemaking.drift" = { min', '"sensemaking.drfit" = { min'),
            "calibrated.sensemaking.drfit",
            "sensemaking.drift",
        ),
        (('"viano_partial_at_end"', '"viano_partial"'), "targets", "viano_partial_at_end"),
        (("population_size = 500", "population_size = 3"), "abc.population_size", "from 10"),
        (
            (
                '"improvement.tool_decay" = { min = 0.0, max = 0.1 }',
                '"improvement.tool_decay" = { min = 0.0, max = 0.9 }',
            ),
            "calibrated.improvement.tool_decay",
            "from 0 to 0.5",
        ),
        (("[structure]\nreplicates = 200", "[structure]\nreplicate = 200"), "structure.replicate", "replicates"),
        (("[structure]\nreplicates = 200", "[structure]\nreplicates = 2"), "structure.replicates", "from 10"),
        (
            ("[structure]\nreplicates = 200\nseed = 1", "[structure]\nreplicates = 200\nseed = -1"),
            "structure.seed",
            "from 0",
        ),
    ],
)
def test_a_bad_experiment_is_refused_naming_file_key_and_what_is_allowed(tmp_path, capsys, change, key, says):
    good = EXPERIMENT.read_text()
    assert change[0] in good, f"the bundled experiment no longer has {change[0]!r}: the test would run it whole"
    bad = tmp_path / "bad.toml"
    bad.write_text(good.replace(*change))
    line = refused(capsys, "calibrate", bad, "--out", tmp_path / "out", says=(str(bad), key, says))
    assert "Traceback" not in line
    assert not (tmp_path / "out").exists()


# --- the posterior file -------------------------------------------------------------------------


def _posterior_file(tmp_path: Path, table: pd.DataFrame, name: str = "post.csv") -> Path:
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


GOOD = pd.DataFrame({"sensemaking.pause_rate": [0.05, 0.15], "sensemaking.drift": [0.02, 0.12], "weight": [0.25, 0.75]})


@pytest.mark.parametrize(
    ("table", "key", "says"),
    [
        (GOOD.rename(columns={"weight": "w"}), "weight", "no 'weight' column"),
        (GOOD.rename(columns={"sensemaking.drift": "sensemaking.drfit"}), "sensemaking.drfit", "sensemaking.drift"),
        (GOOD.assign(weight=[0.5, 0.6]), "weight", "sum to 1"),
        (GOOD.assign(weight=[-0.25, 1.25]), "weight", "at least 0"),
        (GOOD.assign(**{"sensemaking.drift": [0.02, 7.0]}), "sensemaking.drift", "from 0 to 0.2"),
    ],
)
def test_a_bad_posterior_is_refused_by_run_compare_sensitivity_and_validate(tmp_path, capsys, table, key, says):
    path = _posterior_file(tmp_path, table)
    for command in (
        ("run", "viano2024_case", "--replicates", 2, "--out", tmp_path / "r"),
        ("compare", "plans/deep_bench", "plans/integrated_time", "--replicates", 2, "--out", tmp_path / "c"),
        ("sensitivity", "morris_case_screening", "--out", tmp_path / "s"),
        ("validate", "--replicates", 2, "--out", tmp_path / "v"),
    ):
        refused(capsys, *command, "--posterior", path, says=(str(path), key, says))
        assert not any((tmp_path / d).exists() for d in ("r", "c", "s", "v"))


def test_a_sweep_experiment_is_not_a_calibration(tmp_path, capsys):
    refused(
        capsys, "calibrate", "morris_case_screening", "--out", tmp_path / "o", says=("design", "calibrate_viano2024")
    )


def test_a_missing_posterior_names_the_bundled_ones(tmp_path, capsys):
    refused(capsys, "run", "baseline", "--posterior", tmp_path / "nope.parquet", says=("nope.parquet", "--posterior"))


# --- the posterior carried into runs ------------------------------------------------------------


def test_each_replicate_draws_from_the_posterior_by_its_own_seed_whatever_the_batch():
    posterior = posterior_from_table(GOOD, "test")
    params = load_scenario("viano2024_case")
    seeds = derive_seeds(5, 40)
    drawn = replicate_params(params, seeds, posterior)
    pause = np.array([p["sensemaking.pause_rate"] for p in drawn])
    assert set(pause) == {0.05, 0.15}
    assert 0.55 < np.mean(pause == 0.15) < 0.95  # weight 0.75 (40 draws: 3 standard errors either side)
    # the drawn particle keeps both constants together (a joint draw, not two marginal ones)
    assert all((p["sensemaking.pause_rate"] == 0.15) == (p["sensemaking.drift"] == 0.12) for p in drawn)
    one_batch = end_of_run_outcomes(run_replicates(params, 40, 5, posterior=posterior))
    small_batches = end_of_run_outcomes(run_replicates(params, 40, 5, posterior=posterior, batch=7))
    for name in one_batch:
        np.testing.assert_array_equal(one_batch[name], small_batches[name])
    plain = end_of_run_outcomes(run_replicates(params, 40, 5))
    assert not np.array_equal(plain["engaged_share"], one_batch["engaged_share"])


def test_params_per_replicate_are_the_runs_of_run_replicates(tmp_path):
    path = _posterior_file(tmp_path, GOOD)
    params = load_scenario("viano2024_case")
    each = params_per_replicate(path, params, 12, 3)
    assert len(each) == 12
    result = run_replicates(params, 12, 3, posterior=load_posterior(path))
    assert [p["sensemaking.pause_rate"] for p in result.params] == [p["sensemaking.pause_rate"] for p in each]


def test_a_design_factor_or_a_changed_value_wins_over_the_posterior(tmp_path):
    posterior = posterior_from_table(GOOD, "test")
    base = load_scenario("viano2024_case")
    assert pinned_constants(posterior, base) == set()
    changed = base.with_overrides({"sensemaking.drift": 0.19})
    assert pinned_constants(posterior, changed) == {"sensemaking.drift"}
    drawn = replicate_params(changed, derive_seeds(1, 10), posterior, pinned_constants(posterior, changed))
    assert {p["sensemaking.drift"] for p in drawn} == {0.19}
    assert {p["sensemaking.pause_rate"] for p in drawn} == {0.05, 0.15}
    # a sweep: the design's factor keeps the design's value in every run
    exp = replace(load_experiment(ROOT / "experiments/morris_case_screening.toml"), posterior=posterior)
    task = next(tasks_for(exp, make_plan(exp, build_design(exp)), set()))
    assert "sensemaking.pause_rate" in task.pinned and "sensemaking.drift" in task.pinned
    assert exp.fingerprint() != replace(exp, posterior=None).fingerprint()


def test_run_with_a_posterior_says_its_intervals_include_parameter_uncertainty(tmp_path, capsys):
    import json

    path = _posterior_file(tmp_path, GOOD)
    code, out, err = cli(
        capsys, "run", "viano2024_case", "--replicates", 4, "--out", tmp_path / "a", "--no-schools", "--posterior", path
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["intervals"].startswith("replicate noise and parameter uncertainty")
    code, out, err = cli(capsys, "run", "viano2024_case", "--replicates", 4, "--out", tmp_path / "b", "--no-schools")
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["intervals"].startswith("replicate noise only")


# --- ABC-SMC ------------------------------------------------------------------------------------


def test_the_distance_is_zero_for_counts_that_round_into_the_observed_range():
    counts = np.array([[2.4, 8.0], [1.4, 7.6], [2.0, 5.0]])
    g = abc.gaps(counts, np.array([2.0, 6.0]), np.array([2.0, 8.0]))
    np.testing.assert_allclose(g, [[0, 0], [0.1, 0], [0, 0.5]])
    d = abc.GapDistance("euclidean")({"counts": counts}, {"low": np.array([2.0, 6.0]), "high": np.array([2.0, 8.0])})
    assert d == pytest.approx((0 + 0.1 + 0.5) / 3)


def test_the_tolerance_falls_even_when_most_weight_sits_on_the_last_one():
    """Distances of one simulated case take few values: when half the weight sits on the last
    tolerance, the median would repeat it; the tolerance then falls to the next distance below."""
    epsilon = abc._make_epsilon_class()(alpha=0.5, weighted=True)
    epsilon._look_up = {0: 7.66}
    stuck = pd.DataFrame({"distance": [7.66, 7.66, 7.66, 5.2, 3.1], "w": [0.2] * 5})
    epsilon._update(1, stuck)
    assert epsilon(1) == 5.2
    falling = pd.DataFrame({"distance": [5.2, 3.1, 3.1, 1.0, 0.0], "w": [0.2] * 5})
    epsilon._update(2, falling)
    assert epsilon(2) == pytest.approx(3.1)  # the weighted median, below the last tolerance: kept
    epsilon._update(3, pd.DataFrame({"distance": [3.1, 3.1, 3.1], "w": [1 / 3] * 3}))
    assert epsilon(3) == 0.0  # nothing below: demand an exact match


def test_kde_mode_is_the_joint_mode_not_the_marginal_medians():
    rng = np.random.default_rng(0)
    # two clusters on a diagonal; the heavier one's centre is the mode, the medians mix coordinates
    a = rng.normal([0.2, 0.8], 0.03, (300, 2))
    b = rng.normal([0.8, 0.2], 0.03, (300, 2))
    x = np.vstack([a, b])
    w = np.r_[np.full(300, 0.6), np.full(300, 0.4)]
    table = pd.DataFrame(
        {"sensemaking.drift": x[:, 0] * 0.2, "sensemaking.pause_rate": x[:, 1] * 0.2, "weight": w / w.sum()}
    )
    cal = replace(
        abc.load_calibration(EXPERIMENT),
        calibrated=(abc.Prior("sensemaking.drift", 0.0, 0.2), abc.Prior("sensemaking.pause_rate", 0.0, 0.2)),
    )
    mode = abc.kde_mode(table, cal)
    assert mode["sensemaking.drift"] == pytest.approx(0.04, abs=0.01)
    assert mode["sensemaking.pause_rate"] == pytest.approx(0.16, abs=0.01)


def test_same_seed_same_posterior_whatever_the_workers_and_resumable(tmp_path):
    cal = abc.load_calibration(tiny(tmp_path))
    serial = tmp_path / "serial.db"
    abc.run_abc(cal, serial)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        parallel = tmp_path / "parallel.db"
        abc.run_abc(cal, parallel, submit=pool.submit, workers=2)
    import pyabc

    def table(db):
        return abc.particle_table(pyabc.History(f"sqlite:///{db}"), cal.names)

    pd.testing.assert_frame_equal(table(serial), table(parallel))
    # interrupted after one generation, then resumed: the same two generations
    halted = tmp_path / "halted.db"
    abc.run_abc(cal, halted, abc=replace(cal.abc, max_populations=1))
    abc.run_abc(cal, halted, resume=True)
    pd.testing.assert_frame_equal(table(serial), table(halted))
    other = tmp_path / "other.db"
    abc.run_abc(cal, other, seed=cal.seed + 1)
    assert not table(other).equals(table(serial))


def test_calibrate_writes_the_posterior_whole_and_adoption_makes_its_point_the_defaults(tmp_path, capsys):
    spec = tiny(tmp_path)
    out = tmp_path / "cal"
    code, stdout, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1)
    assert code == 0, err
    for name in (
        "posterior.parquet",
        "particles.parquet",
        "generations.csv",
        "point.toml",
        "pairs.png",
        "report.md",
        "history.db",
        "calibration.json",
    ):
        assert (out / name).is_file(), name
    assert not list(tmp_path.glob(".cal.*"))  # no staging or resume folder left
    posterior = load_posterior(out / "posterior.parquet")  # a valid posterior file
    table = pd.read_parquet(out / "posterior.parquet")
    assert list(table.columns) == [*abc.load_calibration(spec).names, "weight", "population", "distance"]
    assert table["weight"].sum() == pytest.approx(1.0) and len(table) == 16
    code, _, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1)
    assert code == 2 and "--force" in err  # never overwritten unasked
    # adoption into a copy of the checkout's layout
    repo = tmp_path / "repo"
    (repo / "sim").mkdir(parents=True)
    (repo / "sim" / "schema.py").write_text("")
    written, bundled = adopt(out, repo, "viano2024")
    adopted = schema.read_adopted(written)
    assert adopted["provenance"]["experiment"] == "cal"
    with (out / "point.toml").open("rb") as f:
        point = {f"{s}.{k}": v for s, body in tomllib.load(f).items() for k, v in body.items()}
    params = {p.name: p for p in schema.with_adopted(schema.PARAMETERS, adopted)}
    for name, value in point.items():
        assert params[name].default == pytest.approx(value) and params[name].source == "Calibrated"
    assert params["sensemaking.threshold"].source == "FirstEdition"  # Calibrated before, not calibrated now
    assert load_posterior(bundled).constants == posterior.constants
    with pytest.raises(ValueError, match="exists"):
        adopt(out, repo, "viano2024")


def test_with_one_case_per_particle_the_posterior_carries_the_nuisance_draws_and_runs_draw_them(tmp_path, capsys):
    """One simulated case per particle: each accepted particle's nuisance draw is kept beside its
    calibrated constants, so the posterior is joint and --posterior draws the nuisance constants too."""
    spec = tiny(tmp_path, replicates=1)
    out = tmp_path / "cal"
    code, _, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1)
    assert code == 0, err
    cal = abc.load_calibration(spec)
    nuisance = [p.name for p in cal.nuisance]
    table = pd.read_parquet(out / "posterior.parquet")
    assert list(table.columns) == [*cal.names, *nuisance, "weight", "population", "distance"]
    for p in cal.nuisance:
        assert table[p.name].between(p.low, p.high).all() and table[p.name].nunique() > 1, p.name
    posterior = load_posterior(out / "posterior.parquet")
    base = load_scenario("viano2024_case")
    runs = params_per_replicate(posterior, base, 8, 1)
    rows = {tuple(run[c] for c in posterior.constants) for run in runs}
    particles = {tuple(r) for r in table[list(posterior.constants)].itertuples(index=False)}
    assert rows <= particles  # each run takes one particle's calibrated and nuisance values together
    assert "improvement.own_time_belief" in posterior.constants


def test_simulation_based_calibration_covers_the_truth(tmp_path):
    """Reduced SBC: 8 synthetic cases, 2 calibrated constants (the screening's top two), tiny ABC.

    Criterion, fixed before the first run: under a correct posterior the
    number of 90% intervals covering the truth is Binomial(8, 0.9); each
    constant must cover at least the floor with P(X < floor) <= 0.02 / 2
    (Bonferroni over the two constants): 5 of 8.
    """
    cal = abc.load_calibration(tiny(tmp_path, calibrated=2, population=16, generations=2))
    cal = replace(cal, sbc=replace(cal.sbc, population_size=16, max_populations=2, replicates=2))
    table = sbc(cal, 8, None, 1, tmp_path)
    cover = coverage(table, 0.9, 0.02 / 2)
    assert coverage_floor(8, 0.9, 0.01) == 5 and coverage_floor(20, 0.9, 0.02) == 15
    assert cover["passed"].all(), cover


def test_bundled_experiment_refuses_resume_without_an_interrupted_run(tmp_path):
    with pytest.raises(abc.CalibrationError, match="nothing to resume"):
        calibrate(
            abc.load_calibration(tiny(tmp_path)), tmp_path / "o", force=False, resume=True, submit=None, workers=1
        )


def test_a_posterior_column_the_schema_lacks_is_a_parameter_error():
    with pytest.raises(ParameterError, match="not a numeric model parameter"):
        posterior_from_table(GOOD.rename(columns={"sensemaking.drift": "run.seed"}), "x")


def test_the_posterior_is_the_last_generation_whose_effective_sample_size_meets_the_floor():
    even = np.full(10, 0.1)
    spread = np.r_[np.full(5, 0.15), np.full(5, 0.05)]  # ESS 8 of 10
    collapsed = np.r_[0.91, np.full(9, 0.01)]  # ESS about 1.2 of 10
    table = pd.DataFrame(
        {
            "improvement.own_time": np.arange(30) / 30,
            "weight": np.r_[even, spread, collapsed],
            "population": np.repeat([0, 1, 2], 10),
        }
    )
    assert abc.posterior_population(table, 0.2)["population"].unique().tolist() == [1]
    assert abc.posterior_population(table, 0.0)["population"].unique().tolist() == [2]
    assert abc.posterior_population(table, 0.9)["population"].unique().tolist() == [0]
    assert abc.posterior_population(table, 0.2)["weight"].sum() == pytest.approx(1.0)


def test_the_run_stops_after_a_generation_whose_effective_sample_size_falls_below_the_floor(tmp_path):
    """Generation 0 samples the prior (equal weights); a later one has importance weights, unequal,
    so a floor of nearly the whole population stops the run after generation 1 of at most 3."""
    cal = abc.load_calibration(tiny(tmp_path, generations=3))
    strict = replace(cal.abc, min_ess_fraction=0.999)
    info = abc.run_abc(cal, tmp_path / "h.db", abc=strict)
    assert info.generations["t"].tolist() == [0, 1]
    assert "effective sample size fell below" in info.stopped
    import pyabc

    table = abc.particle_table(pyabc.History(f"sqlite:///{tmp_path / 'h.db'}"), cal.names)
    assert abc.posterior_population(table, 0.999)["population"].unique().tolist() == [0]


def test_a_run_resumed_after_it_met_a_stopping_rule_computes_no_more_generations(tmp_path):
    """A calibration whose run had stopped (here at the effective-sample-size floor, after generation
    1 of at most 3) but whose results could not be written (the disk filled, Ctrl-C): ``--resume``
    ran generation 2 as well, so its posterior was not the uninterrupted run's (found by a break-test)."""
    import pyabc

    cal = abc.load_calibration(tiny(tmp_path, generations=3))
    strict = replace(cal.abc, min_ess_fraction=0.999)
    db = tmp_path / "h.db"
    first = abc.run_abc(cal, db, abc=strict)
    before = abc.particle_table(pyabc.History(f"sqlite:///{db}"), cal.names)
    again = abc.run_abc(cal, db, abc=strict, resume=True)
    assert again.generations["t"].tolist() == first.generations["t"].tolist() == [0, 1]
    assert again.stopped == first.stopped
    pd.testing.assert_frame_equal(abc.particle_table(pyabc.History(f"sqlite:///{db}"), cal.names), before)


# --- the structure step -------------------------------------------------------------------------


def _two_constant_calibration():
    return replace(
        abc.load_calibration(EXPERIMENT),
        calibrated=(abc.Prior("sensemaking.drift", 0.0, 0.2), abc.Prior("sensemaking.pause_rate", 0.0, 0.2)),
    )


def test_the_structure_step_keeps_the_admissible_particles_and_renormalises_their_weights():
    table = pd.DataFrame({"sensemaking.drift": [0.01, 0.05, 0.1], "weight": [0.5, 0.3, 0.2]})
    verdicts = pd.DataFrame({"admissible": [False, True, True]})
    kept = abc.admissible(table, verdicts)
    assert kept["sensemaking.drift"].tolist() == [0.05, 0.1]
    assert kept["weight"].tolist() == pytest.approx([0.6, 0.4])
    with pytest.raises(abc.CalibrationError, match="no particle"):
        abc.admissible(table, verdicts.assign(admissible=False))
    with pytest.raises(abc.CalibrationError, match="2 verdicts for 3"):
        abc.admissible(table, verdicts.iloc[:2])


def test_the_point_is_the_kde_mode_when_it_meets_the_criteria_else_the_densest_particle_that_does():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal([0.2, 0.8], 0.03, (300, 2)), rng.normal([0.8, 0.2], 0.03, (300, 2))])
    w = np.r_[np.full(300, 0.6), np.full(300, 0.4)]
    table = pd.DataFrame({"sensemaking.drift": x[:, 0] * 0.2, "sensemaking.pause_rate": x[:, 1] * 0.2})
    table["weight"] = w / w.sum()
    cal = _two_constant_calibration()
    point, rule = abc.structured_point(table, cal, lambda p: True)
    assert rule == "kde mode" and point == abc.kde_mode(table, cal)
    # the criteria forbid drift above 0.1: the mode (drift 0.04) is fine
    point, rule = abc.structured_point(table, cal, lambda p: p["sensemaking.drift"] <= 0.1)
    assert rule == "kde mode"
    # they forbid drift below 0.1: the mode fails, and the answer is a particle of the other cluster
    tried = []

    def holds(p):
        tried.append(p)
        return p["sensemaking.drift"] > 0.1

    point, rule = abc.structured_point(table, cal, holds)
    assert rule.startswith("particle of highest density") and point["sensemaking.drift"] > 0.1
    assert point in [dict(zip(cal.names, row, strict=True)) for row in table[list(cal.names)].to_numpy().tolist()]
    assert all(p["sensemaking.drift"] <= 0.1 for p in tried[:-1])  # every earlier candidate failed
    with pytest.raises(abc.CalibrationError, match="neither"):
        abc.structured_point(table, cal, lambda p: False)


def test_a_particles_constants_are_its_calibrated_and_drawn_nuisance_values_typed_for_the_schema():
    cal = abc.load_calibration(EXPERIMENT)
    row = {p.name: p.low for p in cal.calibrated} | {p.name: p.high for p in cal.nuisance}
    table = pd.DataFrame([row | {"weight": 1.0}])
    (constants,) = abc.particle_constants(table, cal)
    assert constants == abc._typed(row)
    assert set(constants) == set(cal.names) | {p.name for p in cal.nuisance}


def _structure_experiment(tmp_path: Path, priors: str) -> Path:
    """A small calibration with a structure step (10 replicates an arm) over ``priors``."""
    path = tmp_path / "structured.toml"
    path.write_text(
        f'scenario = "{(ROOT / "scenarios/viano2024_case.toml").as_posix()}"\n'
        'targets = ["viano_long_disengagement", "viano_partial_at_end"]\n'
        "replicates = 1\nseed = 3\n"
        "[abc]\npopulation_size = 12\nmax_populations = 2\n"
        f"[calibrated]\n{priors}\n"
        "[structure]\nreplicates = 10\nseed = 1\n"
    )
    return path


def test_calibrate_with_a_structure_step_keeps_only_the_particles_meeting_the_criteria(tmp_path, capsys):
    near_defaults = (
        '"sensemaking.drift" = { min = 0.02, max = 0.03 }\n"sensemaking.pause_rate" = { min = 0.17, max = 0.18 }'
    )
    spec = _structure_experiment(tmp_path, near_defaults)
    out = tmp_path / "cal"
    code, _, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1)
    assert code == 0, err
    verdicts = pd.read_csv(out / "structure.csv")
    case = pd.read_parquet(out / "posterior_case.parquet")
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert len(verdicts) == len(case) == 12
    assert len(posterior) == int(verdicts["admissible"].sum()) > 0
    assert posterior["weight"].sum() == pytest.approx(1.0)
    kept = case[verdicts["admissible"].to_numpy(dtype=bool)].reset_index(drop=True)
    pd.testing.assert_frame_equal(posterior.drop(columns="weight"), kept.drop(columns="weight"))
    assert "## The structure step" in (out / "report.md").read_text()
    progress = [line for line in err.splitlines() if line.startswith("ABC.structure INFO: structure step:")]
    assert (
        progress[-1] == f"ABC.structure INFO: structure step: 12 of 12 particles, {len(posterior)} meet every criterion"
    )
    assert len(progress) == 10  # each tenth of 12 particles crossed once, and the last
    assert json.loads((out / "calibration.json").read_text())["point_rule"] in (out / "report.md").read_text()


def test_a_structure_step_that_keeps_no_particle_says_so_and_writes_nothing(tmp_path, capsys):
    easy = (
        '"improvement.own_time" = { min = 0.95, max = 1.0 }\n"improvement.principle_gain" = { min = 0.95, max = 1.0 }'
    )
    spec = _structure_experiment(tmp_path, easy)
    code, _, err = cli(capsys, "calibrate", spec, "--out", tmp_path / "cal", "--workers", 1)
    last = err.strip().splitlines()[-1]  # after pyabc's progress lines
    assert code == 2 and "Traceback" not in err
    assert last.startswith("improvesim calibrate: error: ") and "no particle" in last and "structure" in last
    assert not (tmp_path / "cal").exists()
    assert "--resume" in last and (tmp_path / ".cal.calibrating" / "history.db").is_file()  # the generations kept
    code, _, err = cli(capsys, "calibrate", spec, "--out", tmp_path / "cal", "--workers", 1, "--resume")
    assert code == 2 and "no particle" in err.strip().splitlines()[-1] and "Start <ABCSMC" not in err  # no rerun


@pytest.mark.parametrize("particles", [1, 5, 8])
def test_a_posterior_too_small_for_a_kde_is_a_calibration_error_not_a_crash(particles):
    """The structure step can keep fewer particles than there are constants: no KDE, so no joint point.
    That is a :class:`CalibrationError` (one line, exit 2, generations kept), not scipy's error."""
    cal = abc.load_calibration(EXPERIMENT)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({p.name: p.low + (p.high - p.low) * rng.random(particles) for p in cal.calibrated})
    table["weight"] = 1.0 / particles
    with pytest.raises(abc.CalibrationError, match=f"{particles} particles cannot carry"):
        abc.kde_mode(table, cal)
    with pytest.raises(abc.CalibrationError, match="cannot carry"):
        abc.structured_point(table, cal, lambda p: False)


def test_ctrl_c_in_the_structure_step_on_dask_workers_says_one_line_and_resume_gives_the_same_files(tmp_path):
    """Ctrl-C reaches the whole process group, Dask's workers too: one line, exit 130, nothing in the result
    folder; ``--resume`` (on other workers) then writes the same files as a run never interrupted."""
    spec = _structure_experiment(
        tmp_path,
        '"sensemaking.drift" = { min = 0.02, max = 0.03 }\n"sensemaking.pause_rate" = { min = 0.17, max = 0.18 }',
    )
    spec.write_text(spec.read_text().replace("[structure]\nreplicates = 10", "[structure]\nreplicates = 40"))
    command = [sys.executable, "-m", "improvesim.cli", "calibrate", str(spec)]
    out, whole = tmp_path / "cal", tmp_path / "whole"
    subprocess.run([*command, "--out", str(whole), "--workers", "1"], check=True, capture_output=True)
    err = tmp_path / "err.txt"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [*command, "--out", str(out), "--dask-local", "2"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while "Done <ABCSMC" not in err.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # into the structure step (12 particles, 7 arms of 40 replicates each)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)
    lines = [line for line in err.read_text().splitlines() if not line.startswith("ABC")]  # pyabc's progress
    assert code == 130 and len(lines) == 1 and "--resume" in lines[0], lines
    assert not out.exists() and (tmp_path / ".cal.calibrating" / "history.db").is_file()
    done = subprocess.run([*command, "--out", str(out), "--workers", "1", "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("posterior.parquet", "posterior_case.parquet", "structure.csv", "particles.parquet", "marginals.csv"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    assert tomllib.loads((out / "point.toml").read_text()) == tomllib.loads((whole / "point.toml").read_text())


def test_the_point_checked_is_the_point_written_and_an_integer_constant_is_written_whole(tmp_path, monkeypatch):
    """An integer constant calibrated (coaching.coaches) is written as an integer a scenario accepts, rounded
    as a particle's constants are; the structure check runs on the point as written, not an unrounded one."""
    from improvesim import calibrate as calibrate_module
    from improvesim.analysis import structure

    point = {"coaching.coaches": 3.6, "sensemaking.drift": 0.0123456}
    meta = {"experiment": "x", "seed": 1, "date": "d", "commit": "c", "point_rule": "kde mode"}
    text = calibrate_module.point_toml(point, meta)
    assert "coaches = 4\n" in text and "drift = 0.01235\n" in text
    (tmp_path / "point.toml").write_text(text)
    params = load_scenario(tmp_path / "point.toml")
    assert params["coaching.coaches"] == 4 and params["sensemaking.drift"] == 0.01235
    seen = []
    monkeypatch.setattr(structure, "verdicts", lambda constants, **kw: seen.append(constants) or {"admissible": True})
    cal = replace(abc.load_calibration(EXPERIMENT), structure=abc.StructureSettings(replicates=10, seed=1))
    assert calibrate_module.point_holds(point, cal)
    assert seen == [{"coaching.coaches": 4, "sensemaking.drift": 0.01235}]


GOOD_ADOPTED = '[provenance]\nexperiment = "x"\n\n[values]\n"sensemaking.drift" = 0.02479\n"coaching.coaches" = 4\n'


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("[values]", "[values"), "TOML"),
        (("[values]", "[valeus]"), "valeus"),
        (('"sensemaking.drift" = 0.02479\n"coaching.coaches" = 4\n', "\n[x]\na = 1\n"), "x"),
        (("[values]\n", '[values]\n"sensemaking.nosuch" = 1.0\n'), "values.sensemaking.nosuch"),
        (("0.02479", "5.0"), "values.sensemaking.drift"),
        (("0.02479", '"0.05"'), "values.sensemaking.drift"),
        (("0.02479", "true"), "values.sensemaking.drift"),
        (("0.02479", "nan"), "values.sensemaking.drift"),
        (("= 4\n", "= 3.5\n"), "values.coaching.coaches"),
    ],
)
def test_a_damaged_calibrated_file_is_refused_naming_the_file_and_key(tmp_path, change, key):
    """sim/calibrated.toml sets the defaults: a damaged one is refused with one line naming the file and
    the key, never read silently (text read as a number, 3.5 coaches truncated, a misnamed [values] table
    leaving every constant at its first edition's value)."""
    path = tmp_path / "calibrated.toml"
    path.write_text(GOOD_ADOPTED)
    good = {p.name: p.default for p in schema.with_adopted(schema.PARAMETERS, schema.read_adopted(path))}
    assert good["sensemaking.drift"] == 0.02479 and good["coaching.coaches"] == 4
    old, new = change
    assert old in GOOD_ADOPTED
    path.write_text(GOOD_ADOPTED.replace(old, new))
    with pytest.raises(schema.AdoptedFileError) as caught:
        schema.with_adopted(schema.PARAMETERS, schema.read_adopted(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and key in message and "\n" not in message, message


def _adoptable(folder: Path) -> Path:
    """A hand-made calibration folder that adopt accepts (posterior, point, provenance)."""
    folder.mkdir()
    table = pd.DataFrame({"coaching.coaches": [3.0, 4.0], "sensemaking.drift": [0.02, 0.03], "weight": [0.5, 0.5]})
    table.to_parquet(folder / "posterior.parquet", index=False)
    (folder / "point.toml").write_text("[coaching]\ncoaches = 4\n[sensemaking]\ndrift = 0.025\n")
    (folder / "calibration.json").write_text(json.dumps({"experiment": "x", "point_rule": "kde mode"}))
    return folder


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("point.toml", "[coaching\n", "point.toml: not valid TOML"),
        ("point.toml", "coaches = 4\n", "point.toml: coaches: not a table"),
        ("point.toml", "[coaching]\ncoaches = 3.5\n", "values.coaching.coaches: got 3.5"),
        ("point.toml", "[sensemaking]\ndrift = 5.0\n", "values.sensemaking.drift: got 5.0"),
        ("point.toml", "[sensemaking]\nnosuch = 1.0\n", "sensemaking.nosuch: not a parameter"),
        ("calibration.json", "{not json", "calibration.json: not valid JSON"),
        ("calibration.json", "[1, 2]", "calibration.json: not a JSON object"),
    ],
)
def test_adopt_refuses_a_damaged_folder_in_one_line_and_writes_nothing(tmp_path, name, text, said):
    repo = tmp_path / "repo"
    (repo / "sim").mkdir(parents=True)
    (repo / "sim" / "schema.py").write_text("")
    folder = _adoptable(tmp_path / "cal")
    written, _ = adopt(folder, repo, "x")
    assert schema.with_adopted(schema.PARAMETERS, schema.read_adopted(written))  # the good folder is adoptable
    written.unlink()
    (folder / name).write_text(text)
    with pytest.raises(ValueError, match=re.escape(said)) as caught:
        adopt(folder, repo, "x", force=True)
    assert isinstance(caught.value, AdoptionError) and "\n" not in str(caught.value)
    assert not written.exists()


@pytest.mark.parametrize("kept", [[True, True], [True, False]])
def test_the_structure_report_has_a_table_of_first_failures_only_when_a_particle_failed(kept):
    from improvesim.calibrate import structure_report

    cal = replace(abc.load_calibration(EXPERIMENT), structure=abc.StructureSettings(replicates=10, seed=1))
    case = pd.DataFrame({"sensemaking.drift": [0.02, 0.03], "weight": [0.5, 0.5]})
    verdicts = pd.DataFrame({"admissible": kept, "failed": ["" if k else "partial_before_authentic" for k in kept]})
    text = structure_report(cal, case, verdicts, abc.admissible(case, verdicts), "kde mode")
    assert ("| First criterion failed |" in text) == (not all(kept))
    assert ("Every particle meets every criterion." in text) == all(kept)
    assert all(kept) or "| `partial_before_authentic` | 1 | 50.0% |" in text


def test_resume_refuses_generations_kept_from_another_experiment(tmp_path, capsys):
    """Generations kept from one experiment, resumed after the file changed (another seed, prior or
    target), would give results that mix two calibrations and state only the second: refused, nothing
    written; restored, the file resumes."""
    easy = (
        '"improvement.own_time" = { min = 0.95, max = 1.0 }\n"improvement.principle_gain" = { min = 0.95, max = 1.0 }'
    )
    spec = _structure_experiment(tmp_path, easy)
    out = tmp_path / "cal"
    code, _, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1)
    assert code == 2 and (tmp_path / ".cal.calibrating" / "history.db").is_file()  # generations kept
    original = spec.read_text()
    spec.write_text(original.replace("seed = 3", "seed = 4"))
    code, _, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1, "--resume")
    last = err.strip().splitlines()[-1]
    assert code == 2 and "not what the kept generations ran" in last and "reruns only" not in last, last
    assert not out.exists() and (tmp_path / ".cal.calibrating" / "history.db").is_file()
    spec.write_text(original)
    code, _, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1, "--resume")
    assert code == 2 and "no particle" in err.strip().splitlines()[-1]  # resumed: the same step's verdict


def test_a_damaged_adopted_calibration_gives_every_command_one_line_and_exit_2(tmp_path):
    """sim/calibrated.toml is read when the model is imported, before the command line can catch
    anything: the entry point (improvesim.entry) guards that import."""
    from conftest import improvesim

    from improvesim.sim.schema import CALIBRATED_FILE

    kept = CALIBRATED_FILE.read_bytes()
    try:
        CALIBRATED_FILE.write_bytes(kept + b"\ngarbage = = \n")
        proc = improvesim("params")
    finally:
        CALIBRATED_FILE.write_bytes(kept)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not proc.stdout
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("improvesim: error: ") and str(CALIBRATED_FILE) in line and "TOML" in line
    assert improvesim("params").returncode == 0  # restored


def test_a_disk_that_fills_while_pyabc_writes_its_history_says_one_line_and_keeps_the_generations(
    tmp_path, capsys, monkeypatch
):
    """SQLite's own "database or disk is full" (a History held to a few pages, so that SQLite itself
    refuses), raised as SQLAlchemy wraps it while the generations run: one line naming the folder,
    exit status 2, the --resume command; the output folder is not created (it printed a traceback)."""
    import sqlalchemy as sa

    from improvesim import calibrate as calibrate_module

    def history_fills(cal, db, **kwargs):
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as connection:
            connection.execute(sa.text("PRAGMA max_page_count = 4"))
            connection.execute(sa.text("CREATE TABLE particles (x BLOB)"))
            for _ in range(64):
                connection.execute(sa.text("INSERT INTO particles VALUES (:x)"), {"x": bytes(4096)})

    monkeypatch.setattr(calibrate_module.abc, "run_abc", history_fills)
    out = tmp_path / "cal"
    line = refused(
        capsys, "calibrate", tiny(tmp_path), "--out", out, "--workers", 1, says=("database or disk is full",)
    )
    assert f"cannot write {tmp_path / '.cal.calibrating'}/" in line and line.endswith(f"--out {out} --resume")
    assert not out.exists() and (tmp_path / ".cal.calibrating").is_dir()


def test_a_disk_that_fills_while_the_results_are_written_says_how_to_resume_and_resume_writes_them(
    tmp_path, capsys, monkeypatch
):
    """The generations ran; the results folder could not be written (the disk filled as the pair
    plot was saved): one line with the --resume command (it gave none), the generations kept and
    the output folder not made; after room is made, --resume writes the results without
    computing a generation more."""
    import errno

    from improvesim import calibrate as calibrate_module

    drawn = calibrate_module.pair_plot

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def figure_on_a_full_disk(*args, **kwargs):
        figure = drawn(*args, **kwargs)
        figure.savefig = disk_full
        return figure

    spec, out = tiny(tmp_path, population=10, generations=1, replicates=1), tmp_path / "cal"
    monkeypatch.setattr(calibrate_module, "pair_plot", figure_on_a_full_disk)
    line = refused(capsys, "calibrate", spec, "--out", out, "--workers", 1, "--quiet", says=("could not be written",))
    assert line.endswith(f"improvesim calibrate {spec} --out {out} --resume reruns only what follows them"), line
    kept = tmp_path / ".cal.calibrating" / "history.db"
    assert not out.exists() and kept.is_file()
    generations = len(pd.read_sql("SELECT * FROM populations", f"sqlite:///{kept}"))
    monkeypatch.setattr(calibrate_module, "pair_plot", drawn)
    code, _, err = cli(capsys, "calibrate", spec, "--out", out, "--workers", 1, "--resume")
    assert code == 0 and (out / "report.md").is_file() and (out / "pairs.png").is_file(), err
    assert len(pd.read_sql("SELECT * FROM populations", f"sqlite:///{out / 'history.db'}")) == generations
    assert not list(tmp_path.glob(".cal.*"))
