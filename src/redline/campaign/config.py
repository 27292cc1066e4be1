"""Campaign settings: which targets people talk to, with which weights, and task size.

Read from the ``[campaign]`` table of redline.toml, for example::

    [campaign]
    targets = ["smollm2-135m/plain", "smollm2-135m/hhh", "smollm2-135m/rs16"]
    weights = { "smollm2-135m/rs16" = 10 }
    task_size = 5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from redline.config import Settings
from redline.errors import ConfigError
from redline.targets.base import TargetInfo

DEFAULT_TASK_SIZE = 5
# Gaps between two interactions longer than this are a break, not work.
DEFAULT_IDLE_CAP_SECONDS = 300.0


@dataclass(frozen=True)
class CampaignConfig:
    """The target pool (with weights), the task size and the idle cap for active time."""

    targets: tuple[TargetInfo, ...]
    weights: dict[str, float] = field(default_factory=dict)
    task_size: int = DEFAULT_TASK_SIZE
    idle_cap_seconds: float = DEFAULT_IDLE_CAP_SECONDS

    def __post_init__(self) -> None:
        if not self.targets:
            raise ConfigError("the campaign needs at least one target")
        names = {t.name for t in self.targets}
        unknown = sorted(set(self.weights) - names)
        if unknown:
            raise ConfigError(
                f"[campaign] weights name unknown targets {unknown}; known: {sorted(names)}"
            )
        if any(w < 0 for w in self.weights.values()):
            raise ConfigError("[campaign] weights must be >= 0")
        if self.task_size < 1:
            raise ConfigError("[campaign] task_size must be at least 1")

    def weight(self, name: str) -> float:
        return float(self.weights.get(name, 1.0))

    def weight_map(self) -> dict[str, float]:
        return {t.name: self.weight(t.name) for t in self.targets}

    def info(self, name: str) -> TargetInfo:
        for target in self.targets:
            if target.name == name:
                return target
        raise ConfigError(f"target {name!r} is not in this campaign")


def campaign_config(
    settings: Settings, available: Sequence[TargetInfo], names: Sequence[str] | None = None
) -> CampaignConfig:
    """Build the campaign from redline.toml's [campaign] table over the available targets.

    ``names`` (e.g. from a CLI flag) wins over the file; without either, every available
    target takes part with weight 1.
    """
    table = settings.table("campaign")
    by_name = {t.name: t for t in available}
    wanted = list(names or table.texts("targets") or by_name)
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise ConfigError(
            f"campaign targets {missing} are not available; available: {sorted(by_name)}"
        )
    given = table.table("weights")
    weights = {str(k): given.number(k, 1.0) for k in given.values}
    typos = sorted(set(weights) - set(by_name))
    if typos:
        raise ConfigError(
            f"[campaign] weights name unknown targets {typos}; available: {sorted(by_name)}"
        )
    weights = {k: v for k, v in weights.items() if k in wanted}
    size = table.whole("task_size", DEFAULT_TASK_SIZE)
    cap = table.number("idle_cap_seconds", DEFAULT_IDLE_CAP_SECONDS)
    return CampaignConfig(
        targets=tuple(by_name[n] for n in wanted),
        weights=weights,
        task_size=size,
        idle_cap_seconds=cap,
    )
