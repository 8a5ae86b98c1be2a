"""Property-based fuzzing of every input a user writes: scenario files, ``--set``, experiment files and
list-design CSV files (Hypothesis).

Each example writes the generated files and runs the real command line in this
process (``improvesim.cli.main``) on a tiny study (3 schools, 1 year, 1
replicate).  For every input the outcome must be one of:

* exit status 2 with one line on stderr, ``improvesim CMD: error: FILE: KEY: ...``,
  naming the file and (unless the file as a whole is unreadable) the key; or
* success, in which every value the input gave is the value recorded in
  ``summary.json`` (``run``) or ``plan.parquet`` (``sweep``).

Never a traceback, never a hang (each example is stopped after
:data:`EXAMPLE_SECONDS`).  In CI the ``ci`` profile keeps the whole file to
about half a minute; a longer search (1000 examples each, about four minutes) is one command::

    IMPROVESIM_FUZZ=long .venv/bin/python -m pytest -q tests/test_fuzz_input.py   # 1000 examples each
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import signal
import tempfile
import tomllib
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from improvesim.cli import main
from improvesim.sim.schema import PARAMETERS

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile(os.environ.get("IMPROVESIM_FUZZ", "ci"))

#: Seconds after which an example counts as a hang.
EXAMPLE_SECONDS = 60
#: Parameters that set the size of a run stay tiny (they are fixed, not fuzzed, so every run is quick).
SIZE = {"run.years": 1, "run.replicates": 1, "district.schools": 3, "rollout.initial_schools": 3}
FUZZED = [p for p in PARAMETERS if p.name not in SIZE]
TINY = "[run]\nyears = 1\nreplicates = 1\n[district]\nschools = 3\n[rollout]\ninitial_schools = 3\n"
BY_NAME = {p.name: p for p in FUZZED}


# --- strategies ----------------------------------------------------------------------------------


def valid_value(p) -> st.SearchStrategy:
    if p.kind == "choice":
        return st.sampled_from(p.choices)
    if p.kind == "int":
        return st.integers(int(p.low), int(p.high))
    return st.floats(p.low, p.high, allow_nan=False)


#: Values no parameter takes: out of range, huge, not finite, text (full-width digits too), booleans, arrays, tables.
INVALID = st.one_of(
    st.integers(min_value=10**6),
    st.integers(max_value=-1),
    st.integers(min_value=10**300, max_value=10**400),
    st.sampled_from([math.inf, -math.inf, math.nan]),
    st.floats(min_value=1e6, allow_infinity=False),
    st.floats(max_value=-1e-9, allow_infinity=False),
    st.sampled_from(["４", "0.1", "required", "", "１２", "1_000", "0x10", "nan"]),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(0, 3), max_size=3),
    st.recursive(st.integers(0, 1), lambda inner: st.lists(inner, max_size=2), max_leaves=40),
    st.dictionaries(st.sampled_from(["min", "max", "x"]), st.integers(0, 3), max_size=2),
)


def value_for(p) -> st.SearchStrategy:
    """Mostly a valid value of ``p``, else any invalid one."""
    return st.one_of(valid_value(p), valid_value(p), valid_value(p), INVALID)


def toml_value(v) -> str:
    """A Python value written as TOML."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


names = st.one_of(st.sampled_from([p.name for p in FUZZED]), st.sampled_from(["turnover.teachers", "run.seed", "x.y"]))


@st.composite
def scenario_files(draw):
    """(TOML text, {section.key: value}) with the size parameters fixed tiny and others fuzzed."""
    chosen = draw(st.lists(st.sampled_from(FUZZED), max_size=4, unique_by=lambda p: p.name))
    values = {p.name: draw(value_for(p)) for p in chosen}
    if draw(st.integers(0, 4)) == 0:
        values[draw(st.sampled_from(["turnover.teachers", "nosection.key", "district.colour"]))] = 1
    sections: dict[str, dict] = {}
    for name, value in {**SIZE, **values}.items():
        section, key = name.split(".", 1)
        sections.setdefault(section, {})[key] = value
    text = "".join(
        f"[{section}]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in body.items())
        for section, body in sections.items()
    )
    if draw(st.integers(0, 9)) == 0:
        start = draw(st.integers(0, 40))
        text += f'[[shocks]]\nkind = "pandemic"\nstart_month = {start}\nmonths = 3\nseverity = 0.5\n'
        values["shocks"] = start
    return text, values


