"""The district as a Mesa model.

:class:`DistrictModel` is one run: a vectorized engine of one run with
schools, coaches and the central office on top as Mesa agents.  Its
``step()`` advances one month; its ``datacollector`` records the district
shares each month for charts.  The same engine computes batches of runs
(:func:`sim.engine.simulate`), and a run gives the same bytes either way.

Model purpose and sources: docs/ODD.md; seeds 001 and 003.
"""

from __future__ import annotations

import mesa

from improvesim.sim.agents import CentralOfficeAgent, CoachAgent, SchoolAgent
from improvesim.sim.engine import Engine, SimulationResult
from improvesim.sim.outcomes import DISTRICT_METRICS
from improvesim.sim.params import Params, defaults

#: District shares the model's DataCollector records each month.
COLLECTED = (
    "authentic_share",
    "partial_share",
    "inauthentic_share",
    "engaged_share",
    "institutionalized_share",
    "faded_share",
)


class DistrictModel(mesa.Model):
    """A school district adopting continuous improvement, one month per step.

    Args:
        params: a validated parameter set (defaults: the baseline district).
        seed: the run's seed; every random stream is derived from it.
        record_events: keep the event log (``model.events``) for stories.
    """

    def __init__(self, params: Params | None = None, seed: int = 1, *, record_events: bool = True):
        super().__init__(rng=seed)
        self.params = params if params is not None else defaults()
        self.seed = seed
        self.engine = Engine([self.params], [seed], record_schools=True, record_events=record_events)
        self.schools = [SchoolAgent(self, i) for i in range(self.engine.st.schools)]
        self.coaches = [CoachAgent(self, c) for c in range(self.engine.st.coach_position.shape[1])]
        self.central_office = CentralOfficeAgent(self)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, n=name: m.latest(n)) for name in COLLECTED}
        )
        self.running = True

    @property
    def month(self) -> int:
        """Months simulated so far."""
        return self.engine.month

    @property
    def events(self):
        """This run's event log (a list of :class:`sim.events.Event`)."""
        return self.engine.st.events[0] if self.engine.st.events is not None else []

    def latest(self, metric: str) -> float:
        """District metric ``metric`` at the last simulated month (NaN before the first)."""
        if self.engine.month == 0:
            return float("nan")
        j = DISTRICT_METRICS.index(metric)
        return float(self.engine.recorder.district_month(self.engine.month - 1)[0, j])

    def step(self) -> None:
        self.engine.step()
        self.datacollector.collect(self)
        if self.engine.done:
            self.running = False

    def run(self) -> SimulationResult:
        """Run to the end of the horizon and return the outcomes."""
        while self.running:
            self.step()
        return self.engine.result()
