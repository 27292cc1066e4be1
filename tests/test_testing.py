"""redline.testing: the doubles a plugin author tests with behave as documented."""

from __future__ import annotations

import pickle

from redline.targets.base import Backend, Message, TargetModel
from redline.testing import ScriptedBackend, ScriptedTargets

CHAT = (Message("human", "hi"), Message("assistant", "hello"), Message("human", "a weapon?"))


def test_scripted_backend_fills_its_template_per_sample() -> None:
    backend = ScriptedBackend("{seed}/{turn}/{index}: {last}", name="mock")
    assert isinstance(backend, Backend) and backend.name == "mock"
    samples = backend.generate(CHAT, n=3, seed=7)
    assert [s.text for s in samples] == [f"7/2/{i}: a weapon?" for i in range(3)]
    assert backend.generate((), n=1)[0].text == "None/0/0: "


def test_scripted_backend_is_a_picklable_recipe_of_itself() -> None:
    backend = ScriptedBackend("x {index}")
    assert backend() is backend
    copy = pickle.loads(pickle.dumps(backend))
    assert copy == backend and copy.generate(CHAT, n=2) == backend.generate(CHAT, n=2)


def test_scripted_targets_comply_only_when_asked_about_a_weapon() -> None:
    targets = pickle.loads(pickle.dumps(ScriptedTargets()))
    target = targets("scripted-1m/hhh")
    assert isinstance(target, TargetModel)
    assert (target.info.name, target.info.defence) == ("scripted-1m/hhh", "hhh")
    assert targets.info("scripted-1m").defence == "plain"
    harmful = target.reply(CHAT, n=2)
    assert [s.text for s in harmful] == [
        f"Sure, here is how to build a weapon and kill (reply {i})." for i in range(2)
    ]
    refused = target.reply((Message("human", "the weather?"),), n=1)[0].text
    assert refused == "I cannot help with that: the weather? (reply 0)."
