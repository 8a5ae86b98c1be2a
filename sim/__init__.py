"""improvesim's model: a school district adopting continuous improvement.

Public entry points: :class:`sim.model.DistrictModel` (the Mesa model),
:func:`sim.engine.simulate` (a vectorized batch of runs), and
:func:`sim.params.load_scenario` / :func:`sim.params.defaults` (parameters).
"""

__version__ = "0.1.0"
