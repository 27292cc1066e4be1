"""Which targets a campaign offers and how they are built, without loading models.

The registry gives identities (``available_targets``) cheaply; models are built on the
first turn that needs them (``build_target`` caches them per process). The scripted
target is added for demos and the load benchmark (``redline serve --scripted``).
"""

from __future__ import annotations

from collections.abc import Sequence

from redline.campaign import ResolveTarget
from redline.config import Settings
from redline.targets.base import TargetInfo, TargetModel
from redline.targets.scripted import SCRIPTED_INFO, ScriptedTarget
from redline.targets.worker import ModelWorker, WorkerTarget

_scripted = ScriptedTarget()


def default_resolver(settings: Settings) -> ResolveTarget:
    """Registry targets (built lazily, cached per process) plus the scripted one."""

    def resolve(name: str) -> TargetModel:
        if name == SCRIPTED_INFO.name:
            return _scripted
        from redline.targets.registry import build_target

        return build_target(name, settings)

    return resolve


def worker_resolver(settings: Settings, worker: ModelWorker | None = None) -> ResolveTarget:
    """Registry targets answered by a model worker process (the web platform's default):
    a crash in model code then fails one request instead of the server (see
    ``redline.targets.worker``). Names the registry does not know fail as in-process."""
    from redline.targets.registry import build_target, target_definitions

    pool = worker or ModelWorker(settings)
    infos = {name: d.info for name, d in target_definitions(settings).items()}

    def resolve(name: str) -> TargetModel:
        if name == SCRIPTED_INFO.name:
            return _scripted
        if name not in infos:
            return build_target(name, settings)  # raises the registry's NotFoundError
        return WorkerTarget(infos[name], pool)

    return resolve


def target_infos(
    settings: Settings, resolve: ResolveTarget, names: Sequence[str] | None
) -> list[TargetInfo]:
    """Identities of the registry's targets, plus any named ones only ``resolve`` knows."""
    from redline.targets.registry import available_targets

    infos = {info.name: info for info in available_targets(settings)}
    infos.setdefault(SCRIPTED_INFO.name, SCRIPTED_INFO)
    for name in names or ():
        if name not in infos:
            infos[name] = resolve(name).info
    if not names:
        infos.pop(SCRIPTED_INFO.name)
    return list(infos.values())
