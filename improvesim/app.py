"""Workshop mode: a live district in the browser (Mesa SolaraViz).

    improvesim app [--port 8765] [--host 127.0.0.1]

It is built from Mesa's SolaraViz parts (the model controller, the
parameter controls, the plot component).  The page shows the district as tiles, one per school, coloured by
engagement and authenticity, with each school's coach; charts of the
district shares over time; controls for the levers a room argues about; a
scenario picker; play, step and reset; a seed; a second plan side by side
on the same seed; and, when a school's tile is clicked, that school's story.
Changed controls take effect on Reset.  ``--replay STORE:RUN_ID`` shows a run
of a sweep exactly (its scenario, overrides and seed) as plan A.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

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
from improvesim.sim.params import load_scenario
from improvesim.sim.state import Authenticity, Engagement

SCENARIOS = bundled_scenarios()
PLANS = bundled_plans()
NONE = "none"
REPLAY_ENV = "IMPROVESIM_APP_REPLAY"

#: Tile colours (Okabe-Ito, colour-blind safe) and their legend.
TILE_COLOURS = {
    "authentic": OKABE_ITO["green"],
    "partial": OKABE_ITO["orange"],
    "inauthentic": OKABE_ITO["sky"],
    "paused": "#9e9e9e",
    "opted out": "#3a3a3a",
    "not invited": "#ffffff",
}


def replayed_run(spec: str):
    """(parameters, seed, label) of run ``RUN_ID`` of a sweep store, from ``STORE:RUN_ID``."""
    import pandas as pd

    from improvesim.experiments.spec import load_experiment

    store, _, run_text = spec.rpartition(":")
    if not (run_text.isascii() and run_text.isdigit()):
        raise ValueError(f"RUN_ID: got {run_text!r}; allowed: a run number such as 0")
    plan_file = Path(store) / "plan.parquet"
    if not plan_file.is_file():
        raise ValueError(f"{plan_file} is not a file; allowed: a sweep store (a folder with plan.parquet)")
    try:
        plan = pd.read_parquet(plan_file)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{plan_file} cannot be read ({type(exc).__name__})") from None
    if not {"run_id", "seed"} <= set(plan.columns) or plan.empty:
        raise ValueError(f"{plan_file} is not a sweep store's plan (no runs)")
    rows = plan[plan["run_id"] == int(run_text)]
    if rows.empty:
        raise ValueError(f"no run {run_text} in {store}; allowed: 0 to {len(plan) - 1}")
    run_id = int(run_text)
    factors = [c for c in plan.columns if c not in ("run_id", "set", "replicate", "seed")]
    # read column by column: a row of mixed types would turn the 64-bit seed into a float
    overrides = {k: rows[k].tolist()[0] for k in factors}
    seed = int(rows["seed"].tolist()[0])
    base = load_experiment(Path(store) / "experiment.toml").base
    return base.with_overrides(overrides, where=spec), seed, f"Replay of run {run_id} of {store}"


def _load(name: str):
    """A bundled scenario (``baseline``) or plan (``plans/deep_bench``) by name; KeyError for any other name."""
    path = bundled_scenario_path(name)
    if name in PLANS:
        plan = load_plan(path)
        return plan.params, plan.name
    return load_scenario(path), name


class WorkshopModel(mesa.Model):
    """Plan A (a scenario with the room's levers) and, optionally, plan B, on one seed."""

    def __init__(
        self,
        scenario_file: str = "baseline",
        compare_with: str = NONE,
        seed: int = 1,
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
        seed = int(seed)
        if replay:
            plan_a, seed, label = replayed_run(replay)
            super().__init__(rng=seed)
            self._start(plan_a, seed, label, compare_with)
            return
        super().__init__(rng=seed)
        base, _ = _load(scenario_file)
        levers = {
            "time.protected_hours": float(protected_hours),
            "time.integrated": float(integrated),
            "governance.participation": participation,
            "governance.top_down_support": float(top_down_support),
            "governance.school_autonomy": float(school_autonomy),
            "messaging.why_framing": float(why_framing),
            "coaching.coaches": int(coaches),
            "succession.deep_bench": float(deep_bench),
            "knowledge.management": float(knowledge_management),
        }
        for key in ("turnover.teacher", "turnover.principal", "turnover.lead", "turnover.coach"):
            levers[key] = min(base[key] * float(turnover), 0.6)
        plan_a = base.with_overrides(levers, where="workshop controls")
        if pandemic:
            from improvesim.sim.params import Params, Shock

            plan_a = Params(plan_a.values, plan_a.shocks + (Shock("pandemic", 12, 12, 0.8),), plan_a.name)
        self._start(plan_a, seed, f"Plan A: {scenario_file} with the room's levers", compare_with)

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

    def step(self) -> None:
        self.a.step()
        if self.b is not None:
            self.b.step()
        self.datacollector.collect(self)
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


@solara.component
def Story(model: WorkshopModel):
    update_counter.get()
    choice = selected.value
    if choice is None:
        solara.HTML(tag="p", unsafe_innerHTML="<em>Click a school's tile to read its story.</em>")
        return
    label, school = choice
    district = model.b if (model.b is not None and label == getattr(model, "label_b", None)) else model.a
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
    replay = os.environ.get(REPLAY_ENV, "")
    return {
        "replay": replay,  # fixed, from `improvesim app --replay STORE:RUN_ID`
        # not "scenario": Mesa's reset passes its own Scenario object under that name
        "scenario_file": {"type": "Select", "value": "baseline", "values": SCENARIOS, "label": "Scenario"},
        "compare_with": {
            "type": "Select",
            "value": NONE,
            "values": [NONE, *SCENARIOS, *PLANS],
            "label": "Side by side with",
        },
        "seed": {"type": "InputText", "value": 1, "label": "Seed"},
        "turnover": {
            "type": "SliderFloat",
            "value": 1.0,
            "min": 0.5,
            "max": 2.0,
            "step": 0.1,
            "label": "Staff turnover (x national average)",
        },
        "protected_hours": {
            "type": "SliderFloat",
            "value": 6.0,
            "min": 0.0,
            "max": 12.0,
            "step": 1.0,
            "label": "Protected hours a month",
        },
        "integrated": {
            "type": "SliderFloat",
            "value": 0.3,
            "min": 0.0,
            "max": 1.0,
            "step": 0.1,
            "label": "Integrated into PLCs (0 = added on top)",
        },
        "participation": {
            "type": "Select",
            "value": "optional",
            "values": ["optional", "required"],
            "label": "Participation",
        },
        "top_down_support": {
            "type": "SliderFloat",
            "value": 0.5,
            "min": 0.0,
            "max": 1.0,
            "step": 0.1,
            "label": "Top-down support",
        },
        "school_autonomy": {
            "type": "SliderFloat",
            "value": 0.5,
            "min": 0.0,
            "max": 1.0,
            "step": 0.1,
            "label": "School autonomy",
        },
        "why_framing": {
            "type": "SliderFloat",
            "value": 0.5,
            "min": 0.0,
            "max": 1.0,
            "step": 0.1,
            "label": "Message framed around the why",
        },
        "coaches": {"type": "SliderInt", "value": 4, "min": 0, "max": 12, "step": 1, "label": "Coaches"},
        "deep_bench": {
            "type": "SliderFloat",
            "value": 0.3,
            "min": 0.0,
            "max": 1.0,
            "step": 0.1,
            "label": "Deep bench (succession plan)",
        },
        "knowledge_management": {
            "type": "SliderFloat",
            "value": 0.3,
            "min": 0.0,
            "max": 1.0,
            "step": 0.1,
            "label": "Knowledge management",
        },
        "pandemic": {"type": "Checkbox", "value": False, "label": "A pandemic in year 2"},
    }


SHARES = {
    "authentic_share (A)": OKABE_ITO["green"],
    "partial_share (A)": OKABE_ITO["orange"],
    "inauthentic_share (A)": OKABE_ITO["purple"],
    "engaged_share (A)": OKABE_ITO["sky"],
    "institutionalized_share (A)": OKABE_ITO["blue"],
}
shares_chart = make_plot_component(SHARES)[0]


@solara.component
def Page():
    """The workshop page: Mesa's model controller and parameter controls, the districts,
    a school's story and the charts.  (The components are laid out in a plain column
    rather than SolaraViz's draggable grid, whose browser code needs a CDN.)"""
    initial = solara.use_memo(WorkshopModel, [])  # built once, not on every render
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
            Districts(model.value)
            with solara.Row(style={"gap": "24px", "align-items": "flex-start"}):
                with solara.Column(style={"flex": "1"}):
                    Story(model.value)
                with solara.Column(style={"flex": "1"}):
                    shares_chart(model.value)


page = Page
