"""A campaign over scripted targets: the flow is the point here, not the model."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from redline.campaign import CampaignConfig, CampaignService
from redline.store import Store
from redline.store.models import Role
from redline.store.writes import create_person
from redline.targets.base import TargetInfo
from redline.targets.scripted import ScriptedTarget


def scripted_info(name: str) -> TargetInfo:
    return TargetInfo(
        name=name,
        family="scripted",
        size_label="0M",
        num_params=0,
        model_type="plain lm",
        defence=name.split("/")[-1],
    )


class Targets:
    """A resolver over named scripted targets that counts how often each was built."""

    def __init__(self, names: list[str]) -> None:
        self.models = {n: ScriptedTarget(scripted_info(n)) for n in names}
        self.infos = tuple(m.info for m in self.models.values())

    def __call__(self, name: str) -> ScriptedTarget:
        return self.models[name]


@pytest.fixture
def targets() -> Targets:
    return Targets(["scripted-0m/plain", "scripted-0m/hhh"])


@pytest.fixture
def make_service(store: Store, targets: Targets) -> Callable[..., CampaignService]:
    def make(**config: object) -> CampaignService:
        cfg = CampaignConfig(targets=targets.infos, **config)  # type: ignore[arg-type]
        return CampaignService(store, cfg, targets, rng=random.Random(7))

    return make


@pytest.fixture
def service(make_service: Callable[..., CampaignService]) -> CampaignService:
    return make_service()


@pytest.fixture
def person_id(store: Store) -> int:
    with store.transaction() as session:
        return create_person(session, "alice", Role.REDTEAMER, "staff").id
