"""Compiling the model's kernels on several cores at its first use on a machine.

Numba compiles a kernel when it is first called with new argument types, one
kernel after another in one process: about 30 s for a first run of the
baseline on the project's 2-core machine, two kernels (staff turnover and
improvement work) a third of it.  The kernels do not depend on each other's
compiled code, so a first use can compile them side by side.
:data:`SIGNATURES` (``kernel_signatures.json``, written by
``scripts/update_kernel_signatures.py`` and checked against the code by
``tests/test_precompile.py``) lists every kernel a first ``improvesim run``
of the baseline compiles, with its argument types and the seconds it took
to compile; :func:`shares` splits the list, longest first, for processes
that each compile their share into the kernel cache (:func:`compile_share`;
:func:`improvesim.experiments.sweep.compile_kernels` runs them on a pool),
and the caller then loads the kernels from the cache (:mod:`improvesim.sim.jit`).

A kernel missing from the list (added since, or called with argument types
no run of the baseline meets) is compiled when it is first called, as
before; an entry whose kernel no longer accepts its types is skipped.  So a
stale list costs time, never a wrong result.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
from numba.core import types
from numba.core.errors import NumbaError
from numba.core.registry import CPUDispatcher
from numba.np.numpy_support import from_dtype

#: The kernels a first run of the baseline compiles: a JSON list of entries
#: ``{"module", "kernel", "args", "seconds"}`` (``args`` as :func:`describe` gives them).
SIGNATURES = Path(__file__).resolve().parent / "kernel_signatures.json"


def describe(t: types.Type) -> list:
    """A JSON-ready description of a kernel argument's Numba type: ``["array", dtype, ndim,
    layout, readonly]``, ``["tuple", [items]]`` or ``["scalar", dtype]``.

    Raises:
        TypeError: a type no kernel of the model takes (a new kind needs a case here).
    """
    if isinstance(t, types.Array):
        return ["array", str(t.dtype), t.ndim, t.layout, not t.mutable]
    if isinstance(t, types.BaseTuple):
        return ["tuple", [describe(item) for item in t]]
    if isinstance(t, types.Boolean | types.Integer | types.Float):
        return ["scalar", str(t)]
    raise TypeError(f"no description for the kernel argument type {t!r}")


def numba_type(description: list) -> types.Type:
    """The Numba type :func:`describe` described (raises ``ValueError`` for an unknown kind)."""
    kind = description[0]
    if kind == "array":
        _, dtype, ndim, layout, readonly = description
        return types.Array(from_dtype(np.dtype(dtype)), ndim, layout, readonly=readonly)
    if kind == "tuple":
        return types.BaseTuple.from_types([numba_type(item) for item in description[1]])
    if kind == "scalar":
        return from_dtype(np.dtype(description[1]))
    raise ValueError(f"unknown kernel argument kind {kind!r}")


def compiled_kernels() -> list[dict]:
    """Every kernel of the model this process has compiled or loaded, one entry per argument
    types: ``{"module", "kernel", "args"}``, sorted.  Steps and rules compiled inside
    kernels are not separate entries."""
    entries = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("improvesim.sim"):
            continue
        for attr, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == name:
                entries += [
                    {"module": name, "kernel": attr, "args": [describe(t) for t in signature]}
                    for signature in value.signatures
                ]
    return sorted(entries, key=lambda e: (e["module"], e["kernel"], json.dumps(e["args"])))


def load_signatures(path: Path = SIGNATURES) -> list[dict]:
    """The well-formed entries of :data:`SIGNATURES`: an empty list when the file is missing,
    unreadable or not a JSON list; an entry of the wrong shape is dropped (its kernel then
    compiles when first called).  Never raises: a damaged list costs time, not a crash."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not UTF-8 or not JSON
        return []
    return [entry for entry in entries if _well_formed(entry)] if isinstance(entries, list) else []


def _well_formed(entry) -> bool:
    """Whether ``entry`` has the keys and value types of a :data:`SIGNATURES` entry."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("module"), str)
        and isinstance(entry.get("kernel"), str)
        and isinstance(entry.get("args"), list)
        and isinstance(entry.get("seconds", 0.0), int | float)
        and not isinstance(entry.get("seconds", 0.0), bool)
    )


def shares(entries: list[dict], processes: int) -> list[list[dict]]:
    """``entries`` in ``processes`` shares of about equal compile time: longest first, each to
    the share with the least time so far (Graham's LPT rule); empty shares dropped."""
    loads = [0.0] * processes
    out: list[list[dict]] = [[] for _ in range(processes)]
    for entry in sorted(entries, key=lambda e: -e.get("seconds", 0.0)):
        least = loads.index(min(loads))
        out[least].append(entry)
        loads[least] += entry.get("seconds", 0.0)
    return [share for share in out if share]


def compile_share(entries: list[dict]) -> int:
    """Compile each entry's kernel for its argument types into the kernel cache; how many
    compiled (an entry whose kernel is gone or refuses its types is skipped)."""
    done = 0
    for entry in entries:
        try:
            kernel = getattr(importlib.import_module(entry["module"]), entry["kernel"])
        except (ImportError, AttributeError, ValueError):  # a kernel since removed or renamed, or no name
            continue
        try:
            kernel.compile(tuple(numba_type(d) for d in entry["args"]))
        except (NumbaError, TypeError, ValueError, LookupError, AttributeError):
            # arguments since changed, or a description damaged: it compiles when first called instead
            continue
        done += 1
    return done


def kernels_cached(entries: list[dict] | None = None) -> bool:
    """Whether the kernels a first run compiles (``entries``, by default :data:`SIGNATURES`) are
    already in Numba's kernel cache for this copy and version of the model: each one's index
    file exists where Numba itself files it.  That is the folder Numba chose for the kernel when
    it was defined: ``NUMBA_CACHE_DIR`` or the project's folder named by the model's sources
    (:mod:`improvesim.sim.jit`), or, when that folder cannot be written, ``__pycache__`` beside
    the source or the user-wide cache.  With the year of months compiled as one call
    (``IMPROVESIM_COMPILED_MONTH=1``) the year's kernel must be cached too.

    False on a new machine, in a new installation or after any edit to the model: the first
    use then compiles (:func:`improvesim.experiments.sweep.compile_kernels`).  An entry whose
    kernel is gone is ignored; with no usable entry at all, nothing can be compiled ahead, and
    the answer is True.  Never raises."""
    entries = load_signatures() if entries is None else entries
    names = {(entry["module"], entry["kernel"]) for entry in entries}
    if names and os.environ.get("IMPROVESIM_COMPILED_MONTH", "") == "1":
        names.add(("improvesim.sim.month", "_months"))
    return all(_index_exists(module, kernel) for module, kernel in sorted(names))


def _index_exists(module: str, kernel: str) -> bool:
    """Whether the cache index file of ``module.kernel`` exists (True for a kernel that is gone
    or not cached by Numba at all: nothing to wait for)."""
    try:
        dispatcher = getattr(importlib.import_module(module), kernel)
        index = dispatcher._cache._cache_file._index_path  # the file Numba reads and writes
    except (ImportError, AttributeError, ValueError):
        return True
    return os.path.exists(index)
