"""improvesim: a Mesa agent-based model of school districts adopting continuous improvement.

The public face, all importable from here:

- :class:`DistrictModel` — the Mesa model (one ``step()`` is one month), with
  its agents :class:`SchoolAgent`, :class:`CoachAgent` and
  :class:`CentralOfficeAgent` (views onto the model's arrays);
- :func:`simulate` and :func:`run_replicates` — the vectorized batch engine
  (a batch of runs in one call; same seed, same bytes as the Mesa model);
- :func:`load_scenario`, :func:`defaults` and :class:`Params` — parameters
  (a scenario file, or a bundled scenario's name such as ``"baseline"``);
- :func:`load_sweep` — a sweep's result store as pandas frames.

Everything else (``improvesim.sim``, ``improvesim.experiments``,
``improvesim.analysis``, the command line) is reachable but internal: it may
change between versions without notice.  The names above load lazily, so
``import improvesim`` is quick and the command line starts fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_PUBLIC = {
    "DistrictModel": "improvesim.sim.model",
    "SchoolAgent": "improvesim.sim.agents",
    "CoachAgent": "improvesim.sim.agents",
    "CentralOfficeAgent": "improvesim.sim.agents",
    "simulate": "improvesim.sim.engine",
    "run_replicates": "improvesim.sim.engine",
    "load_scenario": "improvesim.sim.params",
    "defaults": "improvesim.sim.params",
    "Params": "improvesim.sim.params",
    "load_sweep": "improvesim.analysis.store",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'improvesim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
