"""An automated attempt's admin page shows its strategy and the tree of its attack's
stored conversations, each linked to its own page, with every stored text escaped."""

from __future__ import annotations

import re

from sqlalchemy import select

from redline.attack.persist import make_key, write_results
from redline.attack.results import CandidateResult, ConversationResult, TurnResult
from redline.store import Store
from redline.store.models import Attempt, Origin, Role
from redline.testing import ScriptedTargets

TARGET = "scripted-1m/plain"
STRATEGY = "<img src=x onerror=alert(1)>"


def _stored(
    key: str, human: str, node: str | None, parent: str | None, score: float
) -> ConversationResult:
    extra = None
    if node is not None:
        extra = {"strategy": STRATEGY, "node": node, "parent": parent, "score": score}
    return ConversationResult(
        key=key,
        target=TARGET,
        turns=[TurnResult(human, [CandidateResult("a reply", None, 0.0)])],
        extra=extra,
    )


def _store_tree(store: Store) -> dict[str, int]:
    """Attack A: first -> 1 -> 1.1 and first -> 2 (4 nodes); attack B shares the node
    name "1"; a zero-shot conversation records no lineage."""
    a, b = make_key("automated", "A"), make_key("automated", "B")
    results = [
        _stored(a, "first try", "", None, 1.0),
        _stored(b, "other attack", "", None, 1.0),
        _stored(make_key(a, "1"), "<script>alert('refined')</script>", "1", "", 2.5),
        _stored(make_key(b, "1"), "other refinement", "1", "", 2.0),
        _stored(make_key(a, "1.1"), "deeper", "1.1", "1", 7.25),
        _stored(make_key(a, "2"), "sideways", "2", "", 0.5),
        _stored(make_key("automated", "Z"), "zero-shot opener", None, None, 0),
    ]
    infos = {TARGET: ScriptedTargets().info(TARGET)}
    write_results(store, results, origin=Origin.AUTOMATED, targets=infos)
    names = ["A", "B", "A1", "B1", "A11", "A2", "Z"]
    with store.session() as session:
        ids = {
            r.content_hash: r.id
            for r in session.scalars(select(Attempt).where(Attempt.origin == Origin.AUTOMATED))
        }
    return {name: ids[r.key] for name, r in zip(names, results, strict=True)}


def _link(attempt: int) -> str:
    return f'href="/admin/attempt/{attempt}"'


def test_an_attack_tree_is_shown_linked_and_escaped(new_browser, store: Store):
    ids = _store_tree(store)
    admin = new_browser().join(Role.ADMIN)
    page = admin.get(f"/admin/attempt/{ids['A1']}")
    assert page.status_code == 200
    html = page.text

    assert "Attack lineage" in html and "<dt>Origin</dt><dd>automated</dd>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and STRATEGY not in html
    assert "&lt;script&gt;alert(&#39;refined&#39;)&lt;/script&gt;" in html
    assert "<script>alert(" not in html
    for name in ("A", "A1", "A11", "A2"):
        assert _link(ids[name]) in html, name
    assert _link(ids["B"]) not in html and _link(ids["B1"]) not in html  # another attack
    assert "The 4 conversations" in html
    assert "score 7.250" in html and "score 2.500" in html
    # 1.1 hangs under 1, 1 and 2 under the first node; this page's node is marked.
    tree = html[html.index('<ul class="tree">') :]
    first, one, deeper, two = (tree.index(_link(ids[n])) for n in ("A", "A1", "A11", "A2"))
    assert first < one < deeper < two
    assert "<ul>" in tree[one:deeper] and "(this attempt)" in tree[one:deeper]
    assert tree[deeper:two].count("</ul>") == 1  # back up one level before node 2
    assert re.search(r"parent\s+<bdi>\(first\)</bdi>", tree[one:deeper])

    # Every node's page shows the same tree; a lone zero-shot conversation shows none.
    assert _link(ids["A1"]) in admin.get(f"/admin/attempt/{ids['A2']}").text
    lone = admin.get(f"/admin/attempt/{ids['Z']}").text
    assert "Attack lineage" not in lone and "<dd>automated</dd>" in lone


def test_a_lineage_loop_cannot_hide_nodes_or_recurse(new_browser, store: Store):
    a = make_key("automated", "L")
    results = [
        _stored(a, "first", "", None, 0),
        _stored(make_key(a, "x"), "x", "x", "y", 0),
        _stored(make_key(a, "y"), "y", "y", "x", 0),
    ]
    infos = {TARGET: ScriptedTargets().info(TARGET)}
    write_results(store, results, origin=Origin.AUTOMATED, targets=infos)
    with store.session() as session:
        first = session.scalar(select(Attempt.id).where(Attempt.content_hash == a))
    html = new_browser().join(Role.ADMIN).get(f"/admin/attempt/{first}").text
    assert "The 3 conversations" in html
    assert html.count('class="node') == 3
