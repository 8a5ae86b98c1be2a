"""Plan comparison: common random numbers, intervals, costs, the report in a real browser, bad plans."""

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, improvesim

from improvesim.analysis.compare import (
    best_table,
    compare,
    costs_table,
    differences_table,
    load_plan,
    pairwise_table,
    under_condition,
)
from improvesim.analysis.compare_report import money, number, percent
from improvesim.sim.engine import simulate
from improvesim.sim.params import ParameterError, defaults

PLANS = ROOT / "scenarios" / "plans"


def short(plan):
    return type(plan)(plan.name, plan.description, plan.params.with_overrides({"run.years": 6}), plan.path)


@pytest.fixture(scope="module")
def plans():
    return [short(load_plan(PLANS / n)) for n in ("grant_only.toml", "integrated_time.toml", "deep_bench.toml")]


def test_bundled_plans_load_and_differ_from_the_reference():
    files = sorted(PLANS.glob("*.toml"))
    assert len(files) >= 5
    loaded = [load_plan(f) for f in files]
    reference = load_plan(PLANS / "grant_only.toml").params.values
    for plan in loaded:
        assert plan.name and plan.description
        if plan.path.name != "grant_only.toml":
            assert plan.params.values != reference, plan.name


def test_common_random_numbers_pair_the_runs(plans):
    comp = compare(plans, ["typical", "high"], replicates=6, seed=3)
    seeds = {key: comp.seeds[key] for key in comp.seeds}
    assert len({tuple(s) for s in seeds.values()}) == 1  # every plan and condition: the same seeds
    # and identical plans give identical runs, so their paired difference is exactly zero
    same = compare([plans[0], type(plans[0])("Copy", "", plans[0].params)], ["typical"], 6, 3)
    assert (differences_table(same)["difference"] == 0).all()
    pairs = pairwise_table(same)
    assert (pairs["probability_tie"] == 1).all() and (pairs["probability_beats"] == 0).all()
    assert best_table(same)["probability_best"].tolist() == [0.5, 0.5]


def test_intervals_shrink_as_replicates_grow(plans):
    # the uncertainty of the mean paired difference falls as replicates grow
    comp_small = compare(plans[:2], ["typical"], 10, seed=1)
    comp_large = compare(plans[:2], ["typical"], 80, seed=1)

    def se(comp):
        ref = comp.at_years[("typical", comp.reference)]["authentic"][5]
        mine = comp.at_years[("typical", plans[1].name)]["authentic"][5]
        diff = mine - ref
        return diff.std(ddof=1) / np.sqrt(len(diff))

    assert se(comp_large) < se(comp_small)


def test_costs_add_up_from_the_cost_parameters():
    p = defaults().with_overrides(
        {
            "run.years": 3,
            "coaching.coaches": 3,
            "turnover.coach": 0.0,
            "coaching.funded_years": 10.0,
            "time.protected_hours": 0.0,
            "knowledge.hub_staff": 0.5,
            "knowledge.convenings_per_year": 2,
            "costs.coach_salary": 90_000.0,
            "costs.hub_salary": 100_000.0,
            "costs.convening": 4_000.0,
        }
    )
    total = simulate([p], [1]).metric("cost_total")[0, -1]
    assert total == pytest.approx(3 * 90_000 * 3 + 0.5 * 100_000 * 3 + 2 * 3 * 4_000)


def test_conditions_scale_turnover():
    p = defaults()
    assert under_condition(p, "high")["turnover.teacher"] == pytest.approx(0.24)
    assert under_condition(p, "low")["turnover.principal"] == pytest.approx(0.12)
    assert len(under_condition(p, "pandemic").shocks) == len(p.shocks) + 1


def test_cost_per_additional_school(plans):
    comp = compare(plans[:2], ["typical"], 10, seed=2)
    c = costs_table(comp).set_index("plan")
    row = c.loc[plans[1].name]
    ref_cash, cash = comp.cash("typical", plans[0].name), comp.cash("typical", plans[1].name)
    assert row["extra_cost"] == pytest.approx((cash - ref_cash).mean())
    assert row["grant_funded"] + row["district_funded"] == pytest.approx(row["total_cost"])
    if row["verdict"] in ("gain", "uncertain gain"):
        assert row["cost_per_additional_school"] == pytest.approx(row["extra_cost"] / row["extra_schools"])
    else:
        assert np.isnan(row["cost_per_additional_school"])
    assert pd.isna(c.loc[plans[0].name, "verdict"])  # the reference has none


