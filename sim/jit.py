"""Compiled kernels: the submodels' loops over runs, schools and seats.

The submodels' functions take the state, the parameters and this month's
draws and update the state in place; their arithmetic runs in loops compiled by Numba,
which costs about a microsecond a call where the same work as NumPy array
operations costs some hundred calls of a few tenths of a microsecond each on
a district's small arrays.

Kernels do the same IEEE operations in the same order as the array code they
replace (no ``fastmath``, so no reassociation and no fused multiply-add), so a
run gives the same bytes whichever way it is computed.  ``error_model="numpy"``
makes a division by zero give inf or NaN, as NumPy does, instead of raising.

Named inputs.  A kernel takes a few bundles, each a ``typing.NamedTuple``
declared once next to the kernel: the state arrays it reads and writes,
its per-run coefficients (one (R,) array per schema parameter) and this
month's named random draws.  A NamedTuple argument costs Numba a slow
Python type look-up at every call, where a plain tuple of arrays costs no
more than the arrays as separate arguments, so a bundle crosses into
compiled code as a plain tuple (:func:`pick`) or, for coefficients, one
(fields, R) array (:func:`coefficients`), and the kernel names it again on
entry (``st = SchoolState(*state)``, ``c = named(SensemakingCoefficients,
coef)``, free in compiled code).  The order of a bundle's fields is declared once, by the
NamedTuple; nobody spells it out at a call.

Inside a kernel, a loop over schools takes one run's coefficients as
numbers (:func:`at_run`) and calls small rules (``@rule``, inlined) with
numbers and single arrays: a bundle of arrays handed to a function called
school by school costs a reference count on each of its arrays at each
call, which made such loops two to four times slower when measured.

Compiled kernels are cached on disk.  Numba checks a cached kernel against
its own source file only, not against the kernels it calls in other files, so
the cache lives in a folder named by a digest of every source file of
:mod:`sim`: any edit to the model gives a fresh cache.  ``NUMBA_CACHE_DIR``, when
set, is used as given.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numba.extending import overload

from improvesim.sim.schema import BY_NAME

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


#: Decorator of a compiled kernel (see the module docstring).
kernel = numba.njit(cache=True, nogil=True, error_model="numpy")
#: Decorator of a step of a kernel (a function on its bundles that only kernels call): compiled
#: inside each kernel that calls it (inlined by Numba), so that its code is optimized once with
#: the kernel's instead of once more for every level of calls (Numba links and optimizes again
#: the code of every compiled function a compiled function calls), which made compiling slower.
step = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
#: Decorator of a small compiled rule called school by school, inlined where it
#: is called: it takes numbers, single arrays and one run's coefficients (see
#: :func:`at_run`), never a bundle of arrays (passing one costs a reference
#: count on each of its arrays, inlined or not).
rule = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")


@rule
def team_mean_at(x, weights, r, s):
    """Weighted team mean of the seat-major staff array ``x`` (K, R, S) at run r,
    school s, with the runs' seat ``weights`` (R, K): seats added in order, as
    :func:`sim.state.team_mean` does."""
    total = x[0, r, s] * weights[r, 0]
    for k in range(1, x.shape[0]):
        total += x[k, r, s] * weights[r, k]
    return total


@rule
def team_means_of_run(x, weights, r, out):
    """Write into ``out`` (S,) the weighted team means of the seat-major staff array ``x``
    (K, R, S) at run r, every school: the same sums as :func:`team_mean_at` (seats added in
    order), seat by seat over the run's contiguous row of schools."""
    row, w = x[0, r], weights[r, 0]
    for s in range(out.shape[0]):
        out[s] = row[s] * w
    for k in range(1, x.shape[0]):
        row, w = x[k, r], weights[r, k]
        for s in range(out.shape[0]):
            out[s] += row[s] * w


@rule
def clip01_at(x):
    """``x`` clipped to [0, 1] (as :func:`sim.state.clip01`: max with 0, then min with 1)."""
    return min(max(x, 0.0), 1.0)


@rule
def smoothstep(x):
    """The smoothstep 3x^2 - 2x^3 of ``x`` clipped to [0, 1]: 0 at 0, 1 at 1, flat at both ends."""
    x = clip01_at(x)
    return x * x * (3.0 - 2.0 * x)


# --- named inputs --------------------------------------------------------------------------------


def pick(bundle: type, source: Any) -> tuple:
    """The attributes of ``source`` (a State, this month's draws, the calendar)
    named by the fields of the NamedTuple class ``bundle``, as a plain tuple in
    the bundle's field order: what a kernel takes and names again with
    ``bundle(*t)``.  A State keeps the tuples it gave (``State.bundles``; its
    arrays are updated in place, and setting one forgets them)."""
    bundles = getattr(source, "bundles", None)
    if bundles is None:
        return _getter(bundle)(source)
    try:
        return bundles[bundle]
    except KeyError:
        picked = bundles[bundle] = _getter(bundle)(source)
        return picked


