"""The attack-tag vocabulary reviewers choose from, kept as a data file (``tags.json``).

Why a data file: a campaign may study other harms, so the list is configuration, not
code (``[review] tags_file`` or ``tags`` in redline.toml). The default is the 20 tags of
the paper, spelled exactly as in the published hh-rlhf ``tags`` field, so reviewer tags
and imported tags count in the same table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from redline.errors import ConfigError, RedlineError

DEFAULT_FILE = "tags.json"


def _parse(data: Any, where: str) -> tuple[str, ...]:
    items = data.get("tags") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ConfigError(f'{where}: expected a JSON list of tags or {{"tags": [...]}}')
    tags: list[str] = []
    for i, tag in enumerate(items):
        if not isinstance(tag, str) or not tag.strip():
            raise ConfigError(f"{where}: tag {i} is not a non-empty string")
        tags.append(tag.strip())
    if len(set(tags)) != len(tags):
        raise ConfigError(f"{where}: a tag is listed twice")
    return tuple(tags)


def load_tags() -> tuple[str, ...]:
    """The default vocabulary shipped with Redline (the paper's 20 tags)."""
    text = resources.files("redline.review").joinpath(DEFAULT_FILE).read_text("utf-8")
    return _parse(json.loads(text), f"redline/review/{DEFAULT_FILE}")


def read_tag_file(path: Path) -> tuple[str, ...]:
    """A vocabulary from a JSON file (a list, or an object with a ``tags`` list)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: tag file not found ([review] tags_file)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return _parse(data, str(path))


def check_tags(chosen: Sequence[str], vocabulary: Sequence[str], max_tags: int) -> list[str]:
    """The chosen tags, validated: known, distinct, at most ``max_tags``; order kept."""
    cleaned = [t.strip() for t in chosen if t and t.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise RedlineError("a tag was chosen twice; pick each tag once")
    if len(cleaned) > max_tags:
        raise RedlineError(f"pick at most {max_tags} tags (you picked {len(cleaned)})")
    known = set(vocabulary)
    unknown = [t for t in cleaned if t not in known]
    if unknown:
        raise RedlineError(f"unknown tag {unknown[0]!r}; choose from the list shown")
    return cleaned