@pytest.mark.parametrize(
    "value,text",
    [
        (757_211, "$760,000"),
        (1_149_000, "$1.1 million"),
        (3_000_000, "$3.0 million"),
        (12_400_000, "$12 million"),
        (-45_120, "-$45,000"),
        (98_760, "$99,000"),
        (0.2, "$0"),
    ],
)
def test_money_has_two_significant_figures(value, text):
    assert money(value) == text


def test_numbers_carry_no_plus_and_no_minus_zero():
    assert number(-0.04) == "0.0" and number(2.345) == "2.3" and number(-1.26) == "-1.3"
    assert percent(0.999) == ">99%" and percent(0.001) == "<1%" and percent(1.0) == "100%"


def report_text(folder: Path) -> str:
    """The report's HTML without its embedded images."""
    return re.sub(r'src="data:image/png;base64,[^"]*"', "", (folder / "report.html").read_text())


REPORT_PLANS = ("grant_only.toml", "internal_pipeline.toml", "deep_bench.toml", "integrated_time.toml")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "report"
    files = [str(PLANS / n) for n in REPORT_PLANS] + ["high_churn"]  # a bundled scenario used as a plan
    proc = improvesim("compare", *files, "--replicates", "12", "--seed", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_report_files(report):
    assert {p.name for p in report.iterdir()} == {
        ".improvesim",  # marks the folder as results that --force may replace
        "report.html",
        "outcomes.csv",
        "differences.csv",
        "best.csv",
        "pairwise.csv",
        "costs.csv",
        "budget.csv",
        "acceptability.csv",
    }
    outcomes = pd.read_csv(report / "outcomes.csv")
    assert set(outcomes["year"]) == {3, 5, 10} and set(outcomes["condition"]) == {"low", "typical", "high"}
    assert {"at_least_partial", "principles", "institutionalized"} <= set(outcomes["outcome"])
    # the early outcome is not zero at year 3, where institutionalization still is for most plans
    early = outcomes[(outcomes.outcome == "at_least_partial") & (outcomes.year == 3)]
    assert (early["mean"] > 0).all()
    best = pd.read_csv(report / "best.csv")
    assert best.groupby("condition")["probability_best"].sum().to_numpy() == pytest.approx(1.0)
    pairs = pd.read_csv(report / "pairwise.csv")
    assert len(pairs) == 3 * 5 * 4  # every ordered pair, under every condition
    budget = pd.read_csv(report / "budget.csv").pivot_table(
        index=["condition", "plan", "year"], columns="line", values="dollars"
    )
    assert (budget["grant_funded"] + budget["district_funded"]).to_numpy() == pytest.approx(
        budget["total_cash"].to_numpy()
    )
    html = report_text(report)
    assert "In short" in html and "cost per additional school" in html.lower()
    text = html.split("<body>")[1]
    assert "http" not in text and "ODD" not in text  # nothing fetched; no pointer to the model's technical docs


def test_each_condition_s_acceptability_curve_reaches_twice_its_dearest_cost_per_school(report):
    """The default willingness-to-pay grid is each condition's own, wide enough for the dearest plan
    that adds schools under that condition to become the best buy (not the first condition's grid)."""
    costs = pd.read_csv(report / "costs.csv")
    grids = pd.read_csv(report / "acceptability.csv").groupby("condition")["wtp"].max()
    gains = costs[(costs.extra_cost > 0) & (costs.extra_schools > 0)]
    dearest = (gains.extra_cost / gains.extra_schools).groupby(gains.condition).max()
    assert len(dearest) >= 2
    for condition, ratio in dearest.items():
        assert grids[condition] >= 2 * ratio, (condition, grids[condition], ratio)


def test_report_provenance_and_names(report):
    html = report_text(report)
    from improvesim import __version__

    assert f"improvesim {__version__}; seed 4; made 20" in html
    assert "improvesim compare " in html and "--replicates 12" in html
    for name in REPORT_PLANS:
        assert hashlib.sha256((PLANS / name).read_bytes()).hexdigest() in html
    assert "High-turnover district" in html and ">high_churn<" not in html  # the scenario's name, not its stem


def test_report_has_no_all_zero_row_and_no_plus_zero(report):
    html = report_text(report)
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    for row in rows:
        cells = re.findall(r"<td>(.*?)</td>", row, flags=re.S)[1:]
        if cells:
            assert not all(re.fullmatch(r"(0\.0 \(0\.0 to 0\.0\)|\$0)", c.strip()) for c in cells), row
    assert "+0" not in html and "-0.0" not in html
    assert not re.search(r"has 0\.0 (more|fewer)", html)  # "as many ... on average" instead


def test_the_report_renders_in_a_real_browser(report, artifacts):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((report / "report.html").as_uri())
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
        )
        assert len(images) == 4 and all(done and natural > 500 and shown > 300 for done, natural, shown in images)
        overflowing = page.evaluate(
            "Array.from(document.querySelectorAll('table')).filter(t => t.getBoundingClientRect().right > "
            "document.documentElement.clientWidth || t.scrollWidth > t.parentElement.clientWidth).length"
        )
        assert overflowing == 0
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert "Coaches kept after the grant" in page.inner_text(".summary")
        page.screenshot(path=str(artifacts / "compare_report.png"), full_page=True)
        browser.close()


