"""Attack strategies by name: ``redline attack --strategy NAME``.

Why a registry: adding a strategy (PAIR, TAP, Crescendo, many-shot) must be one new
module, found without importing any other (listing names loads no model or store code),
and a third party adds theirs from their own package through the entry-point group
``redline.attack_strategies``::

    [project.entry-points."redline.attack_strategies"]
    my-strategy = "my_package.strategy:MyStrategy"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redline.plugins import Registry, check_declared

if TYPE_CHECKING:
    from redline.attack.strategies.base import Strategy

BUILTINS = {
    "zero-shot": "redline.attack.strategies.zero_shot:ZeroShot",
    "few-shot": "redline.attack.strategies.few_shot:FewShot",
    "pair": "redline.attack.strategies.pair:Pair",
    "crescendo": "redline.attack.strategies.crescendo:Crescendo",
    "many-shot": "redline.attack.strategies.many_shot:ManyShot",
    "tap": "redline.attack.strategies.tap:Tap",
}


def validate(name: str, obj: Any) -> type[Strategy]:
    """A strategy class declares its name (the registered one), a description, whether
    it needs a judge, and the three steps of the protocol."""
    check_declared(
        "attack strategy",
        name,
        obj,
        {"description": str, "needs_judge": bool},
        ("setup", "plan", "run"),
    )
    strategy: type[Strategy] = obj
    return strategy


STRATEGIES: Registry[type[Strategy]] = Registry(
    "attack_strategies", BUILTINS, validate, noun="attack strategy"
)
