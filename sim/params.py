"""Validated parameter sets: scenario files, overrides and defaults.

A :class:`Params` is an immutable, fully validated set of values for every
parameter in :mod:`sim.schema`, plus the list of shocks.  It is built from
defaults, a scenario file (TOML) and ``section.key=value`` overrides; every
bad input raises :class:`ParameterError`, which names the file, the key and
what is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from improvesim.sim.errors import one_line
from improvesim.sim.schema import BY_NAME, MAX_SHOCKS, PARAMETERS, SECTIONS, SHOCK_FIELDS, SHOCK_KINDS, Param

#: Largest input file read (bytes): scenario, plan and experiment files and list-design CSV files.
MAX_INPUT_BYTES = 64 * 2**20
#: Largest integer accepted anywhere a number is read (the range of a 64-bit seed).
MAX_INTEGER = 2**63 - 1
#: Longest value shown in a message (characters).
SHOWN_CHARACTERS = 60


class ParameterError(ValueError):
    """A scenario, override or parameter value that is not allowed.

    ``where`` names the file (or ``--set``), ``key`` the parameter.
    """

    def __init__(self, message: str, where: str | None = None, key: str | None = None):
        self.where = where
        self.key = key
        self.detail = message
        prefix = ""
        if where:
            prefix += f"{where}: "
        if key:
            prefix += f"{key}: "
        super().__init__(one_line(prefix + message))


def show(value: Any) -> str:
    """A value as a message shows it: its repr, at most :data:`SHOWN_CHARACTERS` long.

    Integers too long to print are given by their number of digits.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {math.floor(value.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__}"
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


@dataclass(frozen=True)
class Shock:
    """A disruption: ``kind`` from :data:`sim.schema.SHOCK_KINDS`, start month, length, severity."""

    kind: str
    start_month: int
    months: int
    severity: float

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start_month": self.start_month, "months": self.months, "severity": self.severity}


@dataclass(frozen=True)
class Params:
    """A complete, validated parameter set.  Read values with ``params["section.key"]``."""

    values: Mapping[str, Any]
    shocks: tuple[Shock, ...] = ()
    name: str = "defaults"
    source: str | None = field(default=None, compare=False)
    #: the scenario file's own ``name`` and ``description`` lines, if any (shown, never used to compute)
    title: str = field(default="", compare=False)
    description: str = field(default="", compare=False)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def with_overrides(self, overrides: Mapping[str, Any], where: str = "--set") -> Params:
        """A copy with ``overrides`` (``{"section.key": value}``) validated and applied."""
        values = dict(self.values)
        for name, raw in overrides.items():
            values[name] = coerce(name, raw, where)
        _check_consistency(values, self.shocks, where)
        return replace(self, values=values)

    def as_nested(self) -> dict[str, Any]:
        """The scenario as nested sections, as it would be written in TOML."""
        out: dict[str, dict[str, Any]] = {}
        for p in PARAMETERS:
            out.setdefault(p.section, {})[p.key] = self.values[p.name]
        out["shocks"] = [s.as_dict() for s in self.shocks]  # type: ignore[assignment]
        return out

    @property
    def months(self) -> int:
        return int(self.values["run.years"]) * 12


def defaults() -> Params:
    """The default parameter set (the baseline district)."""
    return Params(values={p.name: p.default for p in PARAMETERS})


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean ...?)' hint, or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def lookup(name: str, where: str | None = None) -> Param:
    """The schema entry for ``section.key``, or a :class:`ParameterError` with a suggestion."""
    if name in BY_NAME:
        return BY_NAME[name]
    raise ParameterError(
        "unknown parameter" + suggest(name, BY_NAME) + "; run `improvesim params` to list them",
        where,
        name,
    )


def coerce(name: str, raw: Any, where: str | None = None) -> Any:
    """Validate one value against the schema and return it in its canonical type."""
    p = lookup(name, where)
    return _coerce_value(p.kind, raw, p.low, p.high, p.choices, p.allowed, name, where)