@pytest.mark.parametrize(
    "content,expected",
    [
        (
            'name = "X"\n[coaching]\ncoachs = 3\n',
            "coaching.coachs: unknown parameter (did you mean 'coaching.coaches'?)",
        ),
        ('name = "X"\n[coaching]\ncoaches = -1\n', "coaching.coaches: got -1, out of range"),
        ("name = 5\n", "name: must be text"),
        ('name = "Grant only "\n', "name: got 'Grant only '; allowed: a name that is not empty"),
        ('name = ""\n', "name: got ''; allowed: a name that is not empty"),
        ('name = "X"\nbase = "scenarios/nope.toml"\n', "no such scenario file"),
        ("[coaching\n", "not valid TOML"),
    ],
)
def test_bad_plan_files(tmp_path, content, expected):
    bad = tmp_path / "bad_plan.toml"
    bad.write_text(content)
    with pytest.raises(ParameterError) as err:
        load_plan(bad)
    assert expected in str(err.value)
    proc = improvesim("compare", str(PLANS / "grant_only.toml"), str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_two_plans_with_one_name_are_refused_naming_both_files(tmp_path):
    twin = tmp_path / "twin.toml"
    twin.write_text('name = "Grant only"\n[coaching]\ncoaches = 6\n')
    proc = improvesim("compare", str(PLANS / "grant_only.toml"), str(twin), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'Grant only' names both" in proc.stderr and "grant_only.toml" in proc.stderr and "twin.toml" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "option,value,expected",
    [
        ("--wtp", "0,50000,40000", "--wtp: got '0,50000,40000'; allowed: at least two amounts in dollars"),
        ("--wtp", "lots", "--wtp: got 'lots'; allowed"),
        ("--wtp", "-5,10", "--wtp: got '-5,10'; allowed"),
        ("--outcome", "happiness", "--outcome: got 'happiness'; allowed: institutionalized"),
    ],
)
def test_bad_options_are_refused(tmp_path, option, value, expected):
    plans = [str(PLANS / "grant_only.toml"), str(PLANS / "deep_bench.toml")]
    proc = improvesim("compare", *plans, f"{option}={value}", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_condition_is_refused(tmp_path):
    proc = improvesim(
        "compare",
        str(PLANS / "grant_only.toml"),
        str(PLANS / "deep_bench.toml"),
        "--conditions",
        "typical,flood",
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2 and "unknown condition 'flood'" in proc.stderr


def test_a_report_with_a_posterior_warns_and_names_the_posterior_with_its_digest(tmp_path):
    from improvesim.sim.posterior import resolve_posterior

    out = tmp_path / "post"
    plans = [str(PLANS / "grant_only.toml"), str(PLANS / "deep_bench.toml")]
    proc = improvesim(
        "compare", *plans, "--replicates", "4", "--conditions", "typical", "--posterior", "viano2024", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    html = report_text(out)
    assert "Read them as a warning, not a forecast" in html
    assert "do not include the uncertainty in the model's own assumptions" not in html  # no contradiction
    digest = hashlib.sha256(resolve_posterior("viano2024").read_bytes()).hexdigest()
    assert "viano2024.parquet" in html and digest in html
    assert "from the posterior viano2024" in html and str(resolve_posterior("viano2024")) not in html
