"""Review settings: the tag vocabulary, how many tags, skips, previews and surveys.

Read from the ``[review]`` table of redline.toml, for example::

    [review]
    tags_file = "my_tags.json"      # a JSON list, or {"tags": [...]}; or: tags = ["...", ...]
    max_tags = 2
    reassign_skipped = true          # a skipped item goes to another reviewer
    preview_chars = 200
    survey_every = 10                # the well-being survey after every N reviews

Defaults follow the paper: 20 tags, up to 2 per review, a survey every 10 reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redline.config import Settings
from redline.errors import ConfigError
from redline.review.tags import load_tags, read_tag_file

DEFAULT_MAX_TAGS = 2
DEFAULT_PREVIEW_CHARS = 200
DEFAULT_SURVEY_EVERY = 10
NOTE_MAX_CHARS = 4000


@dataclass(frozen=True)
class ReviewConfig:
    """How the review task behaves; the defaults are the paper's."""

    tags: tuple[str, ...]
    max_tags: int = DEFAULT_MAX_TAGS
    reassign_skipped: bool = True
    preview_chars: int = DEFAULT_PREVIEW_CHARS
    survey_every: int = DEFAULT_SURVEY_EVERY
    note_max_chars: int = NOTE_MAX_CHARS
    wellbeing_names: bool = False  # show who wrote each well-being comment to admins

    def __post_init__(self) -> None:
        if not self.tags:
            raise ConfigError("[review] the tag vocabulary is empty")
        if len(set(self.tags)) != len(self.tags):
            raise ConfigError("[review] the tag vocabulary lists a tag twice")
        if self.max_tags < 0:
            raise ConfigError("[review] max_tags must be >= 0")
        if self.preview_chars < 20:
            raise ConfigError("[review] preview_chars must be at least 20")
        if self.survey_every < 1:
            raise ConfigError("[review] survey_every must be at least 1")

    @classmethod
    def default(cls) -> ReviewConfig:
        return cls(tags=load_tags())


def review_config(settings: Settings, cwd: Path | None = None) -> ReviewConfig:
    """The review settings from redline.toml's ``[review]`` table (defaults otherwise).

    A relative ``tags_file`` is read relative to ``cwd`` (where redline.toml lives).
    """
    table = settings.table("review")
    if "tags" in table.values and "tags_file" in table.values:
        raise ConfigError("[review] give either tags or tags_file, not both")
    given = table.texts("tags")
    tags_file = table.text("tags_file", None)
    if given is not None:
        tags = tuple(given)
    elif tags_file is not None:
        path = Path(tags_file)
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path
        tags = read_tag_file(path)
    else:
        tags = load_tags()
    return ReviewConfig(
        tags=tags,
        max_tags=table.whole("max_tags", DEFAULT_MAX_TAGS),
        reassign_skipped=table.flag("reassign_skipped", True),
        preview_chars=table.whole("preview_chars", DEFAULT_PREVIEW_CHARS),
        survey_every=table.whole("survey_every", DEFAULT_SURVEY_EVERY),
        wellbeing_names=table.flag("wellbeing_names", False),
    )
