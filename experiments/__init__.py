"""Experiments: designs as data (the TOML files in this folder) and the sweep engine.

:func:`experiments.spec.load_experiment` reads an experiment file,
:func:`experiments.sweep.run_sweep` runs it into a store, and
:func:`analysis.store.load_sweep` reads the store back.
"""
