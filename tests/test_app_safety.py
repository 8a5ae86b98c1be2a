"""The workshop page is safe to serve (issue 19), checked without a browser: every value
from the browser is checked against the listed controls before anything is opened, no
failure reaches the page as a traceback, `improvesim app` runs Solara offline and warns
when it serves beyond this machine, and a replay rebuilds a sweep's run exactly."""

from __future__ import annotations

import inspect
import json
import os

import pytest
from conftest import ROOT

import improvesim.app as app
from improvesim.app import CONTROLS, SEED_MAX, WorkshopModel, checked_controls, clicked_district
from improvesim.cli import OFFLINE_SOLARA, PAGE_SOLARA, is_loopback, main
from improvesim.sim.params import ParameterError

DEFAULTS = {name: spec["value"] for name, spec in CONTROLS.items()}
TRAVERSALS = ["../../../../tmp/evil", "/etc/passwd", "baseline/../../x", "baseline.toml", "plans/../../x", ""]


@pytest.fixture
def opened(monkeypatch):
    """Every scenario or plan the page looks up or loads, by name or path."""
    calls = []
    for name in ("bundled_scenario_path", "load_scenario", "load_plan"):
        real = getattr(app, name)
        monkeypatch.setattr(app, name, lambda x, *a, real=real, **k: calls.append(str(x)) or real(x, *a, **k))
    return calls


def test_the_model_defaults_are_the_controls_defaults():
    signature = inspect.signature(WorkshopModel.__init__).parameters
    assert {name: signature[name].default for name in CONTROLS} == DEFAULTS


def test_every_listed_value_is_accepted():
    for name, spec in CONTROLS.items():
        for value in spec.get("values", [spec["value"]]):
            assert checked_controls({**DEFAULTS, name: value})[name] == value
    for name in ("turnover", "coaches"):
        spec = CONTROLS[name]
        assert checked_controls({**DEFAULTS, name: spec["max"]})[name] == spec["max"]
        assert checked_controls({**DEFAULTS, name: spec["min"]})[name] == spec["min"]
    assert checked_controls({**DEFAULTS, "seed": " 12 "})["seed"] == 12
    assert checked_controls({**DEFAULTS, "seed": str(SEED_MAX)})["seed"] == SEED_MAX
    assert checked_controls({**DEFAULTS, "coaches": 5.0})["coaches"] == 5


CRAFTED = [
    *[("scenario_file", v) for v in [*TRAVERSALS, "plans/deep_bench", None, 5, ["baseline"], {"a": 1}]],
    *[("compare_with", v) for v in [*TRAVERSALS, None, ["none"]]],
    ("participation", "mandatory"),
    ("seed", "abc"),
    ("seed", "-1"),
    ("seed", "1.5"),
    ("seed", "1e3"),
    ("seed", "1_000"),
    ("seed", "١٢"),  # Arabic-Indic digits, which int() would take
    ("seed", str(SEED_MAX + 1)),
    ("seed", "9" * 5000),
    ("seed", -1),
    ("seed", 10**400),
    ("seed", 1.0),
    ("seed", True),
    ("seed", None),
    ("turnover", 2.5),
    ("turnover", float("nan")),
    ("turnover", float("inf")),
    ("turnover", "1.0"),
    ("turnover", True),
    ("turnover", 10**400),
    ("turnover", -(10**400)),
    ("coaches", 1000),
    ("coaches", 2.5),
    ("coaches", -1),
    ("coaches", 10**400),
    ("coaches", float("nan")),
    ("pandemic", "true"),
    ("pandemic", 1),
    ("pandemic", None),
]


@pytest.mark.parametrize(("name", "value"), CRAFTED)
def test_a_crafted_value_is_refused_before_any_file_is_opened(name, value, opened, caplog):
    model = WorkshopModel(**{**DEFAULTS, name: value})
    assert model.failure == f"{CONTROLS[name]['label']}: refused; allowed: {app._allowed(CONTROLS[name])}."
    assert model.a is None and not model.running
    assert opened == []
    assert f"refused {name} from the browser" in caplog.text
    model.step()  # a refused run does not step
    assert not model.running


