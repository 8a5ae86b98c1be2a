"""The Mesa face of the model: agents researchers and the workshop page inspect."""

import numpy as np
import pytest

from improvesim.sim.agents import CentralOfficeAgent, CoachAgent, SchoolAgent
from improvesim.sim.model import DistrictModel
from improvesim.sim.state import Authenticity, Engagement


@pytest.fixture(scope="module")
def model():
    m = DistrictModel(seed=4)
    for _ in range(30):
        m.step()
    return m


# the attributes every agent type must offer, with their allowed values
CONTRACT = {
    SchoolAgent: {
        "engagement": lambda v: isinstance(v, Engagement),
        "authenticity": lambda v: isinstance(v, Authenticity),
        "commitment": lambda v: 0 <= v <= 1,
        "skill": lambda v: 0 <= v <= 1,
        "embeddedness": lambda v: 0 <= v <= 1,
        "institutionalized": lambda v: isinstance(v, bool),
        "bench": lambda v: 0 <= v <= 2,
        "principles": lambda v: len(v) == 6 and all(0 <= x <= 1 for x in v.values()),
    },
    CoachAgent: {
        "in_post": lambda v: isinstance(v, bool),
        "skill": lambda v: 0 <= v <= 1,
        "caseload": lambda v: isinstance(v, list),
    },
    CentralOfficeAgent: {
        "priority": lambda v: 0 <= v <= 1,
        "message": lambda v: 0 <= v <= 1,
        "knowledge_base": lambda v: 0 <= v <= 1,
        "leader_changes": lambda v: v >= 0,
    },
}


@pytest.mark.parametrize("agent_type", list(CONTRACT), ids=lambda t: t.__name__)
def test_every_agent_type_honours_its_contract(model, agent_type):
    agents = model.agents_by_type[agent_type]
    assert len(agents) > 0
    for agent in agents:
        for attribute, ok in CONTRACT[agent_type].items():
            assert ok(getattr(agent, attribute)), (agent_type.__name__, attribute)


def test_agent_counts_and_mesa_tools(model):
    assert len(model.agents_by_type[SchoolAgent]) == 40
    assert len(model.agents_by_type[CoachAgent]) == 4
    assert len(model.agents_by_type[CentralOfficeAgent]) == 1
    engaged = model.agents_by_type[SchoolAgent].select(lambda a: a.engagement == Engagement.ENGAGED)
    share = model.latest("engaged_share")
    assert len(engaged) == round(share * 40)
    mean_embedded = model.agents_by_type[SchoolAgent].agg("embeddedness", np.mean)
    assert mean_embedded == pytest.approx(model.engine.st.embeddedness.mean())


def test_caseloads_cover_participating_schools(model):
    served = sorted(s for c in model.coaches for s in c.caseload)
    participating = [a.index for a in model.schools if a.engagement in (Engagement.ENGAGED, Engagement.PAUSED)]
    assert served == sorted(participating)


def test_datacollector_records_each_month(model):
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 30
    assert frame["engaged_share"].between(0, 1).all()


def test_the_model_stops_at_the_horizon():
    from improvesim.sim.params import defaults

    m = DistrictModel(defaults().with_overrides({"run.years": 1}), seed=1)
    m.run()
    assert not m.running and m.month == 12
