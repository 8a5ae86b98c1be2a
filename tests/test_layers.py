"""Layers import one way: improvesim (command line, page) -> analysis, experiments -> sim."""

from __future__ import annotations

import ast

import pytest
from conftest import ROOT

#: What each folder may import from improvesim (by the installed module name's prefix).
ALLOWED = {
    "sim": ("improvesim.sim",),
    "experiments": ("improvesim.sim", "improvesim.experiments"),
    "analysis": ("improvesim.sim", "improvesim.experiments", "improvesim.analysis"),
}


def _improvesim_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        yield from (name for name in names if name == "improvesim" or name.startswith("improvesim."))


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_a_lower_layer_never_imports_a_higher_one(folder):
    wrong = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _improvesim_imports(path)
        if not name.startswith(ALLOWED[folder])
    ]
    assert not wrong, wrong
