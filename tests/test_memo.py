"""Values derived from the state follow it when it changes in place."""

from conftest import draws, small

from improvesim.sim.state import Engagement, engagement_masks
from improvesim.sim.submodels import coaching
from improvesim.sim.submodels.calendar import calendar_and_shocks


def test_engagement_masks_follow_the_state():
    pv, st = small()
    assert engagement_masks(st).engaged.all()
    st.engagement[0, 2] = Engagement.PAUSED
    masks = engagement_masks(st)
    assert masks.paused[0].tolist() == [False, False, True, False] and masks.n_participating[0] == 4


def test_caseloads_are_dealt_again_when_participation_changes():
    pv, st = small(schools=5, coaches=2)
    coaching.coaching(st, pv, calendar_and_shocks(st, pv, 0), draws(st))
    assert st.coach_of[0].tolist() == [0, 1, 0, 1, 0]
    st.engagement[0, 2] = Engagement.OPTED_OUT
    coaching.coaching(st, pv, calendar_and_shocks(st, pv, 0), draws(st))
    assert st.coach_of[0].tolist() == [0, 1, -1, 0, 1]
