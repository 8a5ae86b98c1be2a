"""Compiled kernels: the submodels' loops over runs, schools and seats.

The submodels keep their NumPy-facing signatures (state arrays in, state
arrays updated in place); their arithmetic runs in loops compiled by Numba,
which costs about a microsecond a call where the same work as NumPy array
operations costs some hundred calls of a few tenths of a microsecond each on
a district's small arrays.

Kernels do the same IEEE operations in the same order as the array code they
replace (no ``fastmath``, so no reassociation and no fused multiply-add), so a
run gives the same bytes whichever way it is computed.  ``error_model="numpy"``
makes a division by zero give inf or NaN, as NumPy does, instead of raising.

Compiled kernels are cached on disk.  Numba checks a cached kernel against
its own source file only, not against the kernels it calls in other files, so
the cache lives in a folder named by a digest of every source file of
:mod:`sim`: any edit to the model gives a fresh cache.  ``NUMBA_CACHE_DIR``, when
set, is used as given.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_SIM = Path(__file__).resolve().parent


def _source_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_SIM.rglob("*.py")):
        h.update(str(path.relative_to(_SIM)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (
        base / "improvesim" / "numba" / f"py{numba.config.PYVERSION[0]}{numba.config.PYVERSION[1]}-{_source_digest()}"
    )


if not os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = str(_cache_dir())


def kernels_cached() -> bool:
    """Whether compiled kernels for this version of the model are already on disk.

    False on a new machine or after any edit to the model: the first run then
    compiles every kernel (a minute or less on two cores).
    """
    folder = Path(numba.config.CACHE_DIR)
    return folder.is_dir() and any(folder.rglob("*.nbi"))


#: Decorator of a compiled kernel (see the module docstring).
kernel = numba.njit(cache=True, nogil=True, error_model="numpy")


@kernel
def team_mean_at(x, weights, r, s):
    """Weighted team mean of the seat-major staff array ``x`` (K, R, S) at run r,
    school s: seats added in order, as :func:`sim.state.team_mean` does."""
    total = x[0, r, s] * weights[0]
    for k in range(1, x.shape[0]):
        total += x[k, r, s] * weights[k]
    return total


@kernel
def clip01_at(x):
    """``x`` clipped to [0, 1] (as :func:`sim.state.clip01`: max with 0, then min with 1)."""
    return min(max(x, 0.0), 1.0)
