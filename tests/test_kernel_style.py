"""The kernels stay readable and every coefficient stays in the schema.

Parses the submodels' sources: a number other than 0 and 1 in a submodel is a
coefficient that belongs in ``sim/schema.py`` (or, when structural, a named
constant outside the submodels: ``sim/structure.py``), and a compiled kernel
takes a few named bundles, not a long list of arrays.
"""

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"
SUBMODELS = sorted((SIM / "submodels").glob("*.py"))
#: Most parameters a compiled kernel may take.
MAX_KERNEL_PARAMETERS = 8
#: Numbers allowed in the compiled helpers of sim/jit.py: (function, number).
ALLOWED_IN_JIT = {("smoothstep", 3.0), ("smoothstep", 2.0)}
KERNEL_DECORATORS = {"kernel", "rule", "step"}


def numbers(tree: ast.AST) -> list[ast.Constant]:
    """Numeric literals (not bools) in ``tree``; a negative number is a literal under a minus."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool)
    ]


def kernels(tree: ast.AST) -> list[ast.FunctionDef]:
    """Functions compiled by ``@kernel``, ``@step`` or ``@rule`` (sim.jit)."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Name) and d.id in KERNEL_DECORATORS for d in node.decorator_list)
    ]


@pytest.mark.parametrize("path", SUBMODELS, ids=lambda p: p.name)
def test_no_number_but_0_and_1_in_a_submodel(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [f"line {n.lineno}: {n.value!r}" for n in numbers(tree) if n.value not in (0, 1)]
    assert not found, f"{path.name}: numbers that belong in the schema or sim/structure.py: {found}"


def test_the_compiled_helpers_hold_only_their_named_numbers():
    tree = ast.parse((SIM / "jit.py").read_text(encoding="utf-8"))
    found = [(fn.name, n.value) for fn in kernels(tree) for n in numbers(fn) if n.value not in (0, 1)]
    assert set(found) <= ALLOWED_IN_JIT, found


@pytest.mark.parametrize("path", [*SUBMODELS, SIM / "jit.py", SIM / "outcomes.py"], ids=lambda p: p.name)
def test_kernels_take_a_few_named_inputs(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = {
        fn.name: len(fn.args.args)
        for fn in kernels(tree)
        if len(fn.args.args) + len(fn.args.kwonlyargs) > MAX_KERNEL_PARAMETERS
    }
    assert not long, f"{path.name}: kernels with more than {MAX_KERNEL_PARAMETERS} parameters: {long}"


def test_the_checks_see_what_they_check():
    """The parser finds a literal and a long kernel where there is one."""
    source = "@kernel\ndef f(a, b, c, d, e, f, g, h, i):\n    return 0.5 * a\n"
    tree = ast.parse(source)
    assert [n.value for n in numbers(tree)] == [0.5]
    assert [fn.name for fn in kernels(tree)] == ["f"] and len(kernels(tree)[0].args.args) == 9
