"""Every module imports, and every third-party import is declared in pyproject.toml.

Why both: a module that imports an undeclared package works on a machine where someone
installed it by hand (a green CI once hid ``umap-learn`` that way). Importing every module
in CI's fresh virtual environment catches that; the declaration check catches it even
where the package happens to be installed.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
import re
import sys
import tomllib
from pathlib import Path

import pytest

import redline

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "redline"


def all_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(redline.__path__, "redline.") if "tests" not in m.name
    )


@pytest.mark.parametrize("module", all_modules())
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    return _norm(re.split(r"[\s\[<>=!~;(]", spec.strip(), maxsplit=1)[0])


def declared_closure() -> set[str]:
    """Distributions pyproject.toml declares (core and every extra), and what they need."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    todo = [_requirement_name(s) for s in specs]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in requires]
    return seen


def third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> files of src/redline that import it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "redline" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared() -> None:
    closure = declared_closure()
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, files in third_party_imports().items():
        dists = {_norm(d) for d in providers.get(module, [])}
        if not dists & closure:
            undeclared[module] = sorted(files)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
