"""Mesa agents: schools, coaches and the central office.

These are the few actors that make decisions.  They hold no state of their
own: each is a view onto the district-wide arrays of the model's engine
(run 0 of a batch of one), so researchers and the workshop page can inspect
them with Mesa's tools (``model.agents``, ``agents_by_type``, ``select``,
``agg``) while the model stays vectorized.  Staff are not agents (see
:mod:`sim.state`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from improvesim.sim.state import PRINCIPLES, Authenticity, Engagement, team_mean

if TYPE_CHECKING:
    from improvesim.sim.model import DistrictModel


class SchoolAgent(mesa.Agent):
    """A school: engagement, authenticity, embeddedness and its team, read live."""

    def __init__(self, model: DistrictModel, index: int):
        super().__init__(model)
        self.index = index

    @property
    def _st(self):
        return self.model.engine.st

    @property
    def engagement(self) -> Engagement:
        return Engagement(int(self._st.engagement[0, self.index]))

    @property
    def authenticity(self) -> Authenticity:
        return Authenticity(int(self._st.authenticity[0, self.index]))

    @property
    def principles(self) -> dict[str, float]:
        """Practice (0-1) of each of the six principles."""
        return {name: float(self._st.principles[k, 0, self.index]) for k, name in enumerate(PRINCIPLES)}

    @property
    def commitment(self) -> float:
        """Team commitment, 0-1 (principal and lead weigh double)."""
        return float(team_mean(self._st.commitment[:, :1, self.index : self.index + 1], self._st.weights[:1])[0, 0])

    @property
    def skill(self) -> float:
        """Team improvement skill, 0-1 (novice below 1/3, expert above 2/3)."""
        return float(team_mean(self._st.skill[:, :1, self.index : self.index + 1], self._st.weights[:1])[0, 0])

    @property
    def embeddedness(self) -> float:
        return float(self._st.embeddedness[0, self.index])

    @property
    def effort(self) -> float:
        """Share of full-pace improvement work the team did this month, 0-1."""
        return float(self._st.effort[0, self.index])

    @property
    def tool_use(self) -> float:
        """Use of the improvement tools (diagrams, templates), 0-1."""
        return float(self._st.tools[0, self.index])

    @property
    def institutionalized(self) -> bool:
        return bool(self._st.institutionalized[0, self.index])

    @property
    def coach(self) -> int | None:
        """Seat of the coach serving this school, or None."""
        c = int(self._st.coach_of[0, self.index])
        return None if c < 0 else c

    @property
    def bench(self) -> int:
        return int(self._st.bench[0, self.index])

    @property
    def stalled(self) -> bool:
        return bool(self._st.stall[0, self.index] > 0)

    @property
    def cycles_done(self) -> int:
        return int(self._st.cycles_done[0, self.index])


class CoachAgent(mesa.Agent):
    """A coach position: in post or vacant, skill, funding, caseload."""

    def __init__(self, model: DistrictModel, seat: int):
        super().__init__(model)
        self.seat = seat

    @property
    def _st(self):
        return self.model.engine.st

    @property
    def in_post(self) -> bool:
        return bool(self._st.coach_position[0, self.seat] and self._st.coach_filled[0, self.seat])

    @property
    def position_exists(self) -> bool:
        return bool(self._st.coach_position[0, self.seat])

    @property
    def grant_funded(self) -> bool:
        return bool(self._st.coach_grant[0, self.seat])

    @property
    def skill(self) -> float:
        return float(self._st.coach_skill[0, self.seat])

    @property
    def caseload(self) -> list[int]:
        """Indices of the schools this coach serves."""
        return [int(i) for i in (self._st.coach_of[0] == self.seat).nonzero()[0]]


class CentralOfficeAgent(mesa.Agent):
    """The central office: priority, message, hub, knowledge base, leadership changes."""

    @property
    def _st(self):
        return self.model.engine.st

    @property
    def priority(self) -> float:
        return float(self._st.priority[0])

    @property
    def message(self) -> float:
        """The felt message, 0-1."""
        return float(self._st.message[0])

    @property
    def hub_capacity(self) -> float:
        return float(self._st.hub_capacity[0])

    @property
    def knowledge_base(self) -> float:
        return float(self._st.knowledge_base[0])

    @property
    def leader_changes(self) -> int:
        return int(self._st.leader_changes[0])

    @property
    def competing_initiative(self) -> bool:
        return bool(self._st.initiative_months[0] > 0)
