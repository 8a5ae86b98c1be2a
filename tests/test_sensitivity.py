"""Sensitivity analysis: the pipeline on functions with known indices, guards, and the model."""

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, improvesim
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from SALib.test_functions import Ishigami

from improvesim.analysis import sensitivity as sa
from improvesim.experiments.spec import load_experiment
from improvesim.experiments.sweep import run_sweep
from improvesim.sensitivity import analyse_any, analyse_study

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
# analytic indices for a = 7, b = 0.1 (Ishigami and Homma 1990; Saltelli et al. 2008)
ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def stochastic_store_rows(Y, replicates, noise, seed=0):
    """Outcome rows as a sweep store holds them: replicates with noise, in shuffled order."""
    rng = np.random.default_rng(seed)
    sets = np.repeat(np.arange(len(Y)), replicates)
    values = Y[sets] + rng.normal(0, noise, len(sets))
    frame = pd.DataFrame({"set": sets, "status": "ok", "y": values})
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_sobol_pipeline_recovers_the_ishigami_indices():
    X = sobol_sample.sample(ISHIGAMI, 1024, calc_second_order=True, seed=1)
    rows = stochastic_store_rows(Ishigami.evaluate(X), replicates=4, noise=0.05)
    Y, notes = sa.set_means(rows, "y", len(X), horizon_months=120)
    table, s2 = sa.sobol_indices(ISHIGAMI, Y, second_order=True, seed=2)
    tolerance_s1 = 2 * table["S1_conf"].to_numpy() + 0.01
    tolerance_st = 2 * table["ST_conf"].to_numpy() + 0.01
    assert (np.abs(table["S1"].to_numpy() - ISHIGAMI_S1) <= tolerance_s1).all(), table
    assert (np.abs(table["ST"].to_numpy() - ISHIGAMI_ST) <= tolerance_st).all(), table
    # the only interaction is x1 with x3: S13 = ST1 - S1_1 = 0.2437
    assert abs(s2.loc["x1", "x3"] - 0.2437) < 0.1 and abs(s2.loc["x1", "x2"]) < 0.1
    assert notes["undefined_runs"] == 0


def test_convergence_uses_valid_prefixes():
    X = sobol_sample.sample(ISHIGAMI, 256, calc_second_order=False, seed=1)
    conv = sa.convergence("sobol", ISHIGAMI, X, Ishigami.evaluate(X), second_order=False, levels=4)
    assert sorted(set(conv["base_samples"])) == [64, 128, 256]
    full = conv[conv["samples"] == "full"]
    assert list(full.sort_values("ST", ascending=False)["factor"]) == ["x1", "x2", "x3"]


