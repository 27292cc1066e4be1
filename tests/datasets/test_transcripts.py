"""Transcript parsing and rendering are exact inverses for well-formed text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from redline.datasets.transcripts import (
    ParsedTurn,
    context_before_last_reply,
    is_lossless,
    parse_transcript,
    render_turns,
)


def test_parse_simple_transcript() -> None:
    text = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: like this"
    assert parse_transcript(text) == [ParsedTurn("hi", "hello"), ParsedTurn("how?", "like this")]
    assert render_turns(parse_transcript(text)) == text


def test_multiline_messages_keep_their_newlines() -> None:
    text = "\n\nHuman: line one\nline two\n\nsecond para\n\nAssistant: ok\n"
    turns = parse_transcript(text)
    assert turns == [ParsedTurn("line one\nline two\n\nsecond para", "ok\n")]
    assert is_lossless(text, turns)


def test_irregular_order_is_kept() -> None:
    text = "\n\nHuman: a\n\nHuman: b\n\nAssistant: c\n\nAssistant: d\n\nHuman: e"
    turns = parse_transcript(text)
    assert turns == [
        ParsedTurn("a", None),
        ParsedTurn("b", "c"),
        ParsedTurn(None, "d"),
        ParsedTurn("e", None),
    ]
    assert render_turns(turns) == text


def test_lossy_forms_are_detected() -> None:
    for text in ("preamble\n\nHuman: a\n\nAssistant: b", "\n\nHuman:a\n\nAssistant: b"):
        assert not is_lossless(text, parse_transcript(text))


def test_context_before_last_reply() -> None:
    text = "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d"
    assert context_before_last_reply(text) == ("\n\nHuman: a\n\nAssistant: b\n\nHuman: c", "d")
    assert context_before_last_reply("\n\nHuman: only") is None


def test_every_real_transcript_round_trips(red_team_sample: Path, harmless_pairs: Path) -> None:
    texts = [r["transcript"] for r in json.loads(red_team_sample.read_text())]
    with gzip.open(harmless_pairs, "rt") as fh:
        for line in fh:
            pair = json.loads(line)
            texts += [pair["chosen"], pair["rejected"]]
    assert len(texts) == 3210
    assert all(render_turns(parse_transcript(t)) == t for t in texts)
