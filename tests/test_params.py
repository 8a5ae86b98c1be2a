"""The parameter schema and scenario validation."""

import pytest

from improvesim.sim.params import ParameterError, defaults, from_mapping, load_scenario, parse_assignment
from improvesim.sim.schema import BY_NAME, PARAMETERS, SOURCES

REQUIRED_KEYS = [
    "district.schools",
    "run.years",
    "turnover.teacher",
    "turnover.principal",
    "turnover.coach",
    "turnover.central_office",
    "time.protected_hours",
    "time.integrated",
    "time.competing_demands",
    "governance.participation",
    "governance.top_down_support",
    "governance.school_autonomy",
    "messaging.urgency",
    "messaging.why_framing",
    "messaging.consistency",
    "coaching.coaches",
    "coaching.visits_per_month",
    "coaching.funded_years",
    "succession.deep_bench",
    "succession.onboarding",
    "knowledge.management",
    "knowledge.convenings_per_year",
    "rollout.initial_schools",
]


@pytest.mark.parametrize("name", REQUIRED_KEYS)
def test_the_agreed_keys_exist(name):
    assert name in BY_NAME


@pytest.mark.parametrize("p", PARAMETERS, ids=lambda p: p.name)
def test_every_parameter_is_documented_and_its_default_allowed(p):
    assert p.description and p.unit
    assert p.source in SOURCES
    if p.kind == "choice":
        assert p.default in p.choices
    else:
        assert p.low <= p.default <= p.high


def test_evidence_anchored_defaults():
    d = defaults()
    assert d["turnover.teacher"] == pytest.approx(0.16)
    assert d["turnover.principal"] == pytest.approx(0.20)
    assert BY_NAME["turnover.teacher"].source == "NCES-TFS"


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ParameterError, match=r"did you mean 'turnover.teacher'") as err:
        from_mapping({"turnover": {"teachers": 0.2}}, "x.toml")
    assert err.value.where == "x.toml" and err.value.key == "turnover.teachers"


def test_unknown_section():
    with pytest.raises(ParameterError, match=r"unknown section.*did you mean 'coaching'"):
        from_mapping({"coching": {"coaches": 2}}, "x.toml")


@pytest.mark.parametrize(
    "section,key,value,message",
    [
        ("turnover", "teacher", 1.5, "out of range; allowed: a number from 0 to 0.6"),
        ("turnover", "teacher", "high", "not a number"),
        ("turnover", "teacher", True, "not a number"),
        ("coaching", "coaches", 2.5, "not a whole number"),
        ("governance", "participation", "maybe", 'allowed: one of "optional", "required"'),
    ],
)
def test_bad_values_name_what_is_allowed(section, key, value, message):
    with pytest.raises(ParameterError, match=message):
        from_mapping({section: {key: value}}, "x.toml")


def test_integers_written_as_whole_floats_are_accepted():
    p = from_mapping({"coaching": {"coaches": 6.0}}, "x.toml")
    assert p["coaching.coaches"] == 6 and isinstance(p["coaching.coaches"], int)


def test_initial_schools_cannot_exceed_schools():
    with pytest.raises(ParameterError, match="rollout.initial_schools"):
        from_mapping({"district": {"schools": 10}}, "x.toml")


def test_shocks_are_validated():
    ok = from_mapping({"shocks": [{"kind": "pandemic", "start_month": 7, "months": 12, "severity": 0.8}]}, "x")
    assert ok.shocks[0].start_month == 7
    with pytest.raises(ParameterError, match=r"shocks\[0\]: missing severity"):
        from_mapping({"shocks": [{"kind": "pandemic", "start_month": 7, "months": 12}]}, "x")
    with pytest.raises(ParameterError, match=r"shocks\[0\].kind"):
        from_mapping({"shocks": [{"kind": "flood", "start_month": 7, "months": 12, "severity": 1.0}]}, "x")


def test_parse_assignment():
    assert parse_assignment("turnover.teacher=0.3") == ("turnover.teacher", 0.3)
    assert parse_assignment("governance.participation=required") == ("governance.participation", "required")
    with pytest.raises(ParameterError, match="expected section.key=value"):
        parse_assignment("turnover.teacher")
    with pytest.raises(ParameterError, match="unknown parameter"):
        parse_assignment("turnover.teachr=0.3")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParameterError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[turnover\nteacher = 0.2\n")
    with pytest.raises(ParameterError, match=r"bad.toml: not valid TOML"):
        load_scenario(bad)
