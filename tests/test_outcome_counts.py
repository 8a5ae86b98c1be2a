"""The district metrics counted in one compiled pass say what their definitions say.

Random per-school records (every code and flag, S not a multiple of 8) are
counted by :func:`district_metrics` and by the definitions written as NumPy
masks over the same records; they must agree bit for bit.
"""

import numpy as np

from improvesim.sim.outcomes import DISTRICT_METRICS, PRINCIPLE_SHARES, SCHOOL_METRICS, district_metrics
from improvesim.sim.state import Authenticity, Engagement


def random_records(rng, runs=3, months=5, schools=13):
    shape = (runs, months, schools)
    records = {}
    for name, dtype in SCHOOL_METRICS.items():
        if dtype is np.bool_:
            records[name] = rng.random(shape) < 0.4
        elif dtype is np.float32:
            records[name] = rng.random(shape).astype(np.float32)
        else:
            records[name] = rng.integers(0, 4, shape).astype(dtype)
    records["principle_bits"] = rng.integers(0, 64, shape).astype(np.int8)
    records["authenticity"] = rng.integers(0, 3, shape).astype(np.int8)
    records["joined"][0, 0] = False  # a month where no school has joined
    return records


def test_counted_shares_follow_their_definitions():
    rng = np.random.default_rng(5)
    records = random_records(rng)
    stocks = rng.random((3, 5, len(DISTRICT_METRICS) - 24))
    got = district_metrics(records, stocks)
    eng, auth = records["engagement"], records["authenticity"]
    invited = eng != Engagement.NOT_INVITED
    joined = records["joined"].sum(axis=-1)

    def share(mask):
        return mask.sum(axis=-1) / mask.shape[-1]

    expected = {
        "invited_share": share(invited),
        "engaged_share": share(eng == Engagement.ENGAGED),
        "paused_share": share(eng == Engagement.PAUSED),
        "opted_out_share": share(eng == Engagement.OPTED_OUT),
        "not_invited_share": share(~invited),
        "authentic_share": share(invited & (auth == Authenticity.AUTHENTIC)),
        "partial_share": share(invited & (auth == Authenticity.PARTIAL)),
        "inauthentic_share": share(invited & (auth == Authenticity.INAUTHENTIC)),
        "institutionalized_share": share(records["institutionalized"]),
        "ever_institutionalized_share": share(records["ever_institutionalized"]),
        "faded_share": share(records["faded"]),
        "tool_use_share": share(records["tool_use"]),
        "share_with_6mo_disengagement": np.where(
            joined > 0, records["long_spell"].sum(axis=-1) / np.maximum(joined, 1), 0.0
        ),
        "deep_bench": records["bench"].sum(axis=-1) / eng.shape[-1],
        **{name: share((records["principle_bits"] >> i) & 1 == 1) for i, name in enumerate(PRINCIPLE_SHARES)},
    }
    for name, values in expected.items():
        assert got[:, :, DISTRICT_METRICS.index(name)].tobytes() == values.tobytes(), name
    assert got[0, 0, DISTRICT_METRICS.index("share_with_6mo_disengagement")] == 0.0
    assert not np.isnan(got).any()  # every column written
