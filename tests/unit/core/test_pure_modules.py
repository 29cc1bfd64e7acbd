"""The grace, backoff and resources modules stay pure (STYLE.md "A pure core")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import podrun.core

CORE = Path(podrun.core.__file__).parent
FORBIDDEN = {"os", "subprocess", "socket", "asyncio", "time", "threading", "signal"}


@pytest.mark.parametrize("module", ["resources.py", "termination.py", "backoff.py"])
def test_no_host_imports(module: str) -> None:
    tree = ast.parse((CORE / module).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"{module} imports {sorted(imported & FORBIDDEN)}"
