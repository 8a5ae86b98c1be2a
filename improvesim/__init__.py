"""improvesim: command line and workshop layers over the district model in :mod:`sim`."""

from sim import __version__

__all__ = ["__version__"]
