"""The tag vocabulary (a data file, the paper's 20 tags) and the [review] settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redline.config import load_settings
from redline.errors import ConfigError, RedlineError
from redline.review import ReviewConfig, check_tags, load_tags, review_config


def test_default_vocabulary_is_the_published_one(reference_stats: dict) -> None:
    reference = reference_stats
    assert list(load_tags()) == reference["tag_vocabulary"]
    assert len(load_tags()) == reference["paper"]["review_sample"]["tag_vocabulary_size"]
    config = ReviewConfig.default()
    assert config.max_tags == reference["paper"]["review_sample"]["tags_per_reviewer_max"]
    assert (config.survey_every, config.preview_chars, config.reassign_skipped) == (10, 200, True)


def _settings(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    (tmp_path / "redline.toml").write_text(toml)
    return load_settings(cwd=tmp_path)


def test_review_settings_from_redline_toml(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        '[review]\ntags = ["Cyber", "Bio"]\nmax_tags = 1\nreassign_skipped = false\n'
        "preview_chars = 120\nsurvey_every = 5\n",
    )
    config = review_config(settings, cwd=tmp_path)
    assert config.tags == ("Cyber", "Bio") and config.max_tags == 1
    assert not config.reassign_skipped and config.preview_chars == 120
    assert config.survey_every == 5
    (tmp_path / "tags.json").write_text(json.dumps({"tags": ["A", "B", "C"]}))
    from_file = review_config(_settings(tmp_path, '[review]\ntags_file = "tags.json"\n'), tmp_path)
    assert from_file.tags == ("A", "B", "C")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[review]\ntags = ["A", "A"]\n', "twice"),
        ("[review]\ntags = []\n", "empty"),
        ('[review]\ntags_file = "missing.json"\n', "not found"),
        ('[review]\ntags = ["A"]\ntags_file = "x.json"\n', "not both"),
        ('[review]\nmax_tags = "two"\n', "whole number"),
        ("[review]\nsurvey_every = 0\n", "at least 1"),
        ('[review]\nreassign_skipped = "yes"\n', "true or false"),
        ("[review]\nmax_tags = true\n", r"\[review\] max_tags in .*redline\.toml must be a whole"),
        ("[review]\npreview_chars = 200.0\n", "preview_chars .* whole number"),
        ("[review]\nwellbeing_names = 1\n", "wellbeing_names .* true or false"),
        ("[review]\ntags_file = 3\n", "tags_file .* must be a string"),
        ('[review]\ntags = "Cyber"\n', "tags .* list of non-empty strings"),
    ],
)
def test_bad_review_settings_say_what_to_fix(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        review_config(_settings(tmp_path, toml), cwd=tmp_path)


def test_bad_tag_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "tags.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"tags\.json: not valid JSON"):
        review_config(_settings(tmp_path, '[review]\ntags_file = "tags.json"\n'), cwd=tmp_path)


def test_check_tags() -> None:
    vocabulary = load_tags()
    assert check_tags([" Theft ", ""], vocabulary, 2) == ["Theft"]
    assert check_tags([], vocabulary, 2) == []
    with pytest.raises(RedlineError, match="unknown tag 'theft'"):
        check_tags(["theft"], vocabulary, 2)
