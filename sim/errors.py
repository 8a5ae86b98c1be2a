"""Errors the model raises while it loads, importable without loading it.

The ``improvesim`` command (:mod:`improvesim.entry`) catches
:class:`AdoptedFileError` around the import of the command line, so a damaged
``sim/calibrated.toml`` (read when :mod:`improvesim.sim.schema` is imported)
gives one line and exit status 2, not a traceback.
"""

from __future__ import annotations


class AdoptedFileError(ValueError):
    """A damaged ``sim/calibrated.toml``: the message names the file, the key and what is allowed."""


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, tabs, escapes) written as escapes, so a message is one line."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
