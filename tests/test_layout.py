"""The code keeps its shape: features reach each other through services and the page assembler,
never through each other's views (a view imported elsewhere cannot change without breaking pages
it does not know about)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "incidents"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | \
        {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def view_modules() -> set[str]:
    """Every module that defines a blueprint (views.py, and the status feature's publishing.py)."""
    return {f"incidents.{p.parent.name}.{p.stem}" for p in PACKAGE.glob("*/*.py") if "Blueprint(" in p.read_text()}


def test_no_feature_imports_another_features_views():
    views = view_modules()
    assert "incidents.incident.views" in views and "incidents.status.publishing" in views
    crossings = sorted(
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in PACKAGE.glob("*/*.py")
        for module in imported_modules(path) & views
        if module.split(".")[1] != path.parent.name
    )
    assert crossings == []
