"""Workshop mode: a live district in the browser (Mesa SolaraViz).

    improvesim app [--port 8765] [--host 127.0.0.1] [--replay STORE:RUN_ID]

It is built from Mesa's SolaraViz parts (the model controller, the
parameter controls, the plot component).  The page shows the district as tiles, one per school, coloured by
engagement and authenticity, with each school's coach; charts of the
district shares over time; controls for the levers a room argues about; a
scenario picker; play, step and reset; a seed; a second plan side by side
on the same seed; and, when a school's tile is clicked, that school's story.
Changed controls take effect on Reset.  ``--replay STORE:RUN_ID`` shows a run
of a sweep exactly (its stored parameters and seed) as plan A.

Everything the browser sends is untrusted: every control value is checked on
the server against the listed choices and ranges (:data:`CONTROLS`) before
anything is built, scenarios are looked up by listed name only (no path is
ever built from browser input), and no failure shows a traceback in the
page: the page shows a short message and the details go to the server's log
(logger ``improvesim.app``, on standard error).
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Mapping
from numbers import Real
from typing import Any

import mesa
import solara
from mesa.visualization import make_plot_component
from mesa.visualization.solara_viz import ModelController, ModelCreator, ShowSteps
from mesa.visualization.utils import update_counter

from improvesim.analysis.compare import load_plan
from improvesim.analysis.plots import OKABE_ITO
from improvesim.analysis.story import school_story, when
from improvesim.sim.bundled import bundled_plans, bundled_scenario_path, bundled_scenarios
from improvesim.sim.model import DistrictModel
from improvesim.sim.params import Params, Shock, load_scenario
from improvesim.sim.state import Authenticity, Engagement

SCENARIOS = bundled_scenarios()
PLANS = bundled_plans()
NONE = "none"
REPLAY_ENV = "IMPROVESIM_APP_REPLAY"
#: Seeds the page accepts: whole numbers 0 to 2**64 - 1 (a sweep's run seeds are in this range).
SEED_MAX = 2**64 - 1
SEE_LOG = "the details are in the server's log"

logger = logging.getLogger("improvesim.app")
if not logger.handlers:  # the server's log: standard error of `improvesim app`
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("improvesim app: %(levelname)s: %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)


class PageError(Exception):
    """A refusal or failure whose message is short and safe to show in the page (details are logged)."""


#: Tile colours (Okabe-Ito, colour-blind safe) and their legend.
TILE_COLOURS = {
    "authentic": OKABE_ITO["green"],
    "partial": OKABE_ITO["orange"],
    "inauthentic": OKABE_ITO["sky"],
    "paused": "#9e9e9e",
    "opted out": "#3a3a3a",
    "not invited": "#ffffff",
}


def _slider(kind: str, value: float, low: float, high: float, step: float, label: str) -> dict[str, Any]:
    return {"type": kind, "value": value, "min": low, "max": high, "step": step, "label": label}


#: The page's controls (Mesa's user-parameter specs), by WorkshopModel argument.  They are
#: also the server's list of what it accepts: :func:`checked_controls` refuses anything else.
CONTROLS: dict[str, dict[str, Any]] = {
    # not "scenario": Mesa's reset passes its own Scenario object under that name
    "scenario_file": {"type": "Select", "value": "baseline", "values": SCENARIOS, "label": "Scenario"},
    "compare_with": {
        "type": "Select",
        "value": NONE,
        "values": [NONE, *SCENARIOS, *PLANS],
        "label": "Side by side with",
    },
    "seed": {"type": "InputText", "value": 1, "label": "Seed"},
    "turnover": _slider("SliderFloat", 1.0, 0.5, 2.0, 0.1, "Staff turnover (x national average)"),
    "protected_hours": _slider("SliderFloat", 6.0, 0.0, 12.0, 1.0, "Protected hours a month"),
    "integrated": _slider("SliderFloat", 0.3, 0.0, 1.0, 0.1, "Integrated into PLCs (0 = added on top)"),
    "participation": {
        "type": "Select",
        "value": "optional",
        "values": ["optional", "required"],
        "label": "Participation",
    },
    "top_down_support": _slider("SliderFloat", 0.5, 0.0, 1.0, 0.1, "Top-down support"),
    "school_autonomy": _slider("SliderFloat", 0.5, 0.0, 1.0, 0.1, "School autonomy"),
    "why_framing": _slider("SliderFloat", 0.5, 0.0, 1.0, 0.1, "Message framed around the why"),
    "coaches": _slider("SliderInt", 4, 0, 12, 1, "Coaches"),
    "deep_bench": _slider("SliderFloat", 0.3, 0.0, 1.0, 0.1, "Deep bench (succession plan)"),
    "knowledge_management": _slider("SliderFloat", 0.3, 0.0, 1.0, 0.1, "Knowledge management"),
    "pandemic": {"type": "Checkbox", "value": False, "label": "A pandemic in year 2"},
}

_DIGITS = re.compile(r"[0-9]{1,20}")


def checked_controls(values: Mapping[str, Any]) -> dict[str, Any]:
    """The control values (as sent by the browser), checked against :data:`CONTROLS`.

    ``values`` maps every control name to its value.  Returns them converted:
    selects as one of their listed strings, float sliders as floats and int
    sliders as ints within their min and max, the checkbox as a bool, the seed
    as an int from 0 to :data:`SEED_MAX` (a whole number or its decimal digits).
    Raises PageError naming the control and what it allows, for a missing or
    unknown control or any other value (and logs the refused value).
    """
    if set(values) != set(CONTROLS):
        odd = sorted(set(values) ^ set(CONTROLS))
        logger.warning("refused controls from the browser: expected %s, got %s", sorted(CONTROLS), sorted(values))
        raise PageError(f"Refused: unexpected or missing controls ({', '.join(odd)}).")
    return {name: _checked(name, CONTROLS[name], value) for name, value in values.items()}


def _checked(name: str, spec: dict[str, Any], value: Any) -> Any:
    kind = spec["type"]
    # a number within the slider's range (so finite, and small enough for a float)
    in_range = (
        isinstance(value, Real) and not isinstance(value, bool) and spec.get("min", 0) <= value <= spec.get("max", 0)
    )
    if kind == "Select" and isinstance(value, str) and value in spec["values"]:
        return value
    if kind == "Checkbox" and isinstance(value, bool):
        return value
    if kind == "SliderFloat" and in_range:
        return float(value)
    if kind == "SliderInt" and in_range and float(value).is_integer():
        return int(value)
    if kind == "InputText":  # the seed
        text = value.strip() if isinstance(value, str) else None
        whole = int(text) if text is not None and _DIGITS.fullmatch(text) else value
        if isinstance(whole, int) and not isinstance(whole, bool) and 0 <= whole <= SEED_MAX:
            return whole
    logger.warning("refused %s from the browser: %.200r", name, value)
    raise PageError(f"{spec['label']}: refused; allowed: {_allowed(spec)}.")


def _allowed(spec: dict[str, Any]) -> str:
    kind = spec["type"]
    if kind == "Select":
        return "one of the listed choices"
    if kind == "Checkbox":
        return "on or off"
    if kind == "InputText":
        return f"a whole number from 0 to {SEED_MAX}"
    whole = "a whole number" if kind == "SliderInt" else "a number"
    return f"{whole} from {spec['min']} to {spec['max']}"


def _load(name: str):
    """(parameters, label) of a bundled scenario (``baseline``) or plan (``plans/deep_bench``), by listed name.

    Never opens a path built from ``name``: the file is the bundled one of that
    name.  Raises PageError for any other name, or when the file cannot be
    loaded (the details are logged).
    """
    if name not in SCENARIOS and name not in PLANS:
        logger.warning("refused scenario %.200r: not one of the listed scenarios or plans", name)
        raise PageError("Refused: that is not one of the listed scenarios or plans.")
    try:
        path = bundled_scenario_path(name)
        if name in PLANS:
            plan = load_plan(path)
            return plan.params, plan.name
        return load_scenario(path), name
    except Exception:  # any failure: a short message in the page, the traceback in the log
        logger.exception("could not load the scenario %s", name)
        raise PageError(f'The scenario "{name}" could not be loaded; {SEE_LOG}.') from None


def _replayed(spec: str):
    """The replayed run of ``STORE:RUN_ID``; PageError (details logged) when it cannot be rebuilt."""
    from improvesim.experiments.replay import replay_run
    from improvesim.experiments.store import StoreError

    try:
        return replay_run(spec)
    except StoreError as exc:
        logger.error("cannot replay %s: %s", spec, exc)
        raise PageError(f"The replayed run could not be rebuilt; {SEE_LOG}.") from None


def _plan_a(c: Mapping[str, Any]):
    """Plan A: the chosen scenario with the room's levers (checked control values ``c``)."""
    base, _ = _load(c["scenario_file"])
    levers = {
        "time.protected_hours": c["protected_hours"],
        "time.integrated": c["integrated"],
        "governance.participation": c["participation"],
        "governance.top_down_support": c["top_down_support"],
        "governance.school_autonomy": c["school_autonomy"],
        "messaging.why_framing": c["why_framing"],
        "coaching.coaches": c["coaches"],
        "succession.deep_bench": c["deep_bench"],
        "knowledge.management": c["knowledge_management"],
    }
    for key in ("turnover.teacher", "turnover.principal", "turnover.lead", "turnover.coach"):
        levers[key] = min(base[key] * c["turnover"], 0.6)
    plan_a = base.with_overrides(levers, where="workshop controls")
    if c["pandemic"]:
        plan_a = Params(plan_a.values, plan_a.shocks + (Shock("pandemic", 12, 12, 0.8),), plan_a.name)
    return plan_a