def test_names_that_are_not_listed_are_refused_by_the_loader_too(opened):
    for name in TRAVERSALS:
        with pytest.raises(app.PageError, match="not one of the listed"):
            app._load(name)
    assert opened == []


def test_a_scenario_that_fails_to_load_gives_a_short_message_and_logs_the_details(monkeypatch, caplog):
    def broken(path):
        raise ParameterError('got "SECRET-MARKER"; allowed: 0 to 12', str(path), "coaching.coaches")

    monkeypatch.setattr(app, "load_scenario", broken)
    model = WorkshopModel(**{**DEFAULTS, "scenario_file": "mandate"})
    assert model.failure == 'The scenario "mandate" could not be loaded; the details are in the server\'s log.'
    assert "SECRET-MARKER" in caplog.text and "Traceback" in caplog.text and "mandate.toml" in caplog.text


def test_a_failing_step_stops_the_run_with_a_short_message(monkeypatch, caplog):
    model = WorkshopModel()
    model.step()
    monkeypatch.setattr(model.a, "step", lambda: 1 / 0)
    model.step()
    assert model.failure == "The model stopped with an error; the details are in the server's log."
    assert not model.running and "ZeroDivisionError" in caplog.text


def test_only_a_shown_tile_tells_a_story():
    model = WorkshopModel(**{**DEFAULTS, "compare_with": "plans/deep_bench"})
    assert clicked_district(model, model.label_a, 0) is model.a
    assert clicked_district(model, model.label_b, 39) is model.b
    crafted = [(model.label_a, 40), (model.label_a, -1), ("Plan C", 0), (model.label_b, "3"), (model.label_a, True)]
    for label, school in crafted + [(model.label_a, 2.0), (model.label_a, None), (model.label_a, [1])]:
        assert clicked_district(model, label, school) is None


def _notices(rc) -> list[str]:
    import solara

    return [
        w.unsafe_innerHTML
        for w in rc.find(solara.widgets.HTML).widgets
        if "page-notice" in w.attributes.get("class", "")
    ]


def _tiles(rc) -> int:
    """The tiles on the page (each district's tiles are one widget, app.TileGrid)."""
    import ipyvuetify as v

    return sum(len(w.tiles) for w in rc.find(v.VuetifyTemplate).widgets if hasattr(w, "tiles"))


