"""Same seed, same bytes: alone or batched, through Mesa or the engine, file for file."""

import numpy as np
from conftest import ROOT

from improvesim.analysis.summary import district_frame
from improvesim.sim.engine import run_replicates, simulate
from improvesim.sim.model import DistrictModel
from improvesim.sim.params import load_scenario


def test_a_run_is_identical_alone_and_in_a_mixed_batch(params):
    other = params.with_overrides(
        {"coaching.coaches": 9, "turnover.teacher": 0.3, "governance.participation": "required"}
    )
    alone = simulate([params], [42], record_schools=True)
    batch = simulate([other, params, other], [1, 42, 3], record_schools=True)
    assert np.array_equal(alone.district[0], batch.district[1])
    for name, values in alone.schools.items():
        assert np.array_equal(values[0], batch.schools[name][1]), name


def test_batch_size_does_not_matter(params):
    a = run_replicates(params, 6, seed=5, batch=6)
    b = run_replicates(params, 6, seed=5, batch=4)
    assert a.seeds == b.seeds
    assert np.array_equal(a.district, b.district)


def test_the_mesa_model_matches_the_engine():
    params = load_scenario(ROOT / "scenarios/grant_cliff.toml")
    model = DistrictModel(params, seed=17)
    via_mesa = model.run()
    via_engine = simulate([params], [17])
    assert np.array_equal(via_mesa.district, via_engine.district)


def test_shocks_and_cohorts_keep_batch_independence():
    p = load_scenario(ROOT / "scenarios/framework_full.toml").with_overrides({"run.years": 4})
    from improvesim.sim.params import Shock

    shocked = type(p)(values=p.values, shocks=(Shock("pandemic", 7, 14, 0.9), Shock("hub_loss", 30, 12, 1.0)), name="s")
    alone = simulate([shocked], [8])
    mixed = simulate([p, shocked], [8, 8])
    assert np.array_equal(alone.district[0], mixed.district[1])
    assert not np.array_equal(mixed.district[0], mixed.district[1])


def test_output_files_are_byte_identical(tmp_path, params):
    paths = []
    for i in range(2):
        result = run_replicates(params.with_overrides({"run.years": 3}), 3, seed=9)
        path = tmp_path / f"d{i}.parquet"
        district_frame(result).to_parquet(path, index=False)
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_different_seeds_differ(params):
    r = simulate([params, params], [1, 2])
    assert not np.array_equal(r.district[0], r.district[1])
