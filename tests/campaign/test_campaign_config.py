"""The [campaign] table of redline.toml: which targets, with which weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.campaign import campaign_config
from redline.config import load_settings
from redline.errors import ConfigError
from redline.targets.base import TargetInfo


def info(name: str) -> TargetInfo:
    return TargetInfo(name, "m", "1M", 10**6, "plain lm", name.split("/")[1])


AVAILABLE = [info("m-1m/plain"), info("m-1m/hhh"), info("m-1m/rs16")]


def settings_with(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    (tmp_path / "redline.toml").write_text(toml)
    return load_settings(cwd=tmp_path)


def test_targets_weights_and_task_size_come_from_the_file(tmp_path: Path):
    settings = settings_with(
        tmp_path,
        '[campaign]\ntargets = ["m-1m/plain", "m-1m/rs16"]\n'
        'weights = { "m-1m/rs16" = 10 }\ntask_size = 3\n',
    )
    config = campaign_config(settings, AVAILABLE)
    assert [t.name for t in config.targets] == ["m-1m/plain", "m-1m/rs16"]
    assert config.weight_map() == {"m-1m/plain": 1.0, "m-1m/rs16": 10.0}
    assert config.task_size == 3
    # A CLI flag wins over the file.
    assert [t.name for t in campaign_config(settings, AVAILABLE, ["m-1m/hhh"]).targets] == [
        "m-1m/hhh"
    ]


def test_without_a_file_every_available_target_takes_part(tmp_path: Path):
    config = campaign_config(load_settings(cwd=tmp_path), AVAILABLE)
    assert len(config.targets) == 3 and set(config.weight_map().values()) == {1.0}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[campaign]\ntargets = ["nope-1m/plain"]\n', "not available"),
        ('[campaign]\nweights = { "ghost-1m/plain" = 2 }\n', "unknown targets"),
        ('[campaign]\nweights = { "m-1m/plain" = -1 }\n', ">= 0"),
        ("[campaign]\ntask_size = 0\n", "at least 1"),
        ('[campaign]\ntask_size = "five"\n', r"\[campaign\] task_size in .*toml must be a whole"),
        ("[campaign]\ntask_size = true\n", "task_size .* must be a whole number, not True"),
        ("[campaign]\ntask_size = 2.5\n", "task_size .* must be a whole number"),
        ("[campaign]\nidle_cap_seconds = true\n", "idle_cap_seconds .* must be a number"),
        ('[campaign]\nweights = { "m-1m/plain" = true }\n', r"\[campaign\.weights\] m-1m/plain"),
        ("[campaign]\nweights = [1, 2]\n", "weights .* must be a table"),
        ('[campaign]\ntargets = "m-1m/plain"\n', "targets .* must be a list of non-empty strings"),
        ("campaign = 3\n", "campaign .* must be a table"),
    ],
)
def test_bad_campaign_settings_are_clear_errors(tmp_path: Path, toml: str, message: str):
    with pytest.raises(ConfigError, match=message):
        campaign_config(settings_with(tmp_path, toml), AVAILABLE)
