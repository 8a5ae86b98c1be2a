"""Values reused while their inputs are unchanged are recomputed when the inputs change, by any means."""

import numpy as np
from conftest import small

from sim.state import Engagement, engagement_masks, recall, team_mean, team_mean_of
from sim.submodels import coaching


def test_recall_recomputes_when_an_input_changes_in_place():
    pv, st = small()
    calls = []
    value = lambda: calls.append(1) or st.fatigue.sum()  # noqa: E731
    assert recall(st, "k", (st.fatigue,), value) == 0.0
    assert recall(st, "k", (st.fatigue,), value) == 0.0 and len(calls) == 1
    st.fatigue[0, 1] = 0.5
    assert recall(st, "k", (st.fatigue,), value) == 0.5 and len(calls) == 2


def test_engagement_masks_and_team_means_follow_the_state():
    pv, st = small()
    assert engagement_masks(st).engaged.all()
    st.engagement[0, 2] = Engagement.PAUSED
    masks = engagement_masks(st)
    assert masks.paused[0].tolist() == [False, False, True, False] and masks.n_participating[0] == 4
    st.commitment[:] = 0.3
    first = team_mean_of(st, "commitment").copy()
    st.commitment[:, :, 0] = 0.9
    assert np.array_equal(team_mean_of(st, "commitment"), team_mean(st.commitment))
    assert not np.array_equal(team_mean_of(st, "commitment"), first)


def test_caseloads_are_dealt_again_when_participation_changes():
    pv, st = small(schools=5, coaches=2)
    assert coaching.assign_caseloads(st)[0] == 3
    st.engagement[0, 2] = Engagement.OPTED_OUT
    caseload = coaching.assign_caseloads(st)
    assert st.coach_of[0].tolist() == [0, 1, -1, 0, 1] and caseload[0] == 2