def _coerce_value(kind, raw, low, high, choices, allowed, name, where):
    """The one check of a value, wherever it comes from (scenario, ``--set``, grid level, range, CSV cell).

    Numbers must be finite ints or floats (not bool, not text) within
    ±:data:`MAX_INTEGER` and the range; raises :class:`ParameterError`.
    ``allowed`` says what is allowed: text, or a function giving it (called only for
    a bad value: a sweep checks millions of good ones).
    """

    def bad(why: str) -> ParameterError:
        return ParameterError(f"{why}; allowed: {allowed() if callable(allowed) else allowed}", where, name)

    if kind == "choice":
        if not isinstance(raw, str) or raw not in choices:
            raise bad(f"got {show(raw)}")
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise bad(f"got {show(raw)}, which is not a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise bad(f"got {show(raw)}, which is not a finite number")
    if abs(raw) > MAX_INTEGER:
        raise bad(f"got {show(raw)}, out of range")
    if kind == "int":
        if isinstance(raw, float):
            if not raw.is_integer():
                raise bad(f"got {show(raw)}, which is not a whole number")
            raw = int(raw)
    else:
        raw = float(raw)
    if (low is not None and raw < low) or (high is not None and raw > high):
        raise bad(f"got {show(raw)}, out of range")
    return raw


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse one ``section.key=value`` override; the value is read as TOML.

    Raises :class:`ParameterError` (``--set``) for a line break or other
    control character, a missing ``=`` or an unknown parameter.
    """
    if not text.isprintable():
        raise ParameterError(
            f"got {show(text)}, which holds a line break or another control character; allowed: one section.key=value",
            "--set",
        )
    if "=" not in text:
        raise ParameterError(f"expected section.key=value, got {text!r}", "--set")
    name, value_text = (s.strip() for s in text.split("=", 1))
    lookup(name, "--set")
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        value = value_text  # a bare word such as required; coerce() names what is allowed
    return name, value


#: Top-level lines a scenario file may have besides its sections (all text).
SCENARIO_TEXT_KEYS = {
    "name": "the scenario's name as shown in tables and figures",
    "description": "one line on what it is",
    "base": "the scenario this file changes: a file beside it, or a bundled scenario's name",
}
#: How deep ``base`` lines may chain (a file that is its own base would never end).
MAX_BASE_DEPTH = 8


def from_mapping(data: Mapping[str, Any], where: str, name: str = "scenario", base: Params | None = None) -> Params:
    """Validate a nested scenario mapping (as read from TOML) on top of ``base`` (default: the defaults).

    Only the keys given change the base; ``[[shocks]]``, when given, replaces
    the base's shocks.  Besides the sections, a top-level ``name`` and
    ``description`` (text) are kept as the result's ``title`` and
    ``description``.  Raises :class:`ParameterError` naming ``where`` and the key.
    """
    values = dict(base.values) if base is not None else {p.name: p.default for p in PARAMETERS}
    shocks: tuple[Shock, ...] = base.shocks if base is not None else ()
    text = {}
    for section, body in data.items():
        if section in SCENARIO_TEXT_KEYS:
            if not isinstance(body, str):
                raise ParameterError(f"must be text in quotes ({SCENARIO_TEXT_KEYS[section]})", where, section)
            if section == "name" and (not body.strip() or body != body.strip()):
                raise ParameterError(
                    f"got {show(body)}; allowed: a name that is not empty and does not start or end with spaces "
                    "(it is how tables, figures and reports name the scenario)",
                    where,
                    section,
                )
            text[section] = body
            continue
        if section not in SECTIONS:
            if not isinstance(body, Mapping):
                raise ParameterError(
                    "unknown top-level key"
                    + suggest(section, [*SCENARIO_TEXT_KEYS, *SECTIONS])
                    + f"; allowed: {', '.join(SCENARIO_TEXT_KEYS)} (text) and the sections {', '.join(SECTIONS)}",
                    where,
                    section,
                )
            raise ParameterError(
                "unknown section" + suggest(section, SECTIONS) + f"; sections are {', '.join(SECTIONS)}",
                where,
                f"[{section}]",
            )
        if section == "shocks":
            shocks = _shocks(body, where)
            continue
        if not isinstance(body, Mapping):
            raise ParameterError("must be a table of key = value lines", where, f"[{section}]")
        for key, raw in body.items():
            full = f"{section}.{key}"
            values[full] = coerce(full, raw, where)
    _check_consistency(values, shocks, where)
    return Params(
        values=values,
        shocks=shocks,
        name=name,
        source=where,
        title=text.get("name", ""),
        description=text.get("description", ""),
    )


def read_text_file(path: str | Path, kind: str = "scenario", where: str | None = None, key: str | None = None) -> str:
    """The text of an input file, read safely: the one reader for every file a user gives.

    Only a regular file is read (a folder, FIFO or device such as
    ``/dev/zero`` is refused without blocking), at most
    :data:`MAX_INPUT_BYTES`, decoded as UTF-8 (a leading byte-order mark is
    dropped) with line endings made ``\\n``.  Anything else raises
    :class:`ParameterError` naming ``where`` (default: the file) and ``key``,
    ``kind`` saying what the file should have been.
    """
    label = where if where is not None else str(path)
    shown = "" if where is None else f"{str(path)!r}: "
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the open descriptor
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ParameterError(f"{shown}no such {kind} file", label, key) from None
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{shown}cannot read it: {_reason(exc)}", label, key) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ParameterError(f"{shown}not a regular {kind} file", label, key)
        if info.st_size > MAX_INPUT_BYTES:
            raise ParameterError(
                f"{shown}is {info.st_size:,} bytes; allowed: a {kind} file of at most {MAX_INPUT_BYTES:,} bytes",
                label,
                key,
            )
        data = _read_at_most(fd, MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise ParameterError(f"{shown}cannot read it: {_reason(exc)}", label, key) from None
    finally:
        os.close(fd)
    if len(data) > MAX_INPUT_BYTES:
        raise ParameterError(f"{shown}grew past {MAX_INPUT_BYTES:,} bytes while being read", label, key)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParameterError(
            f"{shown}not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); allowed: a {kind} file saved as UTF-8",
            label,
            key,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, min(limit - size, 2**20))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def read_toml(path: str | Path, kind: str = "scenario") -> dict[str, Any]:
    """Read a TOML file through :func:`read_text_file`; a missing, unreadable or malformed file is a
    :class:`ParameterError` naming the file (``kind`` says what the file should have been)."""
    where = str(path)
    text = read_text_file(path, kind)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"not valid TOML: {exc}", where) from None
    except RecursionError:
        raise ParameterError("not valid TOML: arrays or tables nested too deeply", where) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ParameterError(f"not a usable number: {str(exc).split(':')[0]}", where) from None


def load_scenario(path: str | Path, base: Params | None = None) -> Params:
    """Read and validate a scenario: a file (TOML), or a bundled scenario's name (``"baseline"``).

    A file changes a base: the one its own ``base = "..."`` line names (beside
    the file first, then among the bundled scenarios), else ``base``, else the
    defaults.  Plan files are scenarios of this kind.  Raises
    :class:`ParameterError` naming the file and key for any bad input, and
    listing the bundled names when ``path`` is neither a file nor one of them.
    """
    return _load_scenario(path, base, depth=0)


def _load_scenario(path: str | Path, base: Params | None, depth: int) -> Params:
    from improvesim.sim.bundled import resolve

    file = resolve(path, "scenario")
    data = read_toml(file, "scenario")
    named_base = data.get("base")
    if isinstance(named_base, str):
        if depth >= MAX_BASE_DEPTH:
            raise ParameterError(
                f"bases chain deeper than {MAX_BASE_DEPTH} files (does a file name itself?)", str(file), "base"
            )
        base = _load_scenario(resolve(named_base, "scenario", beside=file, key="base"), None, depth + 1)
    return from_mapping(data, str(file), name=file.stem, base=base)


def _shocks(body: Any, where: str) -> tuple[Shock, ...]:
    if not isinstance(body, list) or not all(isinstance(b, Mapping) for b in body):
        raise ParameterError("write each shock as a [[shocks]] table", where, "[[shocks]]")
    if len(body) > MAX_SHOCKS:
        raise ParameterError(f"at most {MAX_SHOCKS} shocks are allowed", where, "[[shocks]]")
    out = []
    for i, table in enumerate(body):
        fields: dict[str, Any] = {}
        for key, raw in table.items():
            label = f"shocks[{i}].{key}"
            if key not in SHOCK_FIELDS:
                raise ParameterError(
                    "unknown shock field" + suggest(key, SHOCK_FIELDS) + f"; fields are {', '.join(SHOCK_FIELDS)}",
                    where,
                    label,
                )
            kind, low, high, _unit, _desc = SHOCK_FIELDS[key]
            if kind == "choice":
                allowed = "one of " + ", ".join(f'"{k}"' for k in SHOCK_KINDS)
            else:
                allowed = f"{'an integer' if kind == 'int' else 'a number'} from {low:g} to {high:g}"
            fields[key] = _coerce_value(kind, raw, low, high, SHOCK_KINDS, allowed, label, where)
        missing = [k for k in SHOCK_FIELDS if k not in fields]
        if missing:
            raise ParameterError(f"missing {', '.join(missing)}", where, f"shocks[{i}]")
        out.append(Shock(**fields))
    return tuple(out)


def _check_consistency(values: Mapping[str, Any], shocks: Iterable[Shock], where: str | None) -> None:
    months = int(values["run.years"]) * 12
    for i, shock in enumerate(shocks):
        if shock.start_month >= months:
            raise ParameterError(
                f"got {shock.start_month}, after the run ends (run.years = {values['run.years']}, "
                f"months 0 to {months - 1}); allowed: 0 to {months - 1}",
                where,
                f"shocks[{i}].start_month",
            )
    if values["rollout.initial_schools"] > values["district.schools"]:
        raise ParameterError(
            f"is {values['rollout.initial_schools']} but the district has only "
            f"{values['district.schools']} schools (district.schools); allowed: 0 to district.schools",
            where,
            "rollout.initial_schools",
        )