class WorkshopModel(mesa.Model):
    """Plan A (a scenario with the room's levers) and, optionally, plan B, on one seed."""

    def __init__(
        self,
        scenario_file: str = "baseline",
        compare_with: str = NONE,
        seed: int | str = 1,
        turnover: float = 1.0,
        protected_hours: float = 6.0,
        integrated: float = 0.3,
        participation: str = "optional",
        top_down_support: float = 0.5,
        school_autonomy: float = 0.5,
        why_framing: float = 0.5,
        coaches: int = 4,
        deep_bench: float = 0.3,
        knowledge_management: float = 0.3,
        pandemic: bool = False,
        replay: str = "",
    ):
        """The arguments are the page's controls (:data:`CONTROLS`, which lists what each
        allows) and ``replay`` (``STORE:RUN_ID``, fixed by ``improvesim app --replay``).

        Never raises: a value not allowed, or anything that cannot be loaded or
        built, gives a model whose ``failure`` is a short message for the page
        (``a`` and ``b`` None, not running); the details are logged."""
        arguments = locals()
        self.failure: str | None = None
        try:
            c = checked_controls({name: arguments[name] for name in CONTROLS})
            run = _replayed(replay) if replay else None
        except PageError as exc:
            super().__init__()
            self._fail(str(exc))
            return
        seed = run.seed if run is not None else c["seed"]
        super().__init__(rng=seed)
        try:
            if run is not None:
                plan_a, label = run.params, f"Replay of run {run.run_id} of {run.store}"
            else:
                plan_a, label = _plan_a(c), f"Plan A: {c['scenario_file']} with the room's levers"
            self._start(plan_a, seed, label, c["compare_with"])
        except PageError as exc:
            self._fail(str(exc))
        except Exception:  # any failure: a short message in the page, the traceback in the log
            logger.exception("could not build the run from %s", c)
            self._fail(f"The run could not be built; {SEE_LOG}.")

    def _start(self, plan_a, seed: int, label: str, compare_with: str) -> None:
        self.label_a = label
        self.a = DistrictModel(plan_a, seed=seed)
        self.b = None
        if compare_with != NONE:
            plan_b, name = _load(compare_with)
            self.b = DistrictModel(plan_b, seed=seed)
            self.label_b = f"Plan B: {name}"
        reporters = {
            f"{m} (A)": (lambda w, m=m: w.a.latest(m))
            for m in (
                "authentic_share",
                "partial_share",
                "inauthentic_share",
                "engaged_share",
                "institutionalized_share",
            )
        }
        if self.b is not None:
            reporters.update(
                {f"{m} (B)": (lambda w, m=m: w.b.latest(m)) for m in ("authentic_share", "institutionalized_share")}
            )
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.running = True

    def _fail(self, message: str) -> None:
        self.failure = message
        self.a = self.b = None
        self.label_a = self.label_b = ""
        self.datacollector = mesa.DataCollector(model_reporters={})
        self.running = False

    def step(self) -> None:
        """One month of plan A (and plan B).  If the model fails, the run stops with
        ``failure`` set (the details are logged); a failed run does not step."""
        if self.failure is not None:
            self.running = False
            return
        try:
            self.a.step()
            if self.b is not None:
                self.b.step()
            self.datacollector.collect(self)
        except Exception:
            logger.exception("the model failed in month %s", self.a.month)
            self._fail(f"The model stopped with an error; {SEE_LOG}.")
            return
        self.running = self.a.running


