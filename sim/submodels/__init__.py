"""The submodels of the district model, one module per process (see docs/ODD.md)."""
