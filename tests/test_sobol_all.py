"""The all-parameter Sobol' study (issue 18): its files load, sample what they say, and are current.

The study itself (about a million runs) is run by hand after the
calibration; here a small design of the same files is built.
"""

import dataclasses
import subprocess
import sys

from conftest import ROOT

from improvesim.experiments.design import build_design, count_sets
from improvesim.experiments.spec import load_experiment
from improvesim.sim.params import load_scenario
from improvesim.sim.schema import BY_NAME, PARAMETERS

sys.path.insert(0, str(ROOT / "scripts"))
from make_sobol_all import LEFT_OUT, ROLES, SAMPLES, sampled  # noqa: E402


def studies():
    return (
        load_experiment(ROOT / "experiments" / "sobol_all.toml"),
        load_experiment(ROOT / "experiments" / "sobol_all_families.toml"),
    )


def test_every_condition_lever_and_constant_is_sampled_within_its_allowed_range():
    per_parameter, families = studies()
    expected = {p.name for p in PARAMETERS if p.role in ROLES and p.section != "run"} - LEFT_OUT
    assert len(expected) > 150
    for exp in (per_parameter, families):
        assert {f.name for f in exp.factors} == expected
        for f in exp.factors:
            p = BY_NAME[f.name]
            if p.kind != "choice":
                assert p.low <= min(f.levels or (f.low,)) and max(f.levels or (f.high,)) <= p.high, f.name


def test_the_designs_have_the_sizes_the_issue_asks_for():
    per_parameter, families = studies()
    d = len(per_parameter.factors)
    g = len({BY_NAME[f.name].family for f in families.factors})
    assert per_parameter.samples == families.samples == SAMPLES
    assert per_parameter.replicates == families.replicates == 5
    assert not per_parameter.second_order and not per_parameter.groups
    assert families.second_order and families.groups
    assert count_sets(per_parameter) == SAMPLES * (d + 2)
    assert count_sets(families) == SAMPLES * (2 * g + 2) and g >= 10
    base = load_scenario("baseline")
    for exp, columns in ((per_parameter, d + 2), (families, 2 * g + 2)):
        small = build_design(dataclasses.replace(exp, samples=4))
        assert small.sets == 4 * columns
        if exp.groups:
            assert len(set(small.problem["groups"])) == g
        for row in small.values.head(40).to_dict("records"):
            base.with_overrides(row)  # every sampled set is a valid scenario


def test_the_files_are_what_the_script_writes():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_sobol_all.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in sampled()] == [f.name for f in studies()[0].factors]