def test_the_page_shows_refusals_and_failures_as_short_messages(monkeypatch, caplog):
    """The page itself, rendered in this process: a crafted value and a failing component."""
    import ipyvuetify as v
    import solara

    box, rc = solara.render(app.Page(), handle_error=False)
    reset = rc.find(v.Btn, children=["Reset"]).widget
    rc.find(v.Select, class_="control-scenario_file").widget.v_model = "../../../../tmp/evil"
    reset.click()
    assert _notices(rc) == ["Scenario: refused; allowed: one of the listed choices."] and _tiles(rc) == 0
    rc.find(v.Select, class_="control-scenario_file").widget.v_model = "mandate"
    reset.click()
    assert _notices(rc) == [] and _tiles(rc) == 40
    real = app.tile_state
    monkeypatch.setattr(app, "tile_state", lambda school: 1 / 0)  # a bug in a component
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert _notices(rc) == ["Something went wrong on the page; the details are in the server&#x27;s log."]
    assert "ZeroDivisionError" in caplog.text
    monkeypatch.setattr(app, "tile_state", real)
    rc.find(v.Btn, children=["Start again"]).widget.click()
    assert _notices(rc) == [] and _tiles(rc) == 40
    rc.close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True), ("[::1]", True)]
    + [("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("workshop.local", False)],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


class Exec(Exception):
    pass


@pytest.fixture
def execv(monkeypatch):
    """`improvesim app` up to the point where it would become the Solara server."""
    calls = []

    def fake(path, argv):
        calls.append((path, argv, dict(os.environ)))
        raise Exec

    monkeypatch.setattr(os, "execv", fake)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # restored after the test
    return calls


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20"])
def test_serving_beyond_this_machine_warns(host, execv, capsys):
    with pytest.raises(Exec):
        main(["app", "--host", host])
    err = capsys.readouterr().err
    assert f"--host {host} serves the page beyond this machine" in err and "anyone who can reach" in err


def test_the_default_host_does_not_warn_and_solara_runs_offline(execv, capsys, monkeypatch):
    monkeypatch.setitem(os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE", "True")  # the user's environment
    monkeypatch.setitem(os.environ, "SOLARA_ASSETS_CDN", "https://cdn.jsdelivr.net/npm/")
    with pytest.raises(Exec):
        main(["app"])
    assert "warning" not in capsys.readouterr().err
    (_, argv, env) = execv[0]
    assert "--no-check-version" in argv and argv[argv.index("--host") + 1] == "127.0.0.1"
    assert {k: env[k] for k in OFFLINE_SOLARA | PAGE_SOLARA} == OFFLINE_SOLARA | PAGE_SOLARA


def test_the_solara_settings_exist_and_take_effect():
    """The names in OFFLINE_SOLARA and PAGE_SOLARA are the ones the installed Solara reads."""
    import subprocess
    import sys

    code = (
        "import solara.server.settings as s, solara.settings as t;"
        "print(s.telemetry.mixpanel_enable, t.assets.proxy, t.assets.cdn, s.theme.show_banner, repr(s.theme.title))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLARA_")} | OFFLINE_SOLARA | PAGE_SOLARA
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip().split(maxsplit=4) == ["False", "True", "offline:/", "False", "'improvesim workshop'"]


# --- replay -------------------------------------------------------------------------------


def _sweep(tmp_path):
    """A small sweep of a copy of the baseline (4 coaches): (the copy, the stored outcomes by run)."""
    from improvesim.analysis.store import load_sweep
    from improvesim.experiments.spec import load_experiment
    from improvesim.experiments.sweep import run_sweep

    scenario = tmp_path / "district.toml"
    scenario.write_text((ROOT / "scenarios/baseline.toml").read_text())
    assert "\ncoaches = 4\n" in scenario.read_text()
    exp = tmp_path / "exp.toml"
    exp.write_text(
        f'scenario = "{scenario.as_posix()}"\ndesign = "grid"\nreplicates = 2\nseed = 9\n'
        '[set]\n"run.years" = 3\n[parameters]\n"turnover.teacher" = [0.1, 0.3]\n'
    )
    run_sweep(load_experiment(exp), tmp_path / "store", progress=False)
    return scenario, load_sweep(tmp_path / "store").outcomes.set_index("run_id")


def _change_coaches(scenario) -> None:
    scenario.write_text(scenario.read_text().replace("\ncoaches = 4\n", "\ncoaches = 9\n"))


def _replayed(spec: str) -> WorkshopModel:
    model = WorkshopModel(replay=spec)
    assert model.failure is None
    while model.running:
        model.step()
    return model


def test_a_replay_after_the_scenario_changed_gives_the_stored_run(tmp_path):
    scenario, outcomes = _sweep(tmp_path)
    _change_coaches(scenario)  # after the sweep
    model = _replayed(f"{tmp_path / 'store'}:3")
    assert model.a.params["coaching.coaches"] == 4
    assert model.a.params["turnover.teacher"] == outcomes.loc[3, "turnover.teacher"]
    for metric in ("cost_total", "authentic_share", "institutionalized_share"):
        assert model.a.latest(metric) == outcomes.loc[3, metric]


def test_explain_replays_a_stored_run_after_the_scenario_changed(tmp_path, capsys):
    scenario, outcomes = _sweep(tmp_path)
    run = outcomes.loc[3]
    by_hand = [str(scenario), "--school", "5", "--run-seed", str(int(run["seed"])), "--set", "run.years=3"]
    by_hand += ["--set", f"turnover.teacher={run['turnover.teacher']}"]
    assert main(["explain", *by_hand]) == 0
    story = capsys.readouterr().out
    text = scenario.read_text()
    for key in ("schools", "initial_schools"):  # a district of 5 schools now: there is no school 5
        assert f"\n{key} = 40\n" in text
        text = text.replace(f"\n{key} = 40\n", f"\n{key} = 5\n")
    scenario.write_text(text)
    assert main(["explain", *by_hand]) == 2
    assert "--school: got 5; allowed: 0 to 4" in capsys.readouterr().err
    assert main(["explain", "--replay", f"{tmp_path / 'store'}:3", "--school", "5"]) == 0
    assert capsys.readouterr().out == story
    assert main(["explain", str(scenario), "--replay", f"{tmp_path / 'store'}:3", "--school", "5"]) == 2
    assert "give no SCENARIO" in capsys.readouterr().err


def test_an_old_store_is_replayed_only_while_its_files_are_unchanged(tmp_path, caplog):
    from improvesim.experiments.replay import replay_run
    from improvesim.experiments.store import StoreError

    scenario, outcomes = _sweep(tmp_path)
    meta_file = tmp_path / "store" / "experiment.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({k: v for k, v in meta.items() if k not in ("base", "base_name")}))
    spec = f"{tmp_path / 'store'}:1"
    assert _replayed(spec).a.latest("cost_total") == outcomes.loc[1, "cost_total"]
    _change_coaches(scenario)
    with pytest.raises(StoreError, match="predates stored parameters.*changed since the sweep"):
        replay_run(spec)
    model = WorkshopModel(replay=spec)
    assert model.failure == "The replayed run could not be rebuilt; the details are in the server's log."
    assert "changed since the sweep" in caplog.text


def _district_labels(rc) -> list[str]:
    import solara

    return [
        w.unsafe_innerHTML
        for w in rc.find(solara.widgets.HTML).widgets
        if "district-label" in w.attributes.get("class", "")
    ]


def test_the_levers_reach_the_run_on_reset(monkeypatch):
    """The page's own fields (app.Levers) set what Reset builds from: a slider, a select, the checkbox."""
    import ipyvuetify as v
    import solara

    built = []
    real = app._plan_a
    monkeypatch.setattr(app, "_plan_a", lambda c: built.append(c) or real(c))
    box, rc = solara.render(app.Page(), handle_error=False)
    rc.find(v.Checkbox).widget.v_model = True
    rc.find(v.Select, class_="control-participation").widget.v_model = "required"
    integrated = [w for w in rc.find(v.Slider).widgets if w.max == 1 and w.v_model == 0.3][0]
    integrated.v_model = 0.9  # the first 0-1 slider at 0.3 is "Integrated into PLCs"
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert built[-1]["pandemic"] is True and built[-1]["participation"] == "required"
    assert built[-1]["integrated"] == 0.9
    rc.close()


def test_the_page_starts_on_the_replayed_run(tmp_path, monkeypatch):
    import ipyvuetify as v
    import solara

    _sweep(tmp_path)
    monkeypatch.setenv(app.REPLAY_ENV, f"{tmp_path / 'store'}:2")
    box, rc = solara.render(app.Page(), handle_error=False)
    headings = _district_labels(rc)
    assert headings == ["Replay: run 2 of store"] and _tiles(rc) == 40
    rc.find(v.Btn, children=["Reset"]).widget.click()  # Reset keeps the replay
    assert _district_labels(rc) == headings
    rc.close()


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("", "expected STORE:RUN_ID"),
        (":x", "expected STORE:RUN_ID"),
        (":-1", "expected STORE:RUN_ID"),
        (":99", "no run 99"),
    ],
)
def test_a_bad_replay_is_refused_before_the_server_starts(tmp_path, suffix, message, execv, capsys):
    _sweep(tmp_path)
    assert main(["app", "--replay", f"{tmp_path / 'store'}{suffix}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and execv == []


def test_a_missing_store_is_refused(tmp_path, execv, capsys):
    assert main(["app", "--replay", f"{tmp_path / 'nothing'}:0"]) == 2
    assert "not a sweep store" in capsys.readouterr().err