selected = solara.reactive(None)  # (district label, school index) of the clicked tile


def tile_state(school) -> str:
    engagement = school.engagement
    if engagement == Engagement.NOT_INVITED:
        return "not invited"
    if engagement == Engagement.OPTED_OUT:
        return "opted out"
    if engagement == Engagement.PAUSED:
        return "paused"
    return {Authenticity.AUTHENTIC: "authentic", Authenticity.PARTIAL: "partial"}.get(
        school.authenticity, "inauthentic"
    )


@solara.component
def DistrictTiles(district: DistrictModel, label: str):
    update_counter.get()
    with solara.Column(classes=["district"], style={"flex": "1", "min-width": "420px"}):
        month = district.month
        engaged = sum(s.engagement == Engagement.ENGAGED for s in district.schools)
        institutionalized = sum(s.institutionalized for s in district.schools)
        solara.HTML(tag="h3", unsafe_innerHTML=html.escape(label), style={"margin": "4px 0"})
        solara.Text(
            f"{when(max(month - 1, 0)) if month else 'Before the start'}: {engaged} of {len(district.schools)} schools "
            f"engaged, {institutionalized} institutionalized",
            classes=["district-summary"],
            style={"font-size": "20px"},
        )
        with solara.Row(style={"flex-wrap": "wrap", "gap": "6px"}):
            for school in district.schools:
                state = tile_state(school)
                colour = TILE_COLOURS[state]
                dark = state in ("opted out", "authentic")
                text = f"{school.index}" + (" ★" if school.institutionalized else "")
                coach = school.coach
                text += f"\nC{coach}" if coach is not None else "\n–"
                solara.Button(
                    text,
                    on_click=lambda i=school.index: selected.set((label, i)),
                    classes=["school-tile"],
                    style={
                        "background-color": colour,
                        "color": "white" if dark else "black",
                        "width": "64px",
                        "height": "56px",
                        "font-size": "16px",
                        "white-space": "pre",
                        "border": "2px solid #444",
                    },
                )


