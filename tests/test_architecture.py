"""The package's layering (DESIGN.md section 1) as a test: no cycle between subpackages,
not even through an import inside a function, and no edge the design forbids.

Why a test: a lazy import (inside a function, or ``importlib.import_module("redline.x")``)
hides a cycle from Python, which only fails when the two halves import each other at the
top, and from a reader, who sees the layers only by opening every function. Walking every
module's syntax tree finds them all, so a new edge that breaks the layering fails here,
with the file and line that added it.

Nodes are the subpackages and top-level modules of ``redline`` (``redline.analysis``,
``redline.config``); ``redline/__init__.py`` is left out (it only re-exports). Imports
under ``if TYPE_CHECKING:`` count: a type is a dependency of the design too. Plugin paths
given as strings to a :class:`redline.plugins.Registry` do not: they are how a registry
names a plugin that lives in a higher layer (the packaged PM's scorer for targets, the
target-comparison section for the report) without importing it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "redline"

# Modules every layer may use and that import nothing upward themselves.
LEAVES = ("errors", "plugins", "vocabulary", "statistics")
SERVICES = ("campaign", "review", "attack", "analysis", "judges", "rlhf")
FRONTS = ("platform", "cli")


@dataclass(frozen=True)
class Edge:
    """One import of ``target``'s package by a module of ``source``'s package."""

    source: str
    target: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.file}:{self.line})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """Every ``redline.*`` module named by an import statement anywhere in ``tree`` (top
    level, functions, ``TYPE_CHECKING`` blocks) or by ``importlib.import_module("...")``
    with a literal name; ``from a import b`` yields ``a.b`` too, since ``b`` may be a
    module."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == PACKAGE]


def _component(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def package_edges() -> list[Edge]:
    """Every import between two different components of ``redline``, with where it is."""
    edges: list[Edge] = []
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        module = _module_name(path)
        source = _component(module)
        if source is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen: set[tuple[str, int]] = set()
        for name, line in _imported(tree, module, path.name == "__init__.py"):
            target = _component(name)
            if target is None or target == source or (target, line) in seen:
                continue
            seen.add((target, line))
            edges.append(Edge(source, target, str(path.relative_to(SRC.parent)), line))
    return edges


def _graph(edges: list[Edge]) -> dict[str, dict[str, list[Edge]]]:
    graph: dict[str, dict[str, list[Edge]]] = defaultdict(lambda: defaultdict(list))
    for edge in edges:
        graph[edge.source][edge.target].append(edge)
    return graph


def _cycles(graph: dict[str, dict[str, list[Edge]]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def forbidden(edge: Edge) -> str | None:
    """Why DESIGN (section 1) forbids ``edge``, or None when it is allowed."""
    s, t = edge.source, edge.target
    if s in LEAVES and t not in ("errors",):
        return f"{s} is a leaf module: it imports nothing of redline but errors"
    if t in FRONTS and not (s == "cli" and t == "platform"):
        return (
            "the web platform and the CLI are fronts: nothing imports them (cli may serve platform)"
        )
    if s == "store" and t in (*SERVICES, *FRONTS, "datasets", "harmlessness", "targets"):
        return "store knows nothing of services, the web or the CLI"
    if s == "targets" and t in ("store", "harmlessness", "campaign", "analysis"):
        return "targets is model code: text in, candidates out; no store, PM or services"
    if s == "analysis" and t in ("attack", "campaign"):
        return "analysis reads frames and the store; it does not call attack or campaign services"
    return None


EDGES = package_edges()


def test_the_walker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    source = (
        "from . import sibling\n"
        "from ..store import models\n"
        "def f():\n"
        "    import redline.cli.app\n"
        "    importlib.import_module('redline.platform.app')\n"
    )
    found = {n for n, _ in _imported(ast.parse(source), "redline.analysis.report", False)}
    assert {"redline.analysis.sibling", "redline.store.models", "redline.cli.app"} <= found
    assert "redline.platform.app" in found
    assert len(EDGES) > 50  # the walker found the package's real imports


def shortest_cycle(graph: dict[str, dict[str, list[Edge]]], members: list[str]) -> list[str]:
    """The shortest package cycle inside ``members`` (breadth-first from each member)."""
    best: list[str] = []
    for start in members:
        paths = {start: [start]}
        queue = [start]
        while queue:
            node = queue.pop(0)
            for nxt in sorted(graph.get(node, {})):
                if nxt not in members:
                    continue
                if nxt == start and (not best or len(paths[node]) < len(best)):
                    best = paths[node]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
    return best


def cycle_report(edges: list[Edge]) -> list[str]:
    """One block per set of packages importing each other: its shortest cycle with every
    import (file:line) that makes each step of it."""
    graph = _graph(edges)
    lines = []
    for members in _cycles(graph):
        cycle = shortest_cycle(graph, members)
        lines.append(f"cycle {' -> '.join([*cycle, cycle[0]])} (packages involved: {members}):")
        for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
            lines += [f"  {edge}" for edge in graph[a][b]]
    return lines


def test_the_cycle_report_names_each_import() -> None:
    edges = [
        Edge("analysis", "attack", "redline/analysis/report.py", 148),
        Edge("attack", "analysis", "redline/attack/frame.py", 18),
        Edge("attack", "store", "redline/attack/persist.py", 3),
    ]
    assert cycle_report(edges) == [
        "cycle analysis -> attack -> analysis (packages involved: ['analysis', 'attack']):",
        "  analysis -> attack (redline/analysis/report.py:148)",
        "  attack -> analysis (redline/attack/frame.py:18)",
    ]
    assert cycle_report(edges[1:]) == []


def test_no_package_cycle() -> None:
    lines = cycle_report(EDGES)
    assert not lines, "\n".join(lines)


def test_the_design_rules_catch_upward_imports() -> None:
    def why(source: str, target: str) -> str | None:
        return forbidden(Edge(source, target, "x.py", 1))

    assert why("store", "campaign") and why("targets", "harmlessness")
    assert why("analysis", "attack") and why("statistics", "analysis")
    assert why("review", "cli") and why("attack", "platform")
    assert why("cli", "platform") is None and why("attack", "analysis") is None


def test_no_edge_design_forbids() -> None:
    broken = [f"  {edge}: {why}" for edge in EDGES if (why := forbidden(edge))]
    assert not broken, "edges DESIGN section 1 forbids:\n" + "\n".join(broken)
