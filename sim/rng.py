"""Counter-based random streams, one per run and named process.

Every random number in the model is a pure function of

    (run seed, process name, month, index of the school / staff seat / coach)

so a run gives the same bytes alone or inside any batch, with any padding,
and a change in one process never reshuffles another's numbers (common random
numbers between scenarios, as in Starsim).  The global ``random`` and
``np.random`` states are never used.

The generator is counter-based (Salmon et al. 2011, "Parallel random numbers:
as easy as 1, 2, 3"): a 64-bit key per run and stream is derived with the
SplitMix64 finaliser (Steele, Lea and Flood 2014); each draw hashes the
packed element index with the low key half, then with the high half mixed
with the month, using Wellons' ``lowbias32`` integer hash twice.  32-bit
lanes keep it SIMD-fast in NumPy; uniforms have a resolution of 2**-32,
ample for the Bernoulli decisions the model makes.

Most processes draw a year of uniforms at a time for every element
(:class:`StreamSet`).  Staff exits instead run on exit clocks (stream
``staff_clock``): each seat holds an Exp(1) budget of cumulative hazard,
drawn when the seat is filled, so one number is drawn per departure rather
than one per seat a month.  Compiled kernels draw those numbers one at a
time with :func:`uniform_at`, the same number :func:`uniform` gives for the
same run, stream, month and index.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from improvesim.sim.jit import kernel, rule

_GOLDEN64 = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_A32 = np.uint32(0x7FEB352D)
_B32 = np.uint32(0x846CA68B)
_S15, _S16 = np.uint32(15), np.uint32(16)
_TO_UNIT = 2.0**-32

#: Named processes; the number is part of the key, so never rename one.
STREAMS: dict[str, int] = {
    name: zlib.crc32(name.encode())
    for name in (
        "init",
        "staff_turnover",
        "coach_turnover",
        "central_office",
        "coaching",
        "engagement",
        "improvement",
        "succession",
        "institution",
        "school_start",
        "staff_clock",
    )
}

#: Slots (last index) of stream ``staff_clock``: a seat's budget drawn when it
#: is filled in month t (index: school, seat, CLOCK_REFILL), and at the start
#: (month 0, index: school, seat, CLOCK_START).
CLOCK_REFILL, CLOCK_START = 0, 1


#: The named draws of each process a month, in slot order, and what one draw
#: is taken for: each school, each seat of each school's team (one draw per
#: seat), each coach position, or the district.  A draw's slot is part of its
#: numbers' key: never reorder or remove one; a new draw goes at the end of
#: its process (or in a new process).
DRAWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "succession": ("school", ("groom_successor", "new_leader_continues")),
    "coach_turnover": ("coach", ("coach_exit",)),
    "central_office": ("district", ("leader_leaves", "brings_initiative", "priority_reset", "message_repeated")),
    "engagement": ("school", ("engagement_decision", "join")),
    "coaching": ("school", ("visit_rounding",)),
    "improvement": ("school", ("cycle_start", "cycle_success")),
    "institution": ("school", ("institutionalize",)),
}

#: One month's uniforms in [0, 1), each named draw of :data:`DRAWS` one
#: field: (R, S) per school, (K, R, S) per seat (seat-major, as the staff
#: arrays), (R, C) per coach position, (R,) per district.
MonthDraws = NamedTuple(  # noqa: UP014 (the fields follow DRAWS)
    "MonthDraws", [(name, np.ndarray) for _per, names in DRAWS.values() for name in names]
)


def draw_shapes(schools: int, team_size: int, coaches: int) -> dict[str, tuple[int, ...]]:
    """The shape of each process's uniforms a month, one run: the element shape
    (schools, coach positions or none), then the draws when there are several
    (for ``seat`` draws, one per seat)."""
    element = {"school": (schools,), "seat": (schools,), "coach": (coaches,), "district": ()}
    shapes = {}
    for stream, (per, names) in DRAWS.items():
        n = team_size if per == "seat" else len(names)
        shapes[stream] = element[per] + ((n,) if n > 1 else ())
    return shapes


def several_draws() -> tuple[str, ...]:
    """Processes that draw several numbers per element, on the last axis of their shape."""
    return tuple(stream for stream, (per, names) in DRAWS.items() if per == "seat" or len(names) > 1)


def year_draws(blocks: dict[str, np.ndarray]) -> MonthDraws:
    """The named draws of :meth:`StreamSet.blocks` (with :func:`several_draws` first), each
    field a C-contiguous view (months, ...): per school (months, R, S), per seat (months,
    K, R, S), per coach (months, R, C), per district (months, R).  Month m of
    it is :func:`sim.jit.at_month` (m)."""
    fields = []
    for stream, (per, names) in DRAWS.items():
        block = blocks[stream]
        if per != "seat" and len(names) > 1:  # (months, draws, R, *rest): each draw (months, R, *rest)
            fields.extend(block[:, slot] for slot in range(len(names)))
        else:  # one draw, or (months, K, R, S): a month seat-major, (K, R, S)
            fields.append(block)
    return MonthDraws(*fields)


def named_draws(blocks: dict[str, np.ndarray]) -> list[MonthDraws]:
    """Month by month, the named draws of :meth:`StreamSet.blocks` (see :func:`year_draws`),
    each a C-contiguous view: per school (R, S), per seat (K, R, S), per coach
    (R, C), per district (R,)."""
    year = year_draws(blocks)
    return [MonthDraws(*(f[m] for f in year)) for m in range(len(year[0]))]


def splitmix64(z: np.ndarray | np.uint64) -> np.ndarray:
    """SplitMix64 finaliser on uint64 values (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.asarray(z, dtype=np.uint64) + _GOLDEN64
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _hash32(x: np.ndarray) -> np.ndarray:
    """Wellons' lowbias32 integer hash, in place on a fresh uint32 array."""
    x ^= x >> _S16
    x *= _A32
    x ^= x >> _S15
    x *= _B32
    x ^= x >> _S16
    return x


def run_keys(seeds) -> np.ndarray:
    """One 64-bit key per run from its seed (a non-negative integer below 2**64)."""
    return splitmix64(np.asarray(seeds, dtype=np.uint64))


@lru_cache(maxsize=64)
def _packed_index(shape: tuple[int, ...]) -> np.ndarray:
    """Element indices packed into 32 bits as (i << 16) | (j << 8) | k."""
    padded = tuple(shape) + (1,) * (3 - len(shape))
    if len(shape) > 3 or padded[0] > 2**16 or padded[1] > 2**8 or padded[2] > 2**8:
        raise ValueError(f"shape {shape} does not fit the counter layout (65536, 256, 256)")
    i, j, k = np.indices(padded, dtype=np.uint32)
    packed = (i << np.uint32(16)) | (j << np.uint32(8)) | k
    packed = packed.reshape(shape)
    packed.flags.writeable = False
    return packed


@lru_cache(maxsize=512)
def _month_salt(first_month: int, months: int) -> np.ndarray:
    m = np.arange(first_month, first_month + months, dtype=np.uint32) + np.uint32(0x3C6EF372)
    salt = _hash32(m)
    salt.flags.writeable = False
    return salt


@lru_cache(maxsize=64)
def _stream_salt(stream: str) -> np.uint64:
    return splitmix64(np.uint64(STREAMS[stream]))


def stream_counters(keys: np.ndarray, stream: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The month-independent part of ``uniform_block`` for one process: the
    hashed element indices (R, 1, *shape) and the high key halves (R, 1, ...).
    An engine computes them once and draws every year's block from them."""
    sk = splitmix64(keys ^ _stream_salt(stream))
    lo = (sk & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (sk >> np.uint64(32)).astype(np.uint32)
    tail = (1,) * len(shape)
    lo = lo.reshape((-1, 1) + tail)
    x = _hash32(_packed_index(tuple(shape)) ^ lo)  # (R, 1, *shape)
    x.flags.writeable = False
    return x, hi.reshape((-1, 1) + tail)


def block_from_counters(counters: tuple[np.ndarray, np.ndarray], first_month: int, months: int) -> np.ndarray:
    """Uniforms (R, months, *shape) from :func:`stream_counters`, as ``uniform_block`` draws them."""
    x, hi = counters
    tail = (1,) * (x.ndim - 2)
    hi_month = hi ^ _month_salt(first_month, months).reshape((1, -1) + tail)
    x = _hash32(x ^ hi_month)  # (R, months, *shape)
    return x * _TO_UNIT


class StreamSet:
    """Several processes' :func:`stream_counters`, laid side by side so that a
    year of all their uniforms is hashed in one pass: element for element the
    same numbers as :func:`block_from_counters` of each stream.

    Each stream's block is its own C-contiguous array, month-major,
    (months, R, *shape); a stream in ``draws_first`` (several draws per
    element, on the last axis of its shape) has that axis ahead of the
    runs, (months, draws, R, *rest), so that each draw (``block[:, d]``) and
    each month of it is C-contiguous too, whatever the number of runs (a
    kernel then meets one array type for any batch, so it is compiled once).
    """

    def __init__(self, keys: np.ndarray, shapes: dict[str, tuple[int, ...]], draws_first: Collection[str] = ()):
        self.shapes = dict(shapes)
        runs = len(keys)
        self.leads = {stream: (shape[-1],) if stream in draws_first else () for stream, shape in self.shapes.items()}
        self.rests = {
            stream: tuple(shape[:-1]) if stream in draws_first else tuple(shape)
            for stream, shape in self.shapes.items()
        }
        xs, his = [], []
        for stream, shape in self.shapes.items():
            x, hi = stream_counters(keys, stream, shape)  # (R, 1, *shape)
            if stream in draws_first:
                x = np.moveaxis(x, -1, 2)
            xs.append(x.reshape(1, runs, -1))
            his.append(np.broadcast_to(hi.reshape(1, runs, 1), xs[-1].shape))
        # hashed element indices ^ high key halves, (1, R, N): XOR is associative, so
        # x ^ (hi ^ month salt) as block_from_counters computes it is (x ^ hi) ^ month salt
        self._x_hi = np.concatenate(xs, axis=2) ^ np.concatenate(his, axis=2)
        sizes = [x.shape[2] for x in xs]
        self._ends = np.cumsum(sizes).tolist()
        # each stream's elements in the side-by-side layout, and its draws ahead of the runs (1 if none)
        self._bounds = np.array([0, *self._ends], dtype=np.int64)
        self._leads = np.array([self.leads[stream][0] if self.leads[stream] else 1 for stream in self.shapes])

    def blocks(self, first_month: int, months: int) -> dict[str, np.ndarray]:
        """Uniforms of every stream, as ``block_from_counters`` draws them (hashed in one compiled
        pass, :func:`_hashed_months`, the same integers as :func:`_hash32`): (months, R, *shape),
        or (months, draws, R, *rest) for a stream in ``draws_first``; each C-contiguous."""
        runs = self._x_hi.shape[1]
        flat = np.empty(months * runs * self._x_hi.shape[2])
        _hashed_months(self._x_hi, _month_salt(first_month, months), self._bounds, self._leads, months, flat)
        out, start = {}, 0
        for stream, end in zip(self.shapes, self._ends, strict=True):
            shape = (months, *self.leads[stream], runs, *self.rests[stream])
            out[stream] = flat[months * runs * start : months * runs * end].reshape(shape)
            start = end
        return out


def uniform_block(keys: np.ndarray, stream: str, first_month: int, months: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniforms in [0, 1) of shape ``(R, months, *shape)`` for one process.

    Element ``[r, m, i, j, k]`` depends only on run r's key, the stream, the
    month ``first_month + m`` and the indices, never on R or on other runs.
    """
    return block_from_counters(stream_counters(keys, stream, shape), first_month, months)


def uniform(keys: np.ndarray, stream: str, month: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniforms of shape ``(R, *shape)`` for one process and one month."""
    return uniform_block(keys, stream, month, 1, shape)[:, 0]


def stream_keys(keys: np.ndarray, stream: str) -> np.ndarray:
    """(R, 2) uint64: the low and high 32-bit halves of each run's key for
    ``stream``, as :func:`uniform_at` takes them (read-only)."""
    sk = splitmix64(keys ^ _stream_salt(stream))
    halves = np.stack([sk & np.uint64(0xFFFFFFFF), sk >> np.uint64(32)], axis=-1)
    halves.flags.writeable = False
    return halves


_MASK32 = np.uint64(0xFFFFFFFF)
_A64, _B64 = np.uint64(_A32), np.uint64(_B32)
_SALT64 = np.uint64(0x3C6EF372)
_U8, _U15, _U16 = np.uint64(8), np.uint64(15), np.uint64(16)


@rule
def _hash32_at(x):
    """:func:`_hash32` of one 32-bit value held in a uint64."""
    x ^= x >> _U16
    x = (x * _A64) & _MASK32
    x ^= x >> _U15
    x = (x * _B64) & _MASK32
    x ^= x >> _U16
    return x


@rule
def uniform_at(key, month, i, j, k):
    """One uniform in [0, 1) in compiled code: ``uniform(keys, stream, month,
    shape)[r, i, j, k]`` for ``key = stream_keys(keys, stream)[r]`` (i below
    2**16, j and k below 2**8, month a non-negative integer)."""
    packed = (np.uint64(i) << _U16) | (np.uint64(j) << _U8) | np.uint64(k)
    x = _hash32_at(packed ^ key[0])
    salt = _hash32_at((np.uint64(month) + _SALT64) & _MASK32)
    return np.float64(_hash32_at(x ^ key[1] ^ salt)) * _TO_UNIT


@kernel
def _hashed_months(x_hi, salt, bounds, leads, months, out):
    """What :meth:`StreamSet.blocks` draws, in one pass over memory instead of one NumPy pass
    per operation of the hash: the uniform of ``_hash32(x_hi[0, r, n] ^ salt[m])`` (uint32
    inputs) for month m, run r and element n of the side-by-side layout (stream i's elements
    from ``bounds[i]`` to ``bounds[i + 1]``, its ``leads[i]`` draws first), written in order
    into the flat float64 ``out``: stream by stream, each block (months, draws, R, rest)."""
    runs = x_hi.shape[1]
    at = 0
    for i in range(len(leads)):
        start, lead = bounds[i], leads[i]
        rest = (bounds[i + 1] - start) // lead
        for m in range(months):
            month_salt = np.uint64(salt[m])
            for d in range(lead):
                first = start + d * rest
                for r in range(runs):
                    source = x_hi[0, r, first : first + rest]
                    target = out[at : at + rest]
                    for q in range(rest):
                        target[q] = np.float64(_hash32_at(np.uint64(source[q]) ^ month_salt)) * _TO_UNIT
                    at += rest


def derive_seeds(seed: int, count: int, salt: str = "replicate") -> list[int]:
    """``count`` independent run seeds (below 2**63) derived from one seed.

    Seed i depends only on ``seed``, ``salt`` and i, so replicate 3 has the
    same seed whether 5 or 500 replicates are asked for.
    """
    base = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(zlib.crc32(salt.encode()))))
    with np.errstate(over="ignore"):
        z = splitmix64(base + np.arange(count, dtype=np.uint64) * _GOLDEN64)
    return [int(v) for v in (z >> np.uint64(1))]
