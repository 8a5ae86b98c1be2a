"""The documentation stays true to the code."""

import re

from conftest import ROOT

from improvesim.describe import PARAMS_BEGIN, PARAMS_END, as_markdown, baseline_text
from improvesim.sim.events import EVENT_TEXT
from improvesim.sim.outcomes import DISTRICT_METRICS

ODD = (ROOT / "docs" / "ODD.md").read_text()


def test_the_odd_parameter_table_matches_the_schema():
    start, end = ODD.index(PARAMS_BEGIN), ODD.index(PARAMS_END) + len(PARAMS_END)
    assert ODD[start:end] == as_markdown(), "run: .venv/bin/python -m improvesim.describe"


def test_the_baseline_scenario_holds_every_default():
    """The baseline lists every parameter at its default (its header says so): a default changed in the
    schema or by an adopted calibration must reach it, or the baseline would keep the old value."""
    path = ROOT / "scenarios" / "baseline.toml"
    text = path.read_text()
    assert text == baseline_text(text), "run: .venv/bin/python -m improvesim.describe"


def test_every_submodel_module_is_described():
    for module in sorted((ROOT / "sim" / "submodels").glob("[a-z]*.py")):
        assert f"sim/submodels/{module.name}" in ODD or module.stem in ODD, module.name


def test_every_district_metric_is_defined():
    for name in DISTRICT_METRICS:
        assert f"`{name}`" in ODD, name


def test_every_event_kind_is_named():
    kinds = set(re.findall(r"`([a-z_0-9]+)`", ODD))
    missing = [k for k in EVENT_TEXT if k not in kinds]
    assert not missing, missing


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
