"""Which stored conversations belong to one automated attack, and how they descend.

Why from the keys: a strategy stores every conversation of an attack as its own attempt
(:meth:`redline.attack.strategies.base.Kit.converse`): the attack's first node under the
job's key, every other node under ``make_key(job key, node)``, with its
:class:`~redline.attack.strategies.base.Lineage` (``strategy``, ``node``, ``parent``,
``score``) in ``Attempt.extra``. Node names repeat across attacks ("1", "1.2"), so only
the key says which attack a node is part of: an attempt belongs to the attack whose
first node's key, hashed with the attempt's node name, gives the attempt's own key.

Comparisons count attacks, not conversations (an attack succeeds once, and spends every
query of all its nodes), and the admin view draws an attack's tree from the same groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.attack.persist import make_key
from redline.store.models import Attempt, Origin, Turn
from redline.vocabulary import UNRECORDED_STRATEGY

#: The label of automated attempts that carry no strategy (zero-shot and few-shot
#: conversations are stored without lineage today).
UNRECORDED = UNRECORDED_STRATEGY
PREVIEW_CHARS = 160


@dataclass(frozen=True)
class StoredNode:
    """One stored conversation of an automated attack, as its lineage describes it."""

    attempt_id: int
    target: str | None
    key: str | None  # the attempt's content_hash
    strategy: str | None = None
    node: str = ""
    parent: str | None = None
    score: float | None = None
    judge: str | None = None  # the in-loop judge's identity, when the strategy records it
    attack: str | None = None  # the attack's (job's) key, when the strategy records it
    reached: bool | None = None  # whether the in-loop judge said the goal was reached
    outcome: dict[str, Any] | None = None  # on an attack's root: queries spent, best node

    @classmethod
    def of(cls, attempt_id: int, target: str | None, key: str | None, extra: Any) -> StoredNode:
        """From ``Attempt.extra`` (anything that is not a lineage dict reads as none)."""
        lineage = extra if isinstance(extra, dict) else {}
        score = lineage.get("score")
        outcome = lineage.get("outcome")
        reached = lineage.get("reached")
        return cls(
            attempt_id=attempt_id,
            target=target,
            key=key,
            strategy=_text(lineage.get("strategy")),
            node=str(lineage.get("node") or ""),
            parent=_text(lineage.get("parent")),
            score=float(score) if isinstance(score, int | float) else None,
            judge=_text(lineage.get("judge")),
            attack=_text(lineage.get("attack")),
            reached=reached if isinstance(reached, bool) else None,
            outcome=outcome if isinstance(outcome, dict) else None,
        )

    @property
    def queries(self) -> int | None:
        """Target queries the whole attack spent, as recorded on its root (None: not
        recorded; count the stored turns instead)."""
        value = (self.outcome or {}).get("queries")
        return int(value) if isinstance(value, int | float) and value >= 0 else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def attack_keys(nodes: Sequence[StoredNode]) -> dict[int, str | None]:
    """attempt id -> its attack's key: the one it records, else the key of the stored
    conversation whose key, hashed with this one's node name, gives this one's key, else
    its own key (its first node is not stored, or it is a lone conversation)."""
    out = {n.attempt_id: n.attack for n in nodes}
    unresolved = [n for n in nodes if n.attack is None and n.key]
    names: dict[str | None, set[str]] = defaultdict(set)
    for n in unresolved:
        if n.node:
            names[n.target].add(n.node)
    wanted = {n.key: n for n in unresolved}
    for root in nodes:
        if not root.key:
            continue
        for name in names.get(root.target, ()):
            child = wanted.get(make_key(root.key, name))
            if child is not None and child.node == name and child is not root:
                out[child.attempt_id] = root.key
    for n in unresolved:
        if out[n.attempt_id] is None:
            out[n.attempt_id] = n.key
    return out


def attack_roots(nodes: Sequence[StoredNode]) -> dict[int, int]:
    """attempt id -> the attempt id standing for its attack: the conversation stored
    under the attack's key (its root), else the attack's first stored one (a failed root
    is not written, so its descendants may stand without it)."""
    keys = attack_keys(nodes)
    by_key = {n.key: n.attempt_id for n in nodes if n.key}
    first: dict[tuple[str | None, str | None], int] = {}
    for n in sorted(nodes, key=lambda n: n.attempt_id):
        first.setdefault((n.target, keys[n.attempt_id]), n.attempt_id)
    out = {}
    for n in nodes:
        key = keys[n.attempt_id]
        root = by_key.get(key) if key is not None else None
        out[n.attempt_id] = root if root is not None else first[(n.target, key)]
    return out


def attack_strategy(members: Iterable[StoredNode]) -> str:
    """The strategy an attack's conversations record (the first that says), else
    :data:`UNRECORDED`."""
    for node in members:
        if node.strategy:
            return node.strategy
    return UNRECORDED


def stored_nodes(session: Session, target_ids: Sequence[int] | None = None) -> list[StoredNode]:
    """Every automated attempt (of these targets) as a :class:`StoredNode`, in id order."""
    from redline.store.models import Target

    query = (
        select(Attempt.id, Target.name, Attempt.content_hash, Attempt.extra)
        .outerjoin(Target, Target.id == Attempt.target_id)
        .where(Attempt.origin == Origin.AUTOMATED)
        .order_by(Attempt.id)
    )
    if target_ids is not None:
        query = query.where(Attempt.target_id.in_(list(target_ids)))
    return [StoredNode.of(*row) for row in session.execute(query).all()]


@dataclass
class TreeNode:
    """One conversation of an attack, for the admin view: what to show and link."""

    attempt_id: int
    node: str
    parent: str | None
    score: float | None
    turns: int
    opener: str
    min_harmlessness: float | None
    reached: bool | None = None
    current: bool = False
    children: list[TreeNode] = field(default_factory=list)


@dataclass
class AttackTree:
    """An automated attack's stored conversations as a tree (``roots``: nodes whose
    parent is not stored: the attack's first node, and the first step of every other
    stream of a search that runs several), with the outcome its root records."""

    strategy: str
    size: int
    roots: list[TreeNode]
    judge: str | None = None
    outcome: dict[str, Any] | None = None


def attack_tree(session: Session, attempt_id: int) -> AttackTree | None:
    """The tree of the attack ``attempt_id`` is part of, or None when it is not an
    automated attempt or records no lineage (a zero-shot conversation is its own
    attack, with nothing to draw)."""
    row = session.execute(
        select(Attempt.origin, Attempt.target_id, Attempt.content_hash, Attempt.extra).where(
            Attempt.id == attempt_id
        )
    ).first()
    if row is None or row.origin != Origin.AUTOMATED:
        return None
    me = StoredNode.of(attempt_id, None, row.content_hash, row.extra)
    if me.strategy is None and not me.node:
        return None
    targets = [row.target_id] if row.target_id is not None else None
    nodes = stored_nodes(session, targets)
    roots = attack_roots(nodes)
    mine = roots.get(attempt_id, attempt_id)
    members = [n for n in nodes if roots[n.attempt_id] == mine]
    return _tree(session, members, attempt_id, root=mine)


def _tree(session: Session, members: list[StoredNode], current: int, root: int) -> AttackTree:
    ids = [n.attempt_id for n in members]
    turns = dict(
        session.execute(
            select(Turn.attempt_id, func.count())
            .where(Turn.attempt_id.in_(ids))
            .group_by(Turn.attempt_id)
        ).all()
    )
    openers = dict(
        session.execute(
            select(Turn.attempt_id, Turn.human).where(Turn.attempt_id.in_(ids), Turn.index == 0)
        ).all()
    )
    harm: dict[int, float | None] = {
        attempt: value
        for attempt, value in session.execute(
            select(Attempt.id, Attempt.min_harmlessness).where(Attempt.id.in_(ids))
        ).all()
    }
    items = [
        TreeNode(
            attempt_id=n.attempt_id,
            node=n.node,
            parent=n.parent,
            score=n.score,
            turns=int(turns.get(n.attempt_id, 0)),
            opener=(openers.get(n.attempt_id) or "")[:PREVIEW_CHARS],
            min_harmlessness=harm.get(n.attempt_id),
            reached=n.reached,
            current=n.attempt_id == current,
        )
        for n in members
    ]
    by_name: dict[str, TreeNode] = {}
    for item in items:
        by_name.setdefault(item.node, item)
    tops: list[TreeNode] = []
    for item in items:
        parent = _parent(item, by_name)
        (tops if parent is None else parent.children).append(item)
    judge = next((n.judge for n in members if n.judge), None)
    outcome = next((n.outcome for n in members if n.attempt_id == root), None)
    return AttackTree(attack_strategy(members), len(members), tops, judge, outcome)


def _parent(item: TreeNode, by_name: dict[str, TreeNode]) -> TreeNode | None:
    """``item``'s stored parent, or None when it has none or its ancestry loops back to
    it (lineage is data: a loop must not hide nodes or recurse forever)."""
    parent = by_name.get(item.parent) if item.parent is not None else None
    seen = {id(item)}
    ancestor = parent
    while ancestor is not None:
        if id(ancestor) in seen:
            return None
        seen.add(id(ancestor))
        ancestor = by_name.get(ancestor.parent) if ancestor.parent is not None else None
    return parent