@solara.component
def Districts(model: WorkshopModel):
    update_counter.get()
    with solara.Row(style={"gap": "24px", "align-items": "flex-start"}):
        DistrictTiles(model.a, model.label_a)
        if model.b is not None:
            DistrictTiles(model.b, model.label_b)
    legend = " · ".join(
        f"<span style='display:inline-block;width:18px;height:18px;background:{c};border:1px solid #444'></span> {name}"
        for name, c in TILE_COLOURS.items()
    )
    solara.HTML(
        tag="div",
        unsafe_innerHTML=legend + " · ★ institutionalized · Cn: coach n, –: no coach",
        style={"font-size": "18px", "margin-top": "8px"},
    )


def clicked_district(model: WorkshopModel, label: str, school: int) -> DistrictModel | None:
    """The district shown under ``label`` if it has a school ``school``; None otherwise."""
    shown = {model.label_a: model.a} | ({model.label_b: model.b} if model.b is not None else {})
    district = shown.get(label)
    if district is None or not isinstance(school, int) or not 0 <= school < len(district.schools):
        return None
    return district


@solara.component
def Story(model: WorkshopModel):
    update_counter.get()
    choice = selected.value
    if choice is None:
        solara.HTML(tag="p", unsafe_innerHTML="<em>Click a school's tile to read its story.</em>")
        return
    label, school = choice
    district = clicked_district(model, label, school)
    if district is None:  # a tile of an earlier run, or not a tile at all
        solara.HTML(tag="p", unsafe_innerHTML="<em>Click a school's tile to read its story.</em>")
        return
    months = district.month
    if months == 0:
        solara.HTML(tag="p", unsafe_innerHTML=f"<b>School {school}</b>: nothing has happened yet; press Step or Play.")
        return
    records = {k: v[0, :months] for k, v in district.engine.recorder.schools.items()}
    lines = school_story(district.events, records, school)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines[-40:])
    solara.HTML(
        tag="div",
        unsafe_innerHTML=f"<h4>The story of school {school} ({html.escape(label.split(':')[0])})</h4><ul>{items}</ul>",
        classes=["school-story"],
        style={"font-size": "17px"},
    )


