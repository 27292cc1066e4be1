"""The one plugin mechanism: built-ins, entry points of installed distributions, run-time
registration; lazy imports; clear errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.distributions import installed_distribution

from redline.errors import ConfigError, NotFoundError
from redline.plugins import Registry, require_attributes


def _validate(name: str, obj: Any) -> Any:
    require_attributes("widget", name, obj, {"name": str})
    if obj.name != name:
        raise ConfigError(f"widget plugin {name!r} declares name {obj.name!r}")
    return obj


def _registry() -> Registry[Any]:
    return Registry("widgets", {"json": "json:JSONDecoder"}, lambda n, o: o, noun="widget")


def test_builtins_load_lazily_and_are_cached() -> None:
    registry = _registry()
    assert registry.names() == ["json"]
    import json

    assert registry.load("json") is json.JSONDecoder
    assert registry.load("json") is registry.load("json")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match=r"unknown widget 'nope'; known: json"):
        _registry().load("nope")


def test_import_failure_says_which_plugin() -> None:
    registry = _registry()
    registry.register("broken", "redline_no_such_module:Thing")
    with pytest.raises(ConfigError, match=r"widget plugin 'broken' .* cannot be imported"):
        registry.load("broken")


def test_validation_rejects_a_plugin_without_metadata() -> None:
    registry: Registry[Any] = Registry(
        "widgets", {"json": "json:JSONDecoder"}, _validate, noun="widget"
    )
    with pytest.raises(ConfigError, match="does not declare 'name'"):
        registry.load("json")


def test_entry_point_of_an_installed_distribution_is_found(tmp_path: Path) -> None:
    registry: Registry[Any] = Registry("widgets", {}, _validate, noun="widget")
    source = """
        class Sprocket:
            name = "sprocket"
    """
    with installed_distribution(
        tmp_path,
        "acme-widgets",
        {"acme_widgets.sprocket": source},
        {"redline.widgets": {"sprocket": "acme_widgets.sprocket:Sprocket"}},
    ):
        assert registry.names() == ["sprocket"]
        assert "acme_widgets.sprocket" not in sys.modules
        assert registry.load("sprocket").name == "sprocket"
    assert registry.names() == []


def test_registered_plugin_wins_and_can_be_removed() -> None:
    registry = _registry()

    class Mine:
        name = "json"

    registry.register("json", Mine)
    assert registry.load("json") is Mine
    registry.unregister("json")
    import json

    assert registry.load("json") is json.JSONDecoder
