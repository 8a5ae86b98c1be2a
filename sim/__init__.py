"""The district model (installed as ``improvesim.sim``).

Entry points: :class:`improvesim.sim.model.DistrictModel` (the Mesa model),
:func:`improvesim.sim.engine.simulate` (a vectorized batch of runs), and
:func:`improvesim.sim.params.load_scenario` / :func:`improvesim.sim.params.defaults`
(parameters).  The same names are re-exported, lazily, by :mod:`improvesim`.
"""
