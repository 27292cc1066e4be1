"""Contracts over every registered backend and defence, and a backend plus a defence added
from outside the package, used by a ``[[targets]]`` entry, answering a red teamer.

Why: "adding a backend or a defence is one module" holds only if what the registries
load declares everything the target registry reads, and if a third party's module is
found through its distribution's entry points exactly as a built-in one is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.distributions import installed_distribution

from redline.config import load_settings
from redline.errors import ConfigError
from redline.targets.backends.base import BackendConfig, Option
from redline.targets.backends.registry import BACKENDS
from redline.targets.base import Backend, Message, TargetModel
from redline.targets.defences import DEFENCES, parse_defence
from redline.targets.registry import available_targets, build_target, clear_cache
from redline.targets.scorers import SCORERS
from redline.vocabulary import MODEL_TYPES

#: A table each built-in backend accepts (fields beyond name and defence).
MINIMAL = {
    "openai": {"base_url": "http://127.0.0.1:9/v1", "model": "served-model"},
    "llamacpp": {"model": "smollm2-135m"},
}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


# -- contracts -------------------------------------------------------------------------


@pytest.mark.parametrize("name", DEFENCES.names())
def test_every_defence_declares_what_the_registry_reads(name: str) -> None:
    defence = DEFENCES.load(name)
    assert defence.name == name
    assert defence.model_type in MODEL_TYPES, "a new label belongs in redline.vocabulary"
    assert defence.usage.strip() and defence.default_max_tokens > 0
    assert all(isinstance(kind, type) for kind in defence.options.values())
    if defence.needs_scorer:
        assert defence.scorer in SCORERS
    spec = parse_defence(name)  # its own name is one of the labels it parses
    assert (spec.kind, spec.model_type, spec.needs_scorer) == (
        name,
        defence.model_type,
        defence.needs_scorer,
    )
    assert re.fullmatch(defence.pattern, spec.name)


@pytest.mark.parametrize("name", BACKENDS.names())
def test_every_backend_declares_typed_options_and_configures(name: str) -> None:
    plugin = BACKENDS.load(name)
    assert plugin.plugin_name == name
    assert "model" in plugin.options
    for option in plugin.options.values():
        assert isinstance(option, Option) and isinstance(option.kind, type)
        assert option.default is None or isinstance(option.default, option.kind)
    fields = MINIMAL.get(name)
    if fields is None:
        pytest.skip(f"no minimal table known for backend {name!r}")
    config = plugin.configure(fields, Path.cwd())
    assert isinstance(config, BackendConfig) and config.model
    assert set(config.options) <= set(plugin.options) | {"lora_path"}


def test_the_openai_backend_builds_without_a_server(tmp_path: Path) -> None:
    """Building talks to nothing (weights-free), and what is built is a full Backend."""
    plugin = BACKENDS.load("openai")
    config = plugin.configure(MINIMAL["openai"], tmp_path)
    backend = plugin.build(config.model, config.options, load_settings(cwd=tmp_path))
    assert isinstance(backend, Backend)
    assert backend.name == "openai:served-model" and backend.supports_embeddings is False


def test_a_broken_defence_plugin_is_refused_with_its_name() -> None:
    class NoLabel:
        name = "nolabel"

    DEFENCES.register("nolabel", NoLabel)
    try:
        with pytest.raises(ConfigError, match=r"'nolabel'.*not a Defence subclass"):
            DEFENCES.load("nolabel")
    finally:
        DEFENCES.unregister("nolabel")


# -- a backend and a defence from another package ----------------------------------------

ECHO = """
    from redline.targets.backends.base import BackendPlugin, Option
    from redline.targets.base import Sample


    class EchoBackend(BackendPlugin):
        plugin_name = "echo"
        options = {
            "model": Option(str, required=True),
            "prefix": Option(str, default="echo"),
        }
        supports_embeddings = False

        def __init__(self, model, prefix):
            self.name = "echo:" + model
            self.prefix = prefix

        @classmethod
        def build(cls, model, options, settings):
            return cls(model, options["prefix"])

        def generate(self, conversation, n=1, max_tokens=128, temperature=0.8, seed=None,
                     *, ignore_eos=False, embed=False):
            last = conversation[-1].text
            return [Sample(text=f"{self.prefix} {i}: {last}") for i in range(n)]
"""

SHOUT = """
    from redline.targets.defences import Defence
    from redline.vocabulary import PLAIN_LM


    class ShoutDefence(Defence):
        name = "shout"
        pattern = "shout"
        usage = "shout"
        model_type = PLAIN_LM

        def __init__(self, info, backend, max_tokens):
            self.info, self.backend, self.max_tokens = info, backend, max_tokens

        @classmethod
        def build(cls, spec, parts):
            return cls(parts.info, parts.backend, parts.max_tokens)

        def reply(self, conversation, n=2, seed=None):
            samples = self.backend.generate(conversation, n=n, max_tokens=self.max_tokens)
            for sample in samples:
                sample.text = sample.text.upper()
            return samples
"""

TARGETS = """
[[targets]]
name = "parrot-1m/shout"
backend = "echo"
model = "parrot"
prefix = "squawk"
"""


def test_a_target_from_a_third_party_backend_and_defence_replies(tmp_path: Path) -> None:
    entry_points: dict[str, Any] = {
        "redline.backends": {"echo": "acme_targets.echo:EchoBackend"},
        "redline.defences": {"shout": "acme_targets.shout:ShoutDefence"},
    }
    targets_file = tmp_path / "targets.toml"
    targets_file.write_text(TARGETS)
    settings = load_settings(cwd=tmp_path, data_dir=tmp_path / "data", targets_file=targets_file)
    with installed_distribution(
        tmp_path / "site",
        "acme-targets",
        {"acme_targets.echo": ECHO, "acme_targets.shout": SHOUT},
        entry_points,
    ):
        info = next(t for t in available_targets(settings) if t.name == "parrot-1m/shout")
        assert (info.model_type, info.defence, info.num_params) == ("plain lm", "shout", 10**6)
        assert info.config["backend"] == "echo" and info.config["prefix"] == "squawk"
        target = build_target("parrot-1m/shout", settings)
        assert isinstance(target, TargetModel)
        replies = target.reply([Message("human", "hello there")], n=2)
        assert [r.text for r in replies] == ["SQUAWK 0: HELLO THERE", "SQUAWK 1: HELLO THERE"]
        # The plugin's field is its own: another backend's table may not use it.
        targets_file.write_text(
            '[[targets]]\nname = "x-1m/shout"\nbackend = "llamacpp"\nmodel = "smollm2-135m"\n'
            'prefix = "p"\n'
        )
        with pytest.raises(ConfigError, match="field 'prefix': only used by backend 'echo'"):
            available_targets(settings)
    assert "echo" not in BACKENDS.names() and "shout" not in DEFENCES.names()
