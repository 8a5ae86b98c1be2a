"""Where a plan loses its advantage: scenario discovery on paired plan differences."""

import pytest
from conftest import ROOT, improvesim

from improvesim.analysis.compare import Plan, load_plan
from improvesim.analysis.plan_discovery import findings_table, plan_conditions
from improvesim.experiments.spec import load_experiment

PLANS = ROOT / "scenarios" / "plans"

CONDITIONS = """
scenario = "grant_cliff"
design = "lhs"
samples = 30
replicates = 3
seed = 8
[parameters]
"time.competing_demands" = { min = 0.2, max = 0.8 }
"turnover.teacher" = { min = 0.08, max = 0.3 }
"time.protected_hours" = { min = 2.0, max = 12.0 }
"""


#: A hand-made plan that lowers the competing demands: where they are already low it can gain nothing.
FEWER_DEMANDS = """
name = "Fewer competing demands"
base = "grant_cliff"
[time]
competing_demands = 0.35
"""


def short(plan: Plan) -> Plan:
    return Plan(plan.name, plan.description, plan.params.with_overrides({"run.years": 4}), plan.path)


def test_a_plan_that_lowers_demands_loses_its_advantage_where_demands_are_already_low(tmp_path):
    (tmp_path / "conditions.toml").write_text(CONDITIONS)
    (tmp_path / "fewer_demands.toml").write_text(FEWER_DEMANDS)
    plans = [short(load_plan(PLANS / "grant_only.toml")), short(load_plan(tmp_path / "fewer_demands.toml"))]
    findings, sampled = plan_conditions(plans, load_experiment(tmp_path / "conditions.toml"), "at_least_partial")
    # the lever is not sampled: plans set levers; the plan keeps its own competing demands (0.35)
    assert list(sampled.columns) == ["time.competing_demands", "turnover.teacher"] and len(sampled) == 30
    (f,) = findings
    assert 0 < f.lost.sum() < 30
    demands = sampled["time.competing_demands"].to_numpy()
    # where the sampled demands are well above the plan's 0.35, the plan keeps its advantage
    assert not f.lost[demands > 0.5].any()
    box = f.box.set_index("parameter")
    assert box.loc["time.competing_demands", "upper"] <= 0.5
    assert "time.competing_demands" in f.sentence() and "has no advantage over Grant only in" in f.sentence()
    assert set(findings_table(findings)["plan"]) == {"Fewer competing demands"}


def test_an_experiment_without_uncertainties_is_refused(tmp_path):
    (tmp_path / "levers.toml").write_text(
        'scenario = "grant_cliff"\ndesign = "lhs"\nsamples = 4\nreplicates = 2\nseed = 1\n'
        '[parameters]\n"time.protected_hours" = { min = 2.0, max = 12.0 }\n'
    )
    plans = [str(PLANS / "grant_only.toml"), str(PLANS / "deep_bench.toml")]
    proc = improvesim("compare", *plans, "--discover", str(tmp_path / "levers.toml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "levers.toml: [parameters]: no parameter of role uncertainty" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["plan_conditions"])
def test_the_bundled_conditions_vary_only_uncertainties(name):
    from improvesim.sim.schema import BY_NAME

    exp = load_experiment(name)
    assert exp.design == "lhs" and all(BY_NAME[f.name].role == "uncertainty" for f in exp.factors)


def test_the_report_says_where_each_plan_loses_its_advantage(tmp_path):
    (tmp_path / "tiny.toml").write_text(CONDITIONS.replace("samples = 30", "samples = 12").replace("= 3\n", "= 2\n"))
    plans = [str(PLANS / "grant_only.toml"), str(PLANS / "stop_initiatives.toml")]
    out = tmp_path / "o"
    proc = improvesim(
        "compare", *plans, "--replicates", "4", "--conditions", "typical", "--discover", str(tmp_path / "tiny.toml"),
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    html = (out / "report.html").read_text()
    assert "Where each plan loses its advantage" in html and "sampled conditions" in html
    assert {"discovery.csv", "discovery_conditions.csv"} <= {p.name for p in out.iterdir()}
