"""Workshop mode: a live district in the browser (Mesa SolaraViz parts).

    improvesim app [--port 8765] [--host 127.0.0.1] [--replay STORE:RUN_ID]

Built for a projector at 1280x720: on the left, Mesa's model controller
(Reset, Play, Step) with a step counter in years and months, and the levers
(a scenario picker, a second plan side by side on the same seed, a seed and
the levers a room argues about, each showing its value; their column scrolls
on its own).  On the right, on one screen: the tiles of plan A and plan B,
one per school, coloured by engagement and authenticity, with each school's
coach; a legend; a school's story when its tile is clicked; and a chart of
the district shares of both plans (plan A solid, plan B dashed) over the run,
in the tiles' colours (Okabe-Ito, colour-blind safe), with its legend.  Text
is at least 18 px and meets WCAG AA contrast.  Changed controls take effect
on Reset.  ``--replay STORE:RUN_ID`` shows a run of a sweep exactly (its
stored parameters and seed) as plan A.

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
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import mesa
import solara
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter

from improvesim.analysis.compare import load_plan
from improvesim.analysis.plots import OKABE_ITO
from improvesim.analysis.story import school_story, when
from improvesim.analysis.tiles import ENGAGED_TILES, tile_state_of
from improvesim.app_chart import ShareChart
from improvesim.sim.bundled import bundled_plans, bundled_scenario_path, bundled_scenarios
from improvesim.sim.model import DistrictModel
from improvesim.sim.params import Params, Shock, load_scenario

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


#: Tile colours (Okabe-Ito, colour-blind safe) by what the tile shows (:data:`TILE_STATES`, in
#: its order), and their legend; the chart uses the same colours.
TILE_COLOURS = {
    "authentic": OKABE_ITO["green"],
    "partial": OKABE_ITO["orange"],
    "inauthentic": OKABE_ITO["sky"],
    "paused": "#9e9e9e",
    "opted out": "#3a3a3a",
    "not invited": "#ffffff",
}
#: The chart's lines by collected metric: (legend name, colour).  The three kinds of engaged
#: school have their tiles' colours; the two totals have colours no tile uses.
CHART_LINES = {
    "authentic_share": ("authentic", TILE_COLOURS["authentic"]),
    "partial_share": ("partial", TILE_COLOURS["partial"]),
    "inauthentic_share": ("inauthentic", TILE_COLOURS["inauthentic"]),
    "engaged_share": ("engaged (all three)", OKABE_ITO["blue"]),
    "institutionalized_share": ("institutionalized ★", OKABE_ITO["purple"]),
}

#: Text colour on a tile where black would not meet WCAG AA contrast (4.5:1); black elsewhere.
TILE_INK = {"opted out": "#ffffff"}

#: The page's look, at 1280x720 on a projector: everything but the levers fits on the screen;
#: text is at least 18 px, dark on light (WCAG AA); the levers' column scrolls on its own.
STYLE = """
html, body, .v-application { font-size: 18px; color: #1a1a1a; background: #ffffff; }
.v-application .v-btn, .v-application .v-label, .v-application input, .v-application .v-select__selection,
.v-application .v-list-item, .v-application .v-list-item__title, .v-application .v-input { font-size: 18px !important; }
.v-application .v-btn { letter-spacing: 0; text-transform: none; }
.workshop { padding: 8px; height: 100vh; box-sizing: border-box; flex-wrap: nowrap !important; }
.workshop > * { margin: 0 !important; }
.controls-panel { width: 300px; flex: none; height: 100%; overflow-y: auto; overflow-x: hidden; padding: 0 6px 0 0; }
.page-title { font-size: 22px; margin: 0; line-height: 28px; }
.card { border: 1px solid #b0b0b0; border-radius: 6px; padding: 8px 10px; }
.card-title { font-size: 20px; margin: 0; }
.hint { font-size: 18px; color: #1a1a1a; }
.step-counter { font-size: 22px; font-weight: 700; line-height: 28px; }
.lever-head { align-items: baseline; flex-wrap: nowrap !important; }
.lever-label { line-height: 22px; }
.lever-value { font-weight: 700; font-variant-numeric: tabular-nums; }
.lever .v-input { margin-top: 0; padding-top: 0; }
.lever .v-input--checkbox .v-label { color: #1a1a1a; }
.lever .v-text-field .v-input__slot, .lever .v-select .v-input__slot { min-height: 40px; }
.run-area { flex: 1 1 0; min-width: 0; height: 100%; overflow: hidden; }
.districts { flex-wrap: nowrap !important; }
.district { flex: 1 1 0; min-width: 0; }
.district-label { font-size: 19px; margin: 0; line-height: 24px; overflow-wrap: anywhere; }
.district-summary { line-height: 24px; }
.tile-grid { display: grid; grid-template-columns: repeat(8, 1fr); gap: 4px; }
.school-tile { height: 42px; min-width: 0; border: 2px solid #444; border-radius: 4px; font-size: 18px;
  line-height: 20px; padding: 0; display: flex; flex-direction: column; align-items: center; justify-content: center;
  cursor: pointer; white-space: nowrap; font-family: inherit; }
.legend { line-height: 26px; }
.legend .key { display: inline-block; margin-right: 14px; white-space: nowrap; }
.legend .swatch { display: inline-block; width: 18px; height: 18px; border: 1px solid #444; margin-right: 5px;
  vertical-align: -3px; }
.legend .line-key { display: inline-block; width: 30px; height: 0; margin-right: 5px; vertical-align: 5px; }
.run { flex: 1 1 0; min-height: 0; height: 100%; }
.districts-and-legend { flex: none; }
.below { flex-wrap: nowrap !important; flex: 1 1 0; min-height: 0; }
.story-box { flex: 1 1 0; min-width: 0; overflow-y: auto; height: 100%; }
.story-box h4 { font-size: 19px; margin: 0 0 4px 0; }
.story-box ul { margin: 0; padding-left: 22px; }
.story-box p { margin: 0; }
.chart-box { flex: none; width: 456px; }
.chart svg { display: block; }
.page-notice { color: #b00020; border: 2px solid #b00020; padding: 10px; font-size: 20px; }
"""


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
                plan_a, label = run.params, f"Replay: run {run.run_id} of {run.store.name}"
            else:
                plan_a, label = _plan_a(c), f"Plan A: {c['scenario_file']} with your levers"
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
        reporters = {f"{m} (A)": (lambda w, m=m: w.a.latest(m)) for m in CHART_LINES}
        if self.b is not None:
            reporters.update({f"{m} (B)": (lambda w, m=m: w.b.latest(m)) for m in CHART_LINES})
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
    """What ``school``'s tile shows (one of :data:`TILE_STATES`): the rule the workshop
    guide's counts use too (:func:`~improvesim.analysis.tiles.tile_state_of`)."""
    return tile_state_of(school.engagement, school.authenticity)


def tiles(district: DistrictModel) -> list[dict[str, Any]]:
    """What each school's tile shows, in school order: ``index``, ``number`` (with ★ when
    institutionalized), ``coach`` (``C2``, or ``–`` for none), ``colour`` and ``ink`` (its
    background and text colours, by :func:`tile_state`) and ``title`` (the same in words)."""
    shown = []
    for school in district.schools:
        state = tile_state(school)
        coach = f"C{school.coach}" if school.coach is not None else "–"
        star = " ★" if school.institutionalized else ""
        shown.append(
            {
                "index": school.index,
                "number": f"{school.index}{star}",
                "coach": coach,
                "colour": TILE_COLOURS[state],
                "ink": TILE_INK.get(state, "#000000"),
                "title": f"School {school.index}: {state}{', institutionalized' if star else ''}; "
                + (f"coach {school.coach}" if school.coach is not None else "no coach"),
            }
        )
    return shown


@solara.component_vue("tiles.vue")
def TileGrid(tiles: list, event_pick: Callable[[int], None]):
    """The tiles (one widget for the whole district: a step sends one list, not a widget per school)."""


@solara.component
def DistrictTiles(district: DistrictModel, label: str, month: int):
    """A district's tiles as of ``month`` (the months simulated: the component redraws when it changes)."""
    engaged = sum(tile_state(s) in ENGAGED_TILES for s in district.schools)
    institutionalized = sum(s.institutionalized for s in district.schools)
    with solara.Column(classes=["district", "box"], gap="4px"):
        solara.HTML(tag="h3", unsafe_innerHTML=html.escape(label), classes=["district-label"])
        solara.Text(
            f"{engaged} of {len(district.schools)} engaged · {institutionalized} institutionalized",
            classes=["district-summary"],
        )
        TileGrid(tiles=tiles(district), event_pick=lambda index: selected.set((label, index)))


def _swatch(colour: str) -> str:
    return f"<span class='swatch' style='background:{colour}'></span>"


TILE_LEGEND = (
    "".join(f"<span class='key'>{_swatch(colour)}{name}</span>" for name, colour in TILE_COLOURS.items())
    + "<span class='key'>★ institutionalized</span><span class='key'>C2: coach 2</span>"
)


def _line_key(colour: str, style: str) -> str:
    return f"<span class='line-key' style='border-top: 4px {style} {colour}'></span>"


@solara.component
def Districts(model: WorkshopModel, month: int):
    with solara.Column(classes=["districts-and-legend"], gap="4px"):
        with solara.Row(classes=["districts"], gap="16px"):
            DistrictTiles(model.a, model.label_a, month)
            if model.b is not None:
                DistrictTiles(model.b, model.label_b, month)
            else:
                with solara.Column(classes=["district", "box", "no-plan-b"]):
                    solara.Text("No plan B: choose one under “Side by side with”, then press Reset.")
        solara.HTML(tag="div", unsafe_innerHTML=TILE_LEGEND, classes=["legend", "tile-legend", "box"])


def clicked_district(model: WorkshopModel, label: str, school: int) -> DistrictModel | None:
    """The district shown under ``label`` if it has a school ``school``; None otherwise."""
    shown = {model.label_a: model.a} | ({model.label_b: model.b} if model.b is not None else {})
    district = shown.get(label)
    whole = isinstance(school, int) and not isinstance(school, bool)  # the browser sends it: check its type
    if district is None or not whole or not 0 <= school < len(district.schools):
        return None
    return district


@solara.component
def Story(model: WorkshopModel, month: int):
    with solara.Column(classes=["story-box", "box"]):
        choice = selected.value
        district = clicked_district(model, *choice) if choice is not None else None
        if district is None:  # nothing clicked, a tile of an earlier run, or not a tile at all
            solara.HTML(tag="p", unsafe_innerHTML="<em>Click a school's tile to read its story.</em>")
            return
        school = choice[1]
        months = district.month
        if months == 0:
            solara.HTML(
                tag="p", unsafe_innerHTML=f"<b>School {school}</b>: nothing has happened yet; press Step or Play."
            )
            return
        records = {k: v[0, :months] for k, v in district.engine.recorder.schools.items()}
        lines = school_story(district.events, records, school)
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines[-40:])
        plan = html.escape(choice[0].split(":")[0])
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f"<h4>The story of school {school} ({plan})</h4><ul>{items}</ul>",
            classes=["school-story"],
        )


def model_params() -> dict:
    """Mesa's user parameters: the controls, and the fixed ``replay`` of ``improvesim app --replay``."""
    return {"replay": os.environ.get(REPLAY_ENV, ""), **CONTROLS}


def chart_series(model: WorkshopModel) -> dict[str, dict[str, list[float]]]:
    """Each shown plan's collected shares by metric (0 to 1, one per month so far): {"A": {...}, "B": {...}}."""
    collected = model.datacollector.model_vars
    plans = ("A", "B") if model.b is not None else ("A",)
    return {plan: {metric: collected[f"{metric} ({plan})"] for metric in CHART_LINES} for plan in plans}


def share_chart(model: WorkshopModel) -> ShareChart:
    """The chart of the model's plans, its x axis as long as the longer run."""
    months = max(d.engine.months for d in (model.a, model.b) if d is not None)
    plans = ("A", "B") if model.b is not None else ("A",)
    return ShareChart({metric: colour for metric, (_, colour) in CHART_LINES.items()}, plans, months)


@solara.component
def Chart(model: WorkshopModel, month: int):
    """The district shares of both plans over the run (plan A solid, plan B dashed), with its legend."""
    chart = solara.use_memo(lambda: share_chart(model), [model])
    svg = solara.use_memo(lambda: chart.svg(chart_series(model)), [model, month])
    plans = [("-", "solid", model.label_a)] + ([("--", "dashed", model.label_b)] if model.b is not None else [])
    legend = "".join(
        f"<span class='key'>{_line_key(colour, 'solid')}{html.escape(name)}</span>"
        for name, colour in CHART_LINES.values()
    ) + "".join(
        f"<span class='key'>{_line_key('#000000', style)}{html.escape(label.split(':')[0])}</span>"
        for _, style, label in plans
    )
    with solara.Column(classes=["chart-box", "box"], gap="0px"):
        solara.HTML(tag="div", unsafe_innerHTML=svg, classes=["chart"])
        solara.HTML(tag="div", unsafe_innerHTML=legend, classes=["legend", "chart-legend"])


@solara.component
def StepCounter(model: WorkshopModel, month: int):
    """Where the run is: "Year 2, September" and "month 14 of 120", or "Before the start"."""
    if model.failure is not None:
        return
    months = model.a.engine.months
    with solara.Column(gap="0px"):
        solara.Text(when(month - 1) if month else "Before the start", classes=["step-counter"])
        solara.Text(f"month {month} of {months}", classes=["step-months"])


def notice(text: str) -> None:
    """A short message in the page, in red (plain text: it is escaped).  (Not solara.Error,
    whose Alert fails with the installed ipyvuetify.)"""
    solara.HTML(tag="div", unsafe_innerHTML=html.escape(text), classes=["page-notice"])


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
    solara.Style(STYLE)
    if error is None:
        Workshop()
        return
    with solara.Column(style={"padding": "24px"}):
        notice(f"Something went wrong on the page; {SEE_LOG}.")
        solara.Button("Start again", color="primary", on_click=clear)


def _log_failure(error: BaseException | None) -> None:
    if error is not None:
        logger.error("the page failed", exc_info=error)


def first_model() -> WorkshopModel:
    """The page's first model: the controls' defaults, or the run of ``improvesim app --replay``."""
    defaults = {name: spec["value"] for name, spec in CONTROLS.items()}
    return WorkshopModel(replay=os.environ.get(REPLAY_ENV, ""), **defaults)


def first_parameters() -> dict[str, Any]:
    """What Reset builds from until a control moves: ``replay`` and every control's default."""
    return {name: spec["value"] if isinstance(spec, dict) else spec for name, spec in model_params().items()}


@solara.component
def Workshop():
    """Mesa's model controller with the step counter and the levers (on the left, scrolling on
    their own), then the districts, a school's story and the chart, or, for a failed run, its
    short message.  (The parts are laid out in a plain row rather than SolaraViz's draggable
    grid, whose browser code needs a CDN.)"""
    initial = solara.use_memo(first_model, [])  # built once, not on every render
    model = solara.use_reactive(initial)
    parameters = solara.use_reactive(solara.use_memo(first_parameters, []))
    play_interval = solara.use_reactive(150)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)
    # the page's one reader of Mesa's update counter: the parts showing the run get the month
    # and redraw when it changes (a reader each would cost a render pass of the page each)
    update_counter.get()
    month = model.value.a.month if model.value.failure is None else 0
    with solara.Row(classes=["workshop"], gap="16px"):
        with solara.Column(classes=["controls-panel", "box"], gap="12px"):
            solara.HTML(tag="h2", unsafe_innerHTML="Why improvement fades", classes=["page-title"])
            with solara.Column(classes=["run-card", "card", "box"], gap="6px"):
                ModelController(
                    model,
                    model_parameters=parameters,
                    play_interval=play_interval,
                    render_interval=render_interval,
                    use_threads=use_threads,
                )
                StepCounter(model.value, month)
            with solara.Column(classes=["levers-card", "card", "box"], gap="10px"):
                solara.HTML(tag="h3", unsafe_innerHTML="Plans, levers and seed", classes=["card-title"])
                solara.Text("Changes apply when you press Reset.", classes=["hint"])
                Levers(parameters)
        with solara.Column(classes=["run-area"], gap="8px"):
            Run(model.value, month)


def shown_value(spec: dict[str, Any], value: Any) -> str:
    """A slider's value as the page shows it: as many decimals as its step has (``0.3``, ``6``)."""
    decimals = 0 if float(spec["step"]).is_integer() else 1
    return f"{float(value):.{decimals}f}"


@solara.component
def Levers(parameters: solara.Reactive[dict]):
    """One field per control (:data:`CONTROLS`): its label, its value in words, the control."""
    for name, spec in CONTROLS.items():
        Lever(name, spec, parameters)


@solara.component
def Lever(name: str, spec: dict[str, Any], parameters: solara.Reactive[dict]):
    value = parameters.value.get(name, spec["value"])

    def set_value(new: Any) -> None:
        parameters.value = {**parameters.value, name: new}

    kind = spec["type"]
    with solara.Column(classes=["lever", f"lever-{name}"], gap="0px"):
        if kind == "Checkbox":
            # not solara.Checkbox, which also puts its label inside the box (shown twice, spilling out)
            solara.v.Checkbox(label=spec["label"], v_model=bool(value), on_v_model=set_value, hide_details=True)
            return
        with solara.Row(classes=["lever-head"], justify="space-between", gap="8px"):
            solara.Text(spec["label"], classes=["lever-label"])
            if kind.startswith("Slider"):
                solara.Text(shown_value(spec, value), classes=["lever-value"])
        if kind == "Select":
            solara.Select(label="", value=value, values=spec["values"], on_value=set_value, classes=[f"control-{name}"])
        elif kind == "InputText":
            solara.InputText(label="", value=str(value), on_value=set_value, classes=[f"control-{name}"])
        else:
            slider = solara.SliderInt if kind == "SliderInt" else solara.SliderFloat
            slider("", value=value, min=spec["min"], max=spec["max"], step=spec["step"], on_value=set_value)


@solara.component
def Run(model: WorkshopModel, month: int):
    """The districts, a school's story and the chart as of ``month``; a failed run's message instead."""
    if model.failure is not None:
        notice(model.failure)
        return
    with solara.Column(classes=["run"], gap="8px"):
        Districts(model, month)
        with solara.Row(classes=["below"], gap="16px"):
            Story(model, month)
            Chart(model, month)


page = Page