def set_texts():
    """``--set`` arguments: a parameter and a value written as a number, a word or anything."""
    return st.one_of(
        st.just([]),
        st.lists(
            st.tuples(
                st.sampled_from([p.name for p in FUZZED]),
                st.one_of(
                    st.floats(0, 1).map(repr),
                    st.integers(0, 20).map(str),
                    st.sampled_from(["optional", "required", "４", "0.1\nrun.years=5", "1e999", "1" * 500, '"x"']),
                    st.text(max_size=6),
                ),
            ),
            max_size=2,
        ),
    )


# --- running ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def stopped_after(seconds: int):
    """Fail an example that runs longer than ``seconds`` (a hang), instead of waiting for ever."""

    def hang(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(*args) -> tuple[int, str, str]:
    """``improvesim ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with stopped_after(EXAMPLE_SECONDS), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's refusals
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_one_line_refusal(code: int, err: str, command: str, file: Path, keys) -> None:
    event("refused")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"improvesim {command}: error: "), err
    line = lines[0]
    assert "Traceback" not in err
    whole_file = ("not valid TOML", "not UTF-8", "not a usable number", "is empty", "has no parameter sets")
    assert file.name in line or "--set" in line or "--out" in line, line
    assert any(k in line for k in keys) or any(w in line for w in whole_file), (keys, line)


def canonical(name: str, value):
    """A value as the schema stores it (a float parameter given as an integer is that float)."""
    return float(value) if BY_NAME[name].kind == "float" else value


# --- scenario files and --set ---------------------------------------------------------------------------


#: An output folder's name inside the example's own folder: never a path that leads out of it.
out_names = st.one_of(
    *[st.just("out")] * 4,
    st.text(st.characters(exclude_characters="/\x00"), min_size=1, max_size=12).filter(lambda n: n not in (".", "..")),
    st.just("o" * 300),
)


@given(scenario=scenario_files(), sets=set_texts(), out_name=out_names)
def test_scenario_and_set_are_refused_in_one_line_or_recorded_exactly(scenario, sets, out_name):
    text, values = scenario
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.toml"
        path.write_text(text, encoding="utf-8")
        out = Path(tmp) / out_name
        args = ["run", path, "--out", out, "--no-schools"]
        for name, value in sets:
            args += ["--set", f"{name}={value}"]
        code, _, err = run_cli(*args)
        if code != 0:
            keys = [*values, *(f"[{k.split('.')[0]}]" for k in values), "shocks", *(n for n, _ in sets), "--out"]
            assert_one_line_refusal(code, err, "run", path, keys)
            assert sorted(p.name for p in Path(tmp).iterdir()) == ["fuzzed.toml"]  # nothing created
            return
        event("accepted")
        recorded = json.loads((out / "summary.json").read_text())["parameters"]
        given_values = {**values, **{n: _parsed(v) for n, v in sets}}
        for name, value in given_values.items():
            if name == "shocks":
                assert recorded["shocks"][0]["start_month"] == value
                continue
            section, key = name.split(".", 1)
            assert name in BY_NAME, f"unknown {name} accepted"
            assert recorded[section][key] == canonical(name, value), (name, value, recorded[section][key])


def test_an_output_folder_the_file_system_cannot_encode_is_refused_in_one_line(tmp_path):
    """Hypothesis found it: a lone surrogate in --out's name crashed when the staging folder was made."""
    code, _, err = run_cli("run", "baseline", "--out", tmp_path / "\ud800", "--no-schools")
    assert code == 2 and "--out" in err and "cannot encode" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def _parsed(text: str):
    """A --set value as TOML reads it (a bare word stays text)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, ValueError):
        return text.strip()


# --- experiment files and CSV files ------------------------------------------------------------------------


@st.composite
def experiments(draw):
    """(experiment text, CSV text or None, what the generator wrote: {"factors": {name: values}} or CSV rows)."""
    design = draw(st.sampled_from(["grid", "grid", "list", "list", "lhs"]))
    scenario = draw(st.one_of(*[st.just("tiny.toml")] * 6, st.text(max_size=12), st.just("x" * 5000)))
    lines = [f"scenario = {toml_value(scenario)}", f'design = "{design}"', 'outcomes = ["institutionalized_share"]']
    extra = draw(
        st.one_of(
            st.just({}),
            st.fixed_dictionaries({}, optional={"replicates": st.integers(1, 2), "seed": st.integers(0, 9)}),
            st.dictionaries(
                st.sampled_from(["replicates", "seed", "levels", "second_order", "samples", "chunk", "description"]),
                st.one_of(st.integers(-1, 3), st.booleans(), st.text(max_size=3)),
                max_size=2,
            ),
        )
    )
    if design == "lhs":
        extra.setdefault("samples", draw(st.integers(1, 4)))
    lines += [f"{k} = {toml_value(v)}" for k, v in extra.items()]
    csv_text = None
    factors: dict[str, list] = {}
    if design == "list":
        header = draw(st.lists(names, min_size=1, max_size=3, unique=True))
        rows = draw(st.lists(st.tuples(*(csv_cell(name) for name in header)).map(list), max_size=3))
        if rows and draw(st.integers(0, 4)) == 0:
            rows[0] = [*rows[0], "4"]  # one extra cell
        csv_text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
        csv_name = draw(st.one_of(*[st.just("sets.csv")] * 6, st.text(max_size=12), st.just("y" * 5000)))
        lines.append(f"csv = {toml_value(csv_name)}")
        factors = {"header": header, "rows": rows}
    else:
        chosen = draw(st.lists(names, min_size=1, max_size=2, unique=True))
        lines.append("[parameters]")
        for name in chosen:
            if name in BY_NAME and design == "grid":
                spec = draw(st.lists(value_for(BY_NAME[name]), min_size=1, max_size=3))
            elif name in BY_NAME and BY_NAME[name].kind != "choice":
                p = BY_NAME[name]
                spec = {"min": draw(value_for(p)), "max": draw(value_for(p))}
            else:
                spec = draw(st.one_of(INVALID, st.lists(st.integers(0, 3), min_size=1, max_size=2)))
            lines.append(f"{json.dumps(name)} = {toml_value(spec)}")
            factors[name] = spec
    lines.append('[set]\n"turnover.teacher" = 0.1')
    return "\n".join(lines) + "\n", csv_text, design, factors


def csv_cell(name: str) -> st.SearchStrategy:
    """A CSV cell for column ``name``: mostly a valid value written as text, else anything."""
    garbage = st.one_of(
        st.sampled_from(["optional", "４", "", " 2 ", "1e999", "1" * 200, "nan", '"3"', "1_0", "0x4"]),
        st.text(alphabet="0123456789.-e ", max_size=5),
    )
    if name not in BY_NAME:
        return garbage
    text = valid_value(BY_NAME[name]).map(lambda v: v if isinstance(v, str) else repr(v))
    return st.one_of(text, text, text, text, text, garbage)


@given(case=experiments())
def test_experiments_and_csv_are_refused_in_one_line_or_planned_exactly(case):
    text, csv_text, design, factors = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "tiny.toml").write_text(TINY)
        path = folder / "fuzzed.toml"
        path.write_text(text, encoding="utf-8")
        if csv_text is not None:
            (folder / "sets.csv").write_text(csv_text, encoding="utf-8")
        store = folder / "store"
        code, out, err = run_cli("sweep", path, "--out", store, "--quiet", "--workers", "1")
        if code != 0:
            keys = [
                "scenario",
                "csv",
                "row ",
                "design",
                "[parameters]",
                "[set]",
                *factors,
                *factors.get("header", []),
                "replicates",
                "seed",
                "levels",
                "second_order",
                "samples",
                "chunk",
                "description",
                "run.seed",
            ]
            file = folder / "sets.csv" if "sets.csv:" in err else path
            assert_one_line_refusal(code, err, "sweep", file, [k for k in keys if isinstance(k, str)])
            assert not store.exists()
            return
        event(f"accepted {design}")
        plan = pd.read_parquet(store / "plan.parquet")
        if design == "list":
            _check_listed(
                plan, factors["header"], [r for r in csv.reader(io.StringIO(csv_text)) if r not in ([], [""])][1:]
            )
        elif design == "grid":
            for name, levels in factors.items():
                assert sorted(set(plan[name].tolist())) == sorted({canonical(name, v) for v in levels})
        else:
            for name, spec in factors.items():
                assert plan[name].between(spec["min"], spec["max"]).all()


def _check_listed(plan: pd.DataFrame, header: list[str], rows: list[list[str]]) -> None:
    replicates = len(plan) // len(rows)
    for name in header:
        kind = BY_NAME[name].kind
        expected = []
        for row in rows:
            cell = row[header.index(name)].strip()
            if kind != "choice":
                assert cell.isascii(), f"{cell!r} accepted for {name}"
            value = (
                cell
                if kind == "choice"
                else (int(cell) if kind == "int" and cell.lstrip("+-").isdigit() else float(cell))
            )
            expected += [canonical(name, value)] * replicates
        assert plan[name].tolist() == expected, name