@overload(pick)
def _pick_compiled(bundle, source):
    """:func:`pick` in compiled code, from a NamedTuple ``source`` (the state's
    arrays as :data:`sim.month.StateArrays` holds them, a month's draws): the
    fields the bundle names, as a plain tuple in the bundle's field order."""
    fields = bundle.instance_class._fields
    code = "def pick_impl(bundle, source):\n    return ({})\n".format("".join(f"source.{f}, " for f in fields))
    scope: dict = {}
    exec(code, scope)  # noqa: S102 (code generated from the bundle's field names only)
    return scope["pick_impl"]


@cache
def _getter(bundle: type) -> Callable[[Any], tuple]:
    fields = bundle._fields
    if len(fields) == 1:  # (attrgetter of one name returns the value, not a tuple)
        only = fields[0]
        return lambda source: (getattr(source, only),)
    return attrgetter(*fields)


def schema_name(bundle: type, field: str) -> str:
    """The schema parameter behind a coefficient ``field`` of ``bundle``: the
    one ``section.field`` among the bundle's ``SECTIONS``.

    Raises:
        LookupError: no section, or more than one, has the field.
    """
    found = [f"{section}.{field}" for section in bundle.SECTIONS if f"{section}.{field}" in BY_NAME]
    if len(found) != 1:
        raise LookupError(
            f"{bundle.__name__}.{field}: expected one schema parameter among sections {bundle.SECTIONS}, found {found}"
        )
    return found[0]


def coefficients(bundle: type, pv: Any) -> np.ndarray:
    """The per-run coefficients of a batch as the (fields, R) float64 array a
    kernel takes and names with :func:`named`: row by row, in the bundle's
    field order, ``bundle.DERIVED[field](pv)`` for a value derived from the
    parameters (a class attribute, when there are any; a bool becomes 1.0 or
    0.0), otherwise the schema parameter :func:`schema_name` finds.  One
    array crosses into compiled code for the price of one argument, where a
    tuple of arrays costs the price of each.  Computed once per batch (``pv``
    is a :class:`sim.state.ParamVectors`, ``pv.memo`` its memo by bundle)."""
    try:
        return pv.memo[bundle]
    except KeyError:
        derived = getattr(bundle, "DERIVED", {})
        rows = [
            derived[f](pv) if name is None else pv.col(name)
            for f, name in zip(bundle._fields, _schema_names(bundle), strict=True)
        ]
        built = pv.memo[bundle] = np.array(rows, dtype=np.float64)
        built.flags.writeable = False
        return built


def named(bundle: type, rows: np.ndarray) -> tuple:
    """The NamedTuple class ``bundle`` holding the rows of ``rows`` (one per
    field, in field order, as :func:`coefficients` makes them): each row a view,
    in Python as in compiled code (through the overload below)."""
    return bundle(*rows)


@overload(named)
def _named_compiled(bundle, rows):
    cls = bundle.instance_class
    source = "def named_impl(bundle, rows):\n    return cls({})\n".format(
        "".join(f"rows[{i}], " for i in range(len(cls._fields)))
    )
    scope = {"cls": cls}
    exec(source, scope)  # noqa: S102 (code generated from the field count only)
    return scope["named_impl"]


@cache
def _schema_names(bundle: type) -> tuple[str | None, ...]:
    """:func:`schema_name` of each field of ``bundle`` (None for a derived field), found once."""
    derived = getattr(bundle, "DERIVED", {})
    return tuple(None if f in derived else schema_name(bundle, f) for f in bundle._fields)


def at_run(bundle, r):
    """The coefficients of run ``r``: ``bundle`` (a NamedTuple of (R,) arrays)
    with each array replaced by its value at ``r``, the same NamedTuple class
    of numbers (pure Python, and compiled through the overload below).

    A kernel takes it once per run and hands it to the helpers it calls
    school by school: a bundle of numbers costs nothing to pass, where a
    bundle of arrays costs a reference count on every array at every call.
    """
    return type(bundle)(*[x[r] for x in bundle])


def _each_at(bundle, index: str):
    """The compiled implementation of ``f(bundle, index)``: the NamedTuple class of ``bundle``
    holding each of its arrays at ``index`` (its first axis), generated from the field count
    (the argument is named as in the function it implements, as Numba requires)."""
    source = f"def each_at_impl(bundle, {index}):\n    return cls({{}})\n".format(
        "".join(f"bundle[{i}][{index}], " for i in range(len(bundle)))
    )
    scope = {"cls": bundle.instance_class}
    exec(source, scope)  # noqa: S102 (code generated from the field count only)
    return scope["each_at_impl"]


@overload(at_run)
def _at_run_compiled(bundle, r):
    return _each_at(bundle, "r")


def at_month(bundle, m):
    """``bundle`` (a NamedTuple of arrays whose first axis is the month, such as
    a year of :data:`sim.rng.MonthDraws`) at month ``m`` of it: :func:`at_run`
    on the first axis, in Python and in compiled code."""
    return at_run(bundle, m)