def model_params() -> dict:
    """Mesa's user parameters: the controls, and the fixed ``replay`` of ``improvesim app --replay``."""
    return {"replay": os.environ.get(REPLAY_ENV, ""), **CONTROLS}


SHARES = {
    "authentic_share (A)": OKABE_ITO["green"],
    "partial_share (A)": OKABE_ITO["orange"],
    "inauthentic_share (A)": OKABE_ITO["purple"],
    "engaged_share (A)": OKABE_ITO["sky"],
    "institutionalized_share (A)": OKABE_ITO["blue"],
}
shares_chart = make_plot_component(SHARES)[0]


def notice(text: str) -> None:
    """A short message in the page, in red (plain text: it is escaped).  (Not solara.Error,
    whose Alert fails with the installed ipyvuetify.)"""
    solara.HTML(
        tag="div",
        unsafe_innerHTML=html.escape(text),
        classes=["page-notice"],
        style="color: #b00020; border: 2px solid #b00020; padding: 10px; font-size: 20px",
    )


@solara.component
def Page():
    """The workshop page, guarded: a failure below it never shows a traceback.

    Refused values and runs that cannot be loaded or stepped are shown by the
    Workshop itself (``WorkshopModel.failure``); anything else that fails
    replaces the page by a short message and a button to start again.  The
    details of every failure are in the server's log.
    """
    error, clear = solara.use_exception()
    solara.use_effect(lambda: _log_failure(error), [error])
    if error is None:
        Workshop()
        return
    with solara.Column(style={"padding": "24px", "font-size": "20px"}):
        notice(f"Something went wrong on the page; {SEE_LOG}.")
        solara.Button("Start again", color="primary", on_click=clear)


def _log_failure(error: BaseException | None) -> None:
    if error is not None:
        logger.error("the page failed", exc_info=error)


def first_model() -> WorkshopModel:
    """The page's first model: the controls' defaults, or the run of ``improvesim app --replay``."""
    defaults = {name: spec["value"] for name, spec in CONTROLS.items()}
    return WorkshopModel(replay=os.environ.get(REPLAY_ENV, ""), **defaults)


@solara.component
def Workshop():
    """Mesa's model controller and parameter controls, then the districts, a school's story
    and the charts, or, for a failed run, its short message.  (The components are laid out
    in a plain column rather than SolaraViz's draggable grid, whose browser code needs a CDN.)"""
    initial = solara.use_memo(first_model, [])  # built once, not on every render
    model = solara.use_reactive(initial)
    parameters = solara.use_reactive({})
    play_interval = solara.use_reactive(150)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)
    with solara.Row(style={"gap": "20px", "align-items": "flex-start", "padding": "12px"}):
        with solara.Column(style={"width": "380px", "flex": "none"}):
            solara.HTML(tag="h2", unsafe_innerHTML="improvesim workshop: why improvement fades", style={"margin": "0"})
            with solara.Card("Run"):
                ModelController(
                    model,
                    model_parameters=parameters,
                    play_interval=play_interval,
                    render_interval=render_interval,
                    use_threads=use_threads,
                )
                ShowSteps(model.value)
            with solara.Card("Scenario, levers and seed (press Reset to apply; the levers override the scenario)"):
                ModelCreator(model, model_params(), model_parameters=parameters)
        with solara.Column(style={"flex": "1", "font-size": "18px"}):
            Run(model.value)


@solara.component
def Run(model: WorkshopModel):
    """The districts, a school's story and the charts; a failed run's message instead."""
    update_counter.get()
    if model.failure is not None:
        notice(model.failure)
        return
    Districts(model)
    with solara.Row(style={"gap": "24px", "align-items": "flex-start"}):
        with solara.Column(style={"flex": "1"}):
            Story(model)
        with solara.Column(style={"flex": "1"}):
            shares_chart(model)


page = Page