@pytest.mark.parametrize("second_order", [False, True])
def test_the_indices_are_salibs_serial_numbers(second_order):
    """sobol_indices takes SALib's parallel path on one process (less work): every index and interval must
    be its serial path's, to the bit, with outputs that vary and with A and B constant (where the serial
    path sets the intervals to 0 itself)."""
    from SALib.analyze import sobol

    k, n = 6, 64
    problem = {"num_vars": k, "names": [f"x{i}" for i in range(k)], "bounds": [[0.0, 1.0]] * k}
    step = 2 * k + 2 if second_order else k + 2
    varying = np.random.default_rng(5).random((n, step))
    flat_ends = varying.copy()
    flat_ends[:, [0, -1]] = 0.5  # every A and B row alike
    for Y in (varying.reshape(-1), flat_ends.reshape(-1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SALib warns of the constant A and B
            table, s2 = sa.sobol_indices(problem, Y, second_order, seed=3)
            serial = sobol.analyze(
                problem, Y, calc_second_order=second_order, num_resamples=sa.RESAMPLES, conf_level=sa.CONF_LEVEL, seed=3
            )
        for index in ("S1", "S1_conf", "ST", "ST_conf"):
            assert table[index].to_numpy().tobytes() == serial[index].tobytes(), index
        if second_order:
            np.testing.assert_array_equal(s2.to_numpy(), serial["S2"])


def test_first_order_rows_of_a_second_order_design_give_the_same_indices():
    X2 = sobol_sample.sample(ISHIGAMI, 256, calc_second_order=True, seed=1)
    X1 = sobol_sample.sample(ISHIGAMI, 256, calc_second_order=False, seed=1)
    assert np.array_equal(sa.first_order_rows(X2[:, 0], 3), X1[:, 0])
    full, _ = sa.sobol_indices(ISHIGAMI, Ishigami.evaluate(X2), second_order=True, seed=4)
    reduced, _ = sa.sobol_indices(ISHIGAMI, sa.first_order_rows(Ishigami.evaluate(X2), 3), second_order=False, seed=4)
    assert np.allclose(full["ST"], reduced["ST"], atol=0.02) and np.allclose(full["S1"], reduced["S1"], atol=0.02)


def test_morris_pipeline_on_a_linear_function_gives_its_coefficients():
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    X = morris_sample.sample(problem, 20, num_levels=4, seed=3)
    Y = 2.0 * X[:, 0] + 0.5 * X[:, 1]
    table = sa.morris_indices(problem, X, Y, levels=4)
    assert np.allclose(table["mu_star"], [2.0, 0.5, 0.0]) and np.allclose(table["sigma"], 0.0, atol=1e-12)


def test_sobol_refuses_results_that_do_not_fit_the_design():
    X = sobol_sample.sample(ISHIGAMI, 64, calc_second_order=False, seed=1)
    with pytest.raises(sa.SensitivityError, match="do not fit a Saltelli design"):
        sa.sobol_indices(ISHIGAMI, Ishigami.evaluate(X), second_order=True)  # sampled without second order
    with pytest.raises(sa.SensitivityError, match="N = 128"):
        sa.sobol_indices(ISHIGAMI, Ishigami.evaluate(X), second_order=False, base_samples=128)


def test_missing_rows_and_undefined_outcomes_are_reported_not_dropped():
    rows = pd.DataFrame({"set": [0, 0, 2, 2], "status": "ok", "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(sa.SensitivityError, match=r"sample rows \[1\]"):
        sa.set_means(rows, "y", sets=3, horizon_months=120)
    times = pd.DataFrame(
        {"set": [0, 0, 1, 1], "status": "ok", "time_to_first_institutionalization": [50.0, np.nan, np.nan, np.nan]}
    )
    Y, notes = sa.set_means(times, "time_to_first_institutionalization", sets=2, horizon_months=120)
    assert Y.tolist() == [85.5, 121.0] and notes["undefined_runs"] == 3 and notes["censored_at_months"] == 121
    other = times.rename(columns={"time_to_first_institutionalization": "authentic_share_y10"})
    with pytest.raises(sa.SensitivityError, match="undefined in 3 runs"):
        sa.set_means(other, "authentic_share_y10", sets=2, horizon_months=120)


def test_noise_decomposition():
    rows = stochastic_store_rows(np.array([0.0, 10.0] * 50), replicates=20, noise=1.0)
    noise = sa.noise_decomposition(rows, "y", replicates=20)
    assert noise["replicate_variance"] == pytest.approx(1.0, rel=0.15)
    assert noise["noise_share_of_runs"] < 0.1 and noise["noise_share_of_means"] < noise["noise_share_of_runs"]


# --- on the model ----------------------------------------------------------------------

MODEL_STUDY = f"""
scenario = "{(ROOT / "scenarios/baseline.toml").as_posix()}"
design = "sobol"
samples = 64
second_order = false
replicates = 3
seed = 11
outcomes = ["institutionalized_share", "authentic_share", "cost_total"]
[set]
"run.years" = 8
[parameters]
"time.integrated" = {{ min = 0.0, max = 1.0 }}
"coaching.coaches" = {{ min = 1, max = 8 }}
"costs.coach_salary" = {{ min = 60000.0, max = 140000.0 }}
"""


@pytest.fixture(scope="module")
def model_study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sobol")
    (tmp / "study.toml").write_text(MODEL_STUDY)
    run_sweep(load_experiment(tmp / "study.toml"), tmp / "store", workers=1, progress=False)
    return tmp / "store", analyse_study(tmp / "store")[0]


def test_model_indices_are_sane(model_study):
    _, folder = model_study
    indices = pd.read_csv(folder / "indices.csv")
    for _, row in indices.iterrows():
        assert row["ST"] + row["ST_conf"] >= row["S1"] - row["S1_conf"], row.to_dict()
    inst = indices[indices["outcome"] == "institutionalized_share"].set_index("factor")
    # the model never reads salaries when it decides what schools do
    salary = inst.loc["costs.coach_salary"]
    assert abs(salary["ST"]) <= salary["ST_conf"] + 0.02 and abs(salary["S1"]) <= salary["S1_conf"] + 0.02
    assert inst.loc["time.integrated", "ST"] > 0.1
    cost = indices[indices["outcome"] == "cost_total"].set_index("factor")
    assert cost.loc["costs.coach_salary", "ST"] > 0.1


def test_the_report_and_figures_are_written(model_study):
    _, folder = model_study
    report = (folder / "report.md").read_text()
    assert "mean over its replicates" in report and "Matter most" in report and "Noise between replicates" in report
    assert "(no `--posterior`): replicate noise only." in report
    assert (folder / "figures" / "institutionalized_share-indices.png").stat().st_size > 10_000
    assert {"quarter", "half", "full"} == set(pd.read_csv(folder / "convergence.csv")["samples"])
    assert len(pd.read_csv(folder / "noise.csv")) == 3


def test_the_analysis_on_two_processes_writes_the_bytes_of_one(model_study, tmp_path):
    """The outcomes' SALib calls are shared out among worker processes (improvesim.sensitivity._indices);
    every table and the report must be the ones a single process writes."""
    store, folder = model_study
    copy = tmp_path / "store"
    shutil.copytree(store, copy, ignore=shutil.ignore_patterns("sensitivity*"))
    two, analysed = analyse_study(copy, processes=2)
    assert analysed == 3
    for name in ("indices.csv", "convergence.csv", "noise.csv", "report.md"):
        assert (two / name).read_bytes() == (folder / name).read_bytes(), name


def test_from_store_gives_delta_and_pawn(model_study):
    store, _ = model_study
    folder, _ = analyse_any(store)
    table = pd.read_csv(folder / "indices.csv")
    assert {"delta", "delta_conf", "pawn_median"} <= set(table.columns)
    assert "(no `--posterior`): replicate noise only." in (folder / "report.md").read_text()
    inst = table[table["outcome"] == "institutionalized_share"].set_index("factor")
    assert inst.loc["time.integrated", "delta"] > inst.loc["costs.coach_salary", "delta"]


def test_the_command_refuses_a_grid_design(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        f'scenario = "{(ROOT / "scenarios/baseline.toml").as_posix()}"\ndesign = "grid"\n'
        '[parameters]\n"turnover.teacher" = [0.1, 0.2]\n'
    )
    proc = improvesim("sensitivity", str(path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and 'needs "sobol" or "morris"' in proc.stderr and "Traceback" not in proc.stderr


def test_families_give_indices_per_family(tmp_path):
    body = MODEL_STUDY.replace("samples = 64", 'samples = 32\ngroups = "families"').replace(
        "replicates = 3", "replicates = 2"
    )
    body = body.replace(
        '"costs.coach_salary" = { min = 60000.0, max = 140000.0 }',
        '"costs.coach_salary" = { min = 60000.0, max = 140000.0 }\n"coaching.visits_per_month" = { min = 0.5, max = 2.0 }',
    )
    (tmp_path / "fam.toml").write_text(body)
    exp = load_experiment(tmp_path / "fam.toml")
    run_sweep(exp, tmp_path / "store", progress=False)
    indices = pd.read_csv(analyse_study(tmp_path / "store")[0] / "indices.csv")
    assert set(indices["factor"]) == {"time", "coaching", "costs"}
    # 3 families without second order: 32 x (3 + 2) sets, not 32 x (4 + 2) for 4 parameters
    assert len(pd.read_parquet(tmp_path / "store" / "design.parquet")) == 32 * 5


# --- guards against misreporting ----------------------------------------------------------


def test_censoring_is_at_each_runs_own_horizon():
    from improvesim.sim.censoring import censor, restricted_times

    times = np.array([50.0, np.nan, 150.0, np.nan])
    horizons = np.array([72, 72, 168, 168])
    durations, observed = censor(times, horizons)
    assert durations.tolist() == [50.0, 72.0, 150.0, 168.0] and observed.tolist() == [True, False, True, False]
    # comparable across horizons: everything later than the shortest horizon counts as "not within 72 months"
    values, censored_at = restricted_times(times, horizons)
    assert values.tolist() == [50.0, 73.0, 73.0, 73.0] and censored_at == 73.0
    with pytest.raises(ValueError, match="positive"):
        censor(times, 0)


def test_set_means_censor_runs_of_different_horizons_at_the_shortest():
    rows = pd.DataFrame(
        {
            "set": [0, 0, 1, 1],
            "status": "ok",
            "horizon_months": [72, 72, 168, 168],
            "time_to_first_institutionalization": [50.0, np.nan, 150.0, 100.0],
        }
    )
    Y, notes = sa.set_means(rows, "time_to_first_institutionalization", sets=2, horizon_months=120)
    assert Y.tolist() == [61.5, 73.0] and notes["horizons_vary"] and notes["censored_at_months"] == 73
    assert "censored at the shortest" in sa.undefined_sentence(notes)


def table(values, confs, index="ST"):
    return pd.DataFrame({"factor": list("abc"), index: values, f"{index}_conf": confs})


def test_undefined_indices_are_never_ranked():
    text = sa.ranking_sentence(table([np.nan, 0.4, 0.1], [np.nan, 0.05, 0.05]), "ST")
    assert "Undefined (NaN), not ranked: a" in text and "**a**" not in text and "nan" not in text
    text = sa.ranking_sentence(table([np.nan] * 3, [np.nan] * 3), "ST")
    assert "Nothing is ranked" in text and "clearly" not in text


def test_impossible_indices_are_flagged_and_no_order_is_called_clear():
    text = sa.ranking_sentence(table([2.0, 0.3, 0.1], [0.0, 0.05, 0.05]), "ST")
    assert "Impossible values: a" in text and "clearly" not in text


def test_no_order_is_clear_when_replicate_noise_dominates():
    t = table([0.8, 0.2, 0.1], [0.05, 0.05, 0.05])
    assert "clearly first" in sa.ranking_sentence(t, "ST", noise_share=0.05)
    text = sa.ranking_sentence(t, "ST", noise_share=0.87)
    assert "clearly" not in text and "87%" in text


def test_noise_under_common_random_numbers_leaves_out_the_seeds_shared_effect():
    """Replicate k of every set shares a seed: a seed's effect moves every set's mean alike."""
    rng = np.random.default_rng(5)
    sets, replicates = 40, 10
    seed_effect = rng.normal(0, 3.0, replicates)  # large, shared by every set
    signal = np.linspace(0, 1, sets)
    rows = pd.DataFrame(
        {
            "set": np.repeat(np.arange(sets), replicates),
            "replicate": np.tile(np.arange(replicates), sets),
            "status": "ok",
        }
    )
    rows["y"] = signal[rows["set"]] + seed_effect[rows["replicate"]] + rng.normal(0, 0.1, len(rows))
    independent = sa.noise_decomposition(rows, "y", replicates)
    crn = sa.noise_decomposition(rows, "y", replicates, common_random_numbers=True)
    # the true noise in the set means is 0.1^2 / 10 = 0.001 against a spread of about 0.09
    assert crn["noise_share_of_means"] < 0.05 < 1.0 < independent["noise_share_of_means"]


def test_too_small_designs_are_refused_before_any_run(tmp_path):
    from improvesim.cli import main

    for design, samples in (("sobol", 1), ("morris", 1)):
        path = tmp_path / f"{design}.toml"
        path.write_text(
            f'scenario = "{(ROOT / "scenarios/baseline.toml").as_posix()}"\ndesign = "{design}"\nsamples = {samples}\n'
            '[parameters]\n"turnover.teacher" = { min = 0.1, max = 0.3 }\n"time.integrated" = { min = 0.0, max = 1.0 }\n'
        )
        assert main(["sensitivity", str(path), "--out", str(tmp_path / design), "--quiet"]) == 2
        assert not (tmp_path / design).exists()


def test_the_delta_figure_says_what_delta_is():
    from improvesim.analysis.plots import delta_bars

    t = pd.DataFrame({"factor": ["a", "b"], "delta": [0.3, 0.1], "delta_conf": [0.02, 0.02], "S1": [0.2, 0.0]})
    ax = delta_bars(t.assign(S1_conf=0.01), "y").axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("delta" in label for label in labels) and not any("ST" in label for label in labels)
    assert "share of the variance" not in ax.get_xlabel().lower()


def test_a_bar_chart_of_many_factors_shows_the_largest_and_says_so():
    from improvesim.analysis.plots import MOST_BARS, sobol_bars

    n = MOST_BARS + 12
    st = np.linspace(0.0, 0.5, n)
    t = pd.DataFrame({"factor": [f"f{i}" for i in range(n)], "ST": st, "ST_conf": 0.01, "S1": st / 2, "S1_conf": 0.01})
    ax = sobol_bars(t, "y").axes[0]
    shown = [label.get_text() for label in ax.get_yticklabels()]
    assert len(shown) == MOST_BARS and shown[-1] == f"f{n - 1}" and "f0" not in shown
    assert f"{MOST_BARS} largest of {n}" in ax.get_title()


# --- sensitivity --from on any store ------------------------------------------------------

FROM_GRID = f"""
scenario = "{(ROOT / "scenarios/baseline.toml").as_posix()}"
design = "grid"
replicates = 2
seed = 8
outcomes = ["engaged_share", "time_to_first_institutionalization"]
[parameters]
"run.years" = [3, 6]
"governance.participation" = ["optional", "required"]
"turnover.teacher" = [0.05, 0.1, 0.15, 0.2, 0.3]
"""


@pytest.fixture(scope="module")
def from_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("from")
    (tmp / "grid.toml").write_text(FROM_GRID)
    run_sweep(load_experiment(tmp / "grid.toml"), tmp / "store", progress=False)
    return tmp / "store"


@pytest.mark.parametrize("dtype", [object, "str"])
def test_categorical_factors_are_coded_whatever_pandas_calls_their_type(dtype):
    from improvesim.sensitivity import _numeric_design

    per_set = pd.DataFrame(
        {"governance.participation": pd.Series(["required", "optional", "required"], dtype=dtype), "x": [1, 2, 2]}
    )
    X, names = _numeric_design(per_set)
    assert names == ["governance.participation", "x"] and X[:, 0].tolist() == [1.0, 0.0, 1.0]


def test_each_run_is_censored_at_its_own_horizon_read_from_the_plan(from_store):
    from improvesim.sensitivity import _meta, _outcome_table

    table = _outcome_table(from_store, _meta(from_store)).merge(pd.read_parquet(from_store / "plan.parquet"))
    assert (table["horizon_months"] == table["run.years"] * 12).all() and set(table["horizon_months"]) == {36, 72}


def test_from_a_store_too_small_for_delta_is_refused(tmp_path):
    from improvesim.cli import main

    (tmp_path / "grid.toml").write_text(
        FROM_GRID.replace('"turnover.teacher" = [0.05, 0.1, 0.15, 0.2, 0.3]', "").replace("[3, 6]", "[3]")
    )
    run_sweep(load_experiment(tmp_path / "grid.toml"), tmp_path / "store", progress=False)
    assert main(["sensitivity", "--from", str(tmp_path / "store")]) == 2
    assert not (tmp_path / "store" / "sensitivity-from").exists()


def test_nothing_analysed_exits_non_zero_with_the_reason(tmp_path, capsys):
    from improvesim.cli import main

    body = FROM_GRID.replace('"run.years" = [3, 6]', '"district.schools" = [5, 6, 7, 8, 9]').replace(
        "[parameters]", '[set]\n"rollout.initial_schools" = 10\n[parameters]'
    )  # every run asks for more initial schools than its district has
    (tmp_path / "failing.toml").write_text(body)
    run_sweep(load_experiment(tmp_path / "failing.toml"), tmp_path / "store", progress=False)
    plan = pd.read_parquet(tmp_path / "store" / "plan.parquet")
    assert not pd.api.types.is_numeric_dtype(plan["governance.participation"])  # a categorical factor is coded
    assert main(["sensitivity", "--from", str(tmp_path / "store")]) == 1
    assert "no outcome could be analysed" in capsys.readouterr().err
    report = (tmp_path / "store" / "sensitivity-from" / "report.md").read_text()
    assert "have no successful run" in report


# --- what the intervals include (issue 17) ---------------------------------------------------------


def _posterior_meta(posterior, factors, crn=True):
    from improvesim.sim.params import load_scenario

    return {
        "posterior": str(posterior),
        "base": load_scenario("baseline").as_nested(),
        "base_name": "baseline",
        "factors": [{"name": f} for f in factors],
        "replicates": 10,
        "common_random_numbers": crn,
    }


def test_the_report_says_which_constants_each_replicate_drew_and_that_crn_fixes_the_draws():
    from improvesim.sensitivity import uncertainty_sentence
    from improvesim.sim.posterior import load_posterior, resolve_posterior

    bundled = resolve_posterior("viano2024")
    constants = load_posterior(bundled).constants
    text = uncertainty_sentence(_posterior_meta(bundled, ["time.hours_needed", "coaching.coaches"]))
    drawn = [c for c in constants if c != "time.hours_needed"]
    assert f"drew {len(drawn)} constants ({', '.join(drawn)}) from the posterior viano2024 " in text
    assert "time.hours_needed kept the scenario's or the design's value" in text
    assert "parameter uncertainty as well as replicate noise" in text
    assert "every row averages over the same 10 draws" in text and "not which 10 draws were made" in text
    assert str(bundled.parent) not in text  # a bundled posterior by its name, not this machine's path


def test_without_common_random_numbers_each_row_draws_its_own_particles(tmp_path):
    import shutil

    from improvesim.sensitivity import uncertainty_sentence
    from improvesim.sim.posterior import resolve_posterior

    own = tmp_path / "mine.parquet"
    shutil.copy(resolve_posterior("viano2024"), own)
    text = uncertainty_sentence(_posterior_meta(own, ["coaching.coaches"], crn=False))
    assert f"from the posterior {own} " in text and "kept the" not in text
    assert "drew its own particle: the 95% intervals include both" in text and "same 10 draws" not in text
    assert uncertainty_sentence({"posterior": None}).endswith("(no `--posterior`): replicate noise only.")


@pytest.mark.parametrize("seed", [0, 2**40, 2**63 - 1])
def test_every_experiment_seed_gives_the_same_intervals_twice(seed):
    """SALib takes seed 0 for "no seed" (Sobol', delta and PAWN resampled differently each
    time) and its delta and PAWN refuse seeds of 2**32 and above; an experiment's seed may be
    anything from 0 to 2**63 - 1 (found by trying to break issue 18)."""
    X = sobol_sample.sample(ISHIGAMI, 64, calc_second_order=False, seed=1)
    Y = Ishigami.evaluate(X)
    Xm = morris_sample.sample(ISHIGAMI, 10, num_levels=4, seed=1)
    for analyse in (
        lambda: sa.morris_indices(ISHIGAMI, Xm, Ishigami.evaluate(Xm), 4, seed),
        lambda: sa.sobol_indices(ISHIGAMI, Y, second_order=False, seed=seed)[0],
        lambda: sa.delta_indices(ISHIGAMI, X, Y, seed),
        lambda: sa.pawn_indices(ISHIGAMI, X, Y, seed),
    ):
        pd.testing.assert_frame_equal(analyse(), analyse(), check_exact=True)