@overload(at_month)
def _at_month_compiled(bundle, m):
    return _each_at(bundle, "m")


# --- NumPy's float sum ---------------------------------------------------------------------------

#: Below this many numbers NumPy adds them one by one; up to ``_PAIRWISE_BLOCK`` it adds them in
#: eight interleaved partial sums; above, it halves the run (a multiple of eight first) and adds the halves.
_PAIRWISE_LEAF = 8
_PAIRWISE_BLOCK = 128


@rule
def _eight_at(x, at):
    """The eight (:data:`_PAIRWISE_LEAF`) numbers ``x[at]`` to ``x[at + 7]`` as a tuple (held in
    registers), each read one index on from the last: no number but 0 and 1 in a compiled helper
    (``tests/test_kernel_style.py``)."""
    x0 = x[at]
    at += 1
    x1 = x[at]
    at += 1
    x2 = x[at]
    at += 1
    x3 = x[at]
    at += 1
    x4 = x[at]
    at += 1
    x5 = x[at]
    at += 1
    x6 = x[at]
    at += 1
    x7 = x[at]
    return x0, x1, x2, x3, x4, x5, x6, x7


@rule
def _block_sum(x, start, n):
    """NumPy's sum of a run of at most ``_PAIRWISE_BLOCK`` numbers ``x[start:start + n]``."""
    if n < _PAIRWISE_LEAF:
        res = 0.0
        for i in range(n):
            res += x[start + i]
        return res
    # eight partial sums (_PAIRWISE_LEAF), held in registers rather than an array made per call
    a0, a1, a2, a3, a4, a5, a6, a7 = _eight_at(x, start)
    i = _PAIRWISE_LEAF
    while i < n - n % _PAIRWISE_LEAF:
        b0, b1, b2, b3, b4, b5, b6, b7 = _eight_at(x, start + i)
        a0 += b0
        a1 += b1
        a2 += b2
        a3 += b3
        a4 += b4
        a5 += b5
        a6 += b6
        a7 += b7
        i += _PAIRWISE_LEAF
    res = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))  # then added in pairs
    while i < n:
        res += x[start + i]
        i += 1
    return res


@rule
def _first_half(n):
    """Where NumPy splits a run of ``n`` numbers: half of it, down to a multiple of eight."""
    half = n >> 1  # (n // 2)
    return half - half % _PAIRWISE_LEAF


#: Deepest nesting of halves :func:`pairwise_sum` keeps track of (each level halves the run).
_PAIRWISE_DEPTH = 64


@step
def pairwise_sum(x, start, n):
    """The sum of ``x[start:start + n]`` (a 1-D float64 array) added in the order NumPy's
    pairwise summation adds a contiguous run (``np.add.reduce`` over a last axis): runs of at
    most ``_PAIRWISE_BLOCK`` are summed by :func:`_block_sum`, longer ones split in two
    (:func:`_first_half`) and the halves' sums added.  The halves are walked with a stack, not
    by recursion (Numba cannot load a cached recursive function).  NumPy starts from 0.0:
    ``0.0 + pairwise_sum(...)`` is its result."""
    if n <= _PAIRWISE_BLOCK:  # one block (a district's row of schools, say): no halves to walk
        return _block_sum(x, start, n)
    starts = np.empty(_PAIRWISE_DEPTH, dtype=np.int64)
    sizes = np.empty(_PAIRWISE_DEPTH, dtype=np.int64)
    lefts = np.empty(_PAIRWISE_DEPTH)  # the first half's sum, once known
    right_next = np.zeros(_PAIRWISE_DEPTH, dtype=np.bool_)  # the first half is done
    top = 0
    starts[0], sizes[0] = start, n
    value = 0.0
    while True:
        if sizes[top] <= _PAIRWISE_BLOCK:  # a block: summed, then handed to the runs it is in
            value = _block_sum(x, starts[top], sizes[top])
            top -= 1
            while top >= 0 and right_next[top]:  # both halves done
                value = lefts[top] + value
                top -= 1
            if top < 0:
                return value
            lefts[top] = value  # the first half done: the second next
            right_next[top] = True
            half = _first_half(sizes[top])
            starts[top + 1], sizes[top + 1] = starts[top] + half, sizes[top] - half
        else:  # split: the first half next
            right_next[top] = False
            starts[top + 1], sizes[top + 1] = starts[top], _first_half(sizes[top])
        top += 1
        right_next[top] = False


@kernel
def sum_last_axis(x, runs, out):
    """``out[k, r] = x[k, r, :].sum()`` for a C-contiguous float64 ``x`` (K, R, S), as NumPy
    computes ``x.sum(axis=-1)`` (its 0.0 start, then :func:`pairwise_sum` of the row), for the
    runs r that ``runs`` (R,) marks; the others' ``out[:, r]`` are left as they were."""
    K, R, S = x.shape
    for k in range(K):
        for r in range(R):
            if runs[r]:
                out[k, r] = 0.0 + pairwise_sum(x[k, r], 0, S)
