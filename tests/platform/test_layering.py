"""The web package stays a thin layer over services (DESIGN.md section 1).

Routes and the app call service functions (accounts, campaign, review); they never
build queries, touch ORM rows or open a database session. So no module under
``redline.platform`` may import SQLAlchemy or call ``.session()``/``.transaction()``, and
from the store it may name only the handle it passes to services (``Store``), the role
vocabulary (``Role``) and the text rule every form is checked against
(``redline.store.text``). Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import redline.platform

PLATFORM = Path(redline.platform.__file__).parent
ALLOWED_FROM_STORE = {"redline.store": {"Role", "Store"}, "redline.store.text": None}
SESSION_METHODS = {"session", "transaction"}


def violations(source: str) -> list[str]:
    """Each import or session in ``source`` that reaches past the services, as
    ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_METHODS
        ):
            found.append(f"{node.lineno}: .{node.func.attr}()")
            continue
        if isinstance(node, ast.Import):
            modules = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [(node.module, {alias.name for alias in node.names})]
        else:
            continue
        for module, names in modules:
            if _forbidden(module, names):
                shown = module if names is None else f"{module} ({', '.join(sorted(names))})"
                found.append(f"{node.lineno}: {shown}")
    return found


def _forbidden(module: str, names: set[str] | None) -> bool:
    if module == "sqlalchemy" or module.startswith("sqlalchemy."):
        return True
    if module != "redline.store" and not module.startswith("redline.store."):
        return False
    if module not in ALLOWED_FROM_STORE or names is None:
        return True  # ``import redline.store...`` or a module such as store.models
    allowed = ALLOWED_FROM_STORE[module]
    return allowed is not None and not names <= allowed


def test_the_rule_catches_what_it_should() -> None:
    """The checker itself: it flags queries and ORM rows, nested imports included."""
    bad = (
        "from sqlalchemy import select\n"
        "import sqlalchemy.orm\n"
        "from redline.store.models import Attempt\n"
        "from redline.store import Attempt, Store\n"
        "import redline.store\n"
        "def route(store):\n"
        "    from redline.store.writes import ensure_target\n"
        "    with store.session() as session:\n"
        "        pass\n"
    )
    lines = sorted(int(v.split(":")[0]) for v in violations(bad))
    assert lines == [1, 2, 3, 4, 5, 7, 8]
    good = (
        "from redline.store import Role, Store\n"
        "from redline.store.text import text_problem\n"
        "from redline.campaign import CampaignService\n"
        "from redline import accounts\n"
        "from .web import render\n"
        "accounts.viewer_for(store, token)\n"
    )
    assert violations(good) == []


@pytest.mark.parametrize(
    "path",
    sorted(PLATFORM.rglob("*.py")),
    ids=lambda p: str(p.relative_to(PLATFORM)),
)
def test_platform_modules_call_services_only(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(PLATFORM)} reaches past the services: move the query into a "
        "service module (accounts, campaign, review, datasets) and call it"
    )
