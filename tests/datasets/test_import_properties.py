"""Issue 14, property tests (Hypothesis) on SQLite and PostgreSQL.

1. Round trip: any storable Unicode (emoji, right-to-left text, combining marks, line
   and paragraph separators, control characters) in any field, unknown fields included,
   goes through every export format and comes back equal, byte for byte where the layout
   is fixed, and re-imports as "already stored".
2. Fuzz: generated malformed and adversarial records make ``redline import`` either
   import cleanly (exit 0) or refuse with one message (exit 2), never a traceback, and a
   refusal leaves the store exactly as it was.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from typer.testing import CliRunner

from redline.cli import app
from redline.datasets import import_file
from redline.datasets.exporter import (
    ExportFormat,
    comparison_records,
    red_team_records,
    write_records,
)
from redline.datasets.hhrlhf import MODEL_TYPES, RED_TEAM_KEYS, TD_SCORE_KEY_FIXED
from redline.store import Attempt, Candidate, Person, Store, Target, Turn
from row_counts import row_counts

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = json.loads((TEST_DATA / "red_team_attempts.sample.json").read_text())
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
TRICKY = (
    "\u2028\u2029\x85\r\n\x0b\x0c\x1c\x1d\x1e\ufeff\u200f\u202e\u0301"  # separators, RTL
    '\U0001f600\U0001f469\u200d\U0001f52c"\\/'  # emoji, a ZWJ sequence, JSON escapes
)

# Storable text: every code point except lone surrogates and NUL (refused by design).
storable = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        st.sampled_from(TRICKY),
    ),
    max_size=40,
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    storable,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(storable, inner, max_size=3)
    ),
    max_leaves=8,
)
KNOWN = {*RED_TEAM_KEYS, TD_SCORE_KEY_FIXED, "chosen", "rejected"}
extras = st.dictionaries(storable.filter(lambda k: k not in KNOWN), json_values, max_size=3)
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def transcripts(draw: st.DrawFn) -> str:
    turns = draw(st.lists(st.tuples(storable, storable), min_size=1, max_size=3))
    return "".join(f"\n\nHuman: {h}\n\nAssistant: {a}" for h, a in turns)


@st.composite
def red_team_records_strategy(draw: st.DrawFn) -> dict[str, Any]:
    member = draw(st.integers(0, 2**63 - 1))
    record = {
        "transcript": draw(transcripts()),
        "min_harmlessness_score_transcript": draw(st.none() | finite),
        "num_params": draw(st.sampled_from(["2.7B", "13B", "52B", "135M"])),
        "model_type": draw(st.sampled_from(MODEL_TYPES)),
        "rating": draw(st.floats(0, 4)),
        "task_description": draw(storable),
        "task_descripton_harmlessness_score": draw(st.none() | finite),
        "red_team_member_id": member,
        "is_upworker": member % 2 == 1,  # one pool per person
        "tags": draw(st.none() | st.lists(storable, max_size=3)),
    }
    record.update(draw(extras))
    return record


@st.composite
def pairs(draw: st.DrawFn) -> dict[str, Any]:
    context = draw(transcripts())
    human = draw(storable)
    a, b = draw(st.lists(storable, min_size=2, max_size=2, unique=True))
    pair: dict[str, Any] = {
        "chosen": f"{context}\n\nHuman: {human}\n\nAssistant: {a}",
        "rejected": f"{context}\n\nHuman: {human}\n\nAssistant: {b}",
    }
    pair.update(draw(extras))
    return pair


def wipe(store: Store) -> None:
    with store.transaction() as session:
        for model in (Candidate, Turn, Attempt, Person, Target):
            session.execute(delete(model))


def dumps_lines(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items)


OUTPUTS = [
    ("out.jsonl", ExportFormat.JSONL),
    ("out.jsonl.gz", ExportFormat.JSONL),
    ("out.json", ExportFormat.JSON_ARRAY),
    ("out.json.gz", ExportFormat.JSON_ARRAY),
]


def read_back(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.name.endswith(".gz") else raw


def check_round_trip(store: Store, tmp: Path, items: list[dict[str, Any]], kind: str) -> None:
    wipe(store)
    # unique records only: a repeat is stored once, so it could not come back twice
    unique = list({json.dumps(r, sort_keys=True): r for r in items}.values())
    source = tmp / "in.jsonl"
    source.write_text(dumps_lines(unique), encoding="utf-8")
    report = import_file(store, source)
    assert report.added == len(unique), report
    for name, fmt in OUTPUTS:
        out = tmp / name
        with store.session() as session:
            rows = red_team_records(session) if kind == "red-team" else comparison_records(session)
            assert write_records(rows, out, fmt) == len(unique)
        expected = (
            dumps_lines(unique)
            if fmt is ExportFormat.JSONL
            else json.dumps(unique, indent=2, ensure_ascii=False)
        )
        assert read_back(out) == expected.encode("utf-8"), name
        again = import_file(store, out)
        assert (again.added, again.already_stored) == (0, len(unique)), name


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(items=st.lists(red_team_records_strategy(), min_size=1, max_size=3))
def test_any_storable_red_team_record_round_trips(
    store: Store, tmp_path: Path, items: list[dict[str, Any]]
) -> None:
    check_round_trip(store, tmp_path, items, "red-team")


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURE_OK)
@given(items=st.lists(pairs(), min_size=1, max_size=3))
def test_any_storable_pair_round_trips(
    store: Store, tmp_path: Path, items: list[dict[str, Any]]
) -> None:
    check_round_trip(store, tmp_path, items, "comparisons")


# --- fuzz: malformed and adversarial input ----------------------------------------------

ADVERSARIAL_TEXT = st.sampled_from(
    [
        "\\u0000",
        "\\ud800",
        "\\udfff",
        "\\ud83d\\ude00",  # a proper pair: fine
        "\u2028",
        "x" * 5000,
        "\n\nHuman:",
        "\n\nAssistant:",
        "",
    ]
)
adversarial_values = st.one_of(
    json_values,
    st.integers(-(10**40), 10**40),
    st.sampled_from([1e308, -1e308, 0.0, -0.0, 4.0000001, "0B", "52B", "1.5T", "NaN"]),
    ADVERSARIAL_TEXT,
)


@st.composite
def mutated_lines(draw: st.DrawFn) -> str:
    """One line of a JSON-lines file: a sample record, then damaged."""
    record: dict[str, Any] = dict(draw(st.sampled_from(SAMPLE)))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["set", "delete", "add", "pair"]))
        key = draw(st.sampled_from([*RED_TEAM_KEYS, "chosen", "rejected"]))
        if action == "set":
            record[key] = draw(adversarial_values)
        elif action == "delete":
            record.pop(key, None)
        elif action == "add":
            record[draw(storable)] = draw(adversarial_values)
        else:
            record = {"chosen": record.get("transcript"), "rejected": draw(transcripts())}
    line = json.dumps(record)  # ensure_ascii: lone surrogates become \udxxx escapes
    for raw in draw(st.lists(ADVERSARIAL_TEXT, max_size=2)):
        # splice raw escapes into a string value (may well break the JSON: also wanted)
        at = line.find('": "')
        if at >= 0:
            line = line[: at + 4] + raw + line[at + 4 :]
    if draw(st.booleans()):
        return line
    return draw(
        st.sampled_from(
            [
                line[: len(line) // 2],
                "[" * 50_000 + "]" * 50_000,
                "12345",
                "null",
                line + " trailing",
                "{" + line,
            ]
        )
    )


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    lines=st.lists(mutated_lines(), min_size=1, max_size=4),
    layout=st.sampled_from(["jsonl", "array", "jsonl.gz"]),
    flags=st.sampled_from([[], ["--skip-invalid"], ["--dry-run"]]),
)
def test_fuzzed_files_import_cleanly_or_are_refused_cleanly(
    db_url: str, tmp_path: Path, lines: list[str], layout: str, flags: list[str]
) -> None:
    path = tmp_path / f"fuzz.{layout}"
    text = "[" + ",\n".join(lines) + "]" if layout == "array" else "\n".join(lines) + "\n"
    data = text.encode("utf-8", "surrogatepass")
    path.write_bytes(gzip.compress(data) if layout.endswith(".gz") else data)
    before = row_counts(db_url)
    result = CliRunner().invoke(app, ["--db-url", db_url, "import", *flags, str(path)])
    assert result.exit_code in (0, 2), (result.output, result.exception)
    event(f"exit {result.exit_code}")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    if result.exit_code == 2 or "--dry-run" in flags:
        assert row_counts(db_url) == before, result.output
    if result.exit_code == 2:
        message = " ".join(result.output.split())
        assert message.startswith("error:") and path.name in message
        assert len(message) < 1000  # long values are cut, not echoed
