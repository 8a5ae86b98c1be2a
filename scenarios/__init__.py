"""The bundled scenario files (TOML), installed as ``improvesim.scenarios``.

Read them through :mod:`improvesim.sim.bundled`, which lists them and
resolves a bare name such as ``baseline`` or ``plans/deep_bench``.
"""
