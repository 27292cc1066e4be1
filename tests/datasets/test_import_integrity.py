"""Issue 14: import/export data integrity and the error contract, on SQLite and PostgreSQL.

Every bad input exits 2 with one line that says what, where and how to fix, and leaves
the store as it was; every good input comes back out byte for byte.
"""

from __future__ import annotations

import filecmp
import gzip
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from redline.cli import app
from redline.data import harmless_base_pairs
from redline.datasets.exporter import ExportFormat, write_records
from redline.store import Person, Role, Store
from redline.store.writes import create_person
from row_counts import row_counts

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = TEST_DATA / "red_team_attempts.sample.json"
SAMPLE_JSONL = TEST_DATA / "red_team_attempts.sample.jsonl"


def cli(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["--db-url", db_url, *args])


def flat(result: Any) -> str:
    """The output as one line (Rich wraps long messages)."""
    return " ".join(result.output.split())


def rejected(result: Any) -> str:
    """Assert a clean rejection: exit 2, no traceback; return the message."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return flat(result)


def records() -> list[dict[str, Any]]:
    return json.loads(SAMPLE.read_text())


def jsonl(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))
    return path


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- 1. imported and platform identities never share a key ------------------------------


def test_platform_user_first_then_import_keeps_both_apart(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    with store.transaction() as session:  # `redline chat`/`serve` made someone first
        platform = create_person(session, "cli-alice", Role.REDTEAMER, "staff")
        assert platform.member_number == 1  # the number hh-rlhf member 1 also has
    store.dispose()
    result = cli(db_url, "import", str(SAMPLE))
    assert result.exit_code == 0, result.output
    store = Store(db_url)
    with store.transaction() as session:
        later = create_person(session, "cli-bob", Role.REDTEAMER, "staff")
        people = session.scalars(select(Person).order_by(Person.id)).all()
        imported = [p for p in people if p.source == "hh-rlhf"]
        assert sorted(p.source_member_id or 0 for p in imported) == [0, 1, 2]
        numbers = [p.member_number for p in people]
        assert len(numbers) == len(set(numbers))  # one key space, no collision
        alice = session.scalars(select(Person).where(Person.handle == "cli-alice")).one()
        assert alice.attempts == []  # nothing imported was attributed to the platform user
        assert later.member_number == max(numbers)
    store.dispose()
    out = tmp_path / "out.json"
    assert (
        cli(db_url, "export", "red-team-attempts", str(out), "--format", "json-array").exit_code
        == 0
    )
    assert filecmp.cmp(out, SAMPLE, shallow=False)  # exported with the ids they came with


def test_the_same_ids_from_another_source_are_other_people(db_url: str, tmp_path: Path) -> None:
    assert cli(db_url, "import", str(SAMPLE)).exit_code == 0
    other = records()
    for r in other:
        r["task_description"] += " (acme)"
        r["is_upworker"] = not r["is_upworker"]  # would conflict if the ids were shared
    path = jsonl(tmp_path / "acme.jsonl", other)
    result = cli(db_url, "import", "--source", "acme-2024", str(path))
    assert result.exit_code == 0, result.output
    store = Store(db_url)
    with store.session() as session:
        sources = session.execute(
            select(Person.source, func.count()).group_by(Person.source).order_by(Person.source)
        ).all()
        assert [tuple(row) for row in sources] == [("acme-2024", 3), ("hh-rlhf", 3)]
    store.dispose()
    bad = rejected(cli(db_url, "import", "--source", "no spaces!", str(path)))
    assert "--source" in bad or "source" in bad


def test_migration_moves_earlier_imports_to_their_source(db_url: str) -> None:
    """A database imported by the old code (member_number = file id) upgrades in place."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from redline.store.engine import _alembic_config

    engine = create_engine(db_url)
    command.upgrade(_alembic_config(engine), "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO person (id, member_number, handle, role, pool, created_at) VALUES "
                "(1, 0, 'hh-rlhf:0', 'redteamer', 'mturk', CURRENT_TIMESTAMP), "
                "(2, 7, 'hh-rlhf:7', 'redteamer', 'upwork', CURRENT_TIMESTAMP), "
                "(3, 8, 'cli-carol', 'redteamer', 'staff', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    store = Store(db_url)  # upgrades to head
    with store.session() as session:
        rows = session.execute(
            select(
                Person.handle, Person.member_number, Person.source, Person.source_member_id
            ).order_by(Person.id)
        ).all()
    store.dispose()
    assert [tuple(r) for r in rows] == [
        ("hh-rlhf:0", 0, "hh-rlhf", 0),
        ("hh-rlhf:7", 7, "hh-rlhf", 7),
        ("cli-carol", 8, None, None),
    ]


# --- 2. JSON lines split on \n only; 3. byte-identical layouts ------------------------


def test_line_separators_inside_text_survive_jsonl(db_url: str, tmp_path: Path) -> None:
    items = records()[:2]
    items[0]["task_description"] = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\rh"
    items[1]["transcript"] = items[1]["transcript"].replace("?", "?\u2028", 1)
    path = jsonl(tmp_path / "seps.jsonl", items)
    assert cli(db_url, "import", str(path)).exit_code == 0
    out = tmp_path / "out.jsonl"
    assert cli(db_url, "export", "red-team-attempts", str(out)).exit_code == 0
    assert out.read_bytes() == path.read_bytes()
    again = cli(db_url, "import", str(out))  # Redline re-imports its own export
    assert again.exit_code == 0 and "added 0" in again.output and "2 already stored" in again.output


@pytest.mark.parametrize(
    ("source", "args"),
    [(SAMPLE, ["--format", "json-array"]), (SAMPLE_JSONL, [])],
    ids=["json-array", "jsonl"],
)
def test_published_sample_round_trips_byte_identical(
    db_url: str, tmp_path: Path, source: Path, args: list[str]
) -> None:
    assert cli(db_url, "import", str(source)).exit_code == 0
    out = tmp_path / source.name
    assert cli(db_url, "export", "red-team-attempts", str(out), *args).exit_code == 0
    subprocess.run(["cmp", str(source), str(out)], check=True)


def test_array_indent_is_a_choice(db_url: str, tmp_path: Path) -> None:
    assert cli(db_url, "import", str(SAMPLE)).exit_code == 0
    out = tmp_path / "four.json"
    args = ["export", "red-team-attempts", str(out), "--format", "json-array", "--indent", "4"]
    assert cli(db_url, *args).exit_code == 0
    assert out.read_text() == json.dumps(records(), indent=4, ensure_ascii=False)


# --- 4. unknown fields are kept ----------------------------------------------------------


def test_unknown_fields_are_kept_and_written_back(db_url: str, tmp_path: Path) -> None:
    items = records()[:3]
    items[0]["annotator_notes"] = {"lang": "en", "flags": [1, None, "x"]}
    items[2]["batch"] = 17
    path = jsonl(tmp_path / "extra.jsonl", items)
    assert cli(db_url, "import", str(path)).exit_code == 0
    out = tmp_path / "out.jsonl"
    assert cli(db_url, "export", "red-team-attempts", str(out)).exit_code == 0
    assert out.read_bytes() == path.read_bytes()

    pairs = tmp_path / "pairs.jsonl"
    pair = {
        "chosen": "\n\nHuman: hi\n\nAssistant: hello",
        "rejected": "\n\nHuman: hi\n\nAssistant: go away",
        "source_row": 12,
    }
    jsonl(pairs, [pair])
    assert cli(db_url, "import", str(pairs)).exit_code == 0
    out_pairs = tmp_path / "out-pairs.jsonl"
    assert cli(db_url, "export", "comparisons", str(out_pairs)).exit_code == 0
    assert [json.loads(x) for x in out_pairs.read_text().splitlines()] == [pair]


# --- 5. NUL and lone surrogates: one rule, clear errors, nothing written ---------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
@pytest.mark.parametrize(
    ("escape", "words"),
    [("\\u0000", "NUL character"), ("\\ud83d", "lone surrogate (U+D83D)")],
    ids=["nul", "lone-surrogate"],
)
def test_unstorable_text_is_rejected_before_writing(
    db_url: str, tmp_path: Path, escape: str, words: str, dry_run: bool
) -> None:
    lines = [json.dumps(r) for r in records()]
    lines[4] = lines[4].replace("I have a question", f"I have a {escape} question", 1)
    lines[4] = lines[4].replace('"task_description": "', f'"task_description": "x{escape}', 1)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines))
    before = row_counts(db_url)
    message = rejected(cli(db_url, "import", *(["--dry-run"] if dry_run else []), str(path)))
    assert words in message and "line 5" in message and "field '" in message
    assert "remove it" in message
    assert row_counts(db_url) == before


def test_unstorable_text_in_unknown_field_keys(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    items = records()[:1]
    path.write_text(json.dumps(items[0])[:-1] + ', "k\\u0000": 1}\n')
    assert "NUL character" in rejected(cli(db_url, "import", str(path)))
    assert row_counts(db_url)["attempt"] == 0


# --- tracebacks that became one-line errors ----------------------------------------------


def test_member_id_beyond_64_bits(db_url: str, tmp_path: Path) -> None:
    items = records()
    items[2]["red_team_member_id"] = 10**30
    message = rejected(cli(db_url, "import", str(jsonl(tmp_path / "big.jsonl", items))))
    assert "line 3" in message and "red_team_member_id" in message and "64-bit" in message
    assert row_counts(db_url)["attempt"] == 0


@pytest.mark.parametrize("layout", ["jsonl", "array", "field"])
def test_deeply_nested_json(db_url: str, tmp_path: Path, layout: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "deep.json"
    if layout == "jsonl":
        path.write_text(json.dumps(records()[0]) + "\n" + deep + "\n")
    elif layout == "array":
        path.write_text("[" + json.dumps(records()[0]) + ", " + deep + "]")
    else:  # nested deep enough to be parsed, too deep to keep
        path.write_text(json.dumps(records()[0])[:-1] + ', "x": ' + "[" * 200 + "]" * 200 + "}")
    message = rejected(cli(db_url, "import", str(path)))
    assert "nested" in message and (
        "line 2" in message or "record [1]" in message or "line 1" in message
    )
    assert row_counts(db_url)["attempt"] == 0


# --- smaller cases -----------------------------------------------------------------------


def test_skip_invalid_skips_a_broken_json_line(db_url: str, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in records()]
    lines[3] = lines[3][:-15]
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines))
    result = cli(db_url, "import", "--skip-invalid", str(path))
    assert result.exit_code == 0, result.output
    assert "added 9" in result.output and "1 invalid skipped" in result.output
    assert "line 4" in flat(result) and "broken JSON" in flat(result)


def test_broken_json_in_a_single_line_array_names_the_record(db_url: str, tmp_path: Path) -> None:
    text = json.dumps(records())  # the published layout has no newlines at all here
    cut = text.index('"rating"', text.index('"rating"') + 1)  # inside record [1]
    path = tmp_path / "broken.json"
    path.write_text(text[:cut] + "{" + text[cut:])
    message = rejected(cli(db_url, "import", str(path)))
    assert "record [1]" in message and "broken JSON" in message
    assert row_counts(db_url)["attempt"] == 0


def test_exports_follow_the_umask(db_url: str, tmp_path: Path, umask_022: None) -> None:
    assert cli(db_url, "import", str(SAMPLE)).exit_code == 0
    out = tmp_path / "out.jsonl"
    assert cli(db_url, "export", "red-team-attempts", str(out)).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o644
    os.umask(0o077)
    private = tmp_path / "private.jsonl"
    assert cli(db_url, "export", "red-team-attempts", str(private)).exit_code == 0
    assert private.stat().st_mode & 0o777 == 0o600


def test_gzip_exports_are_deterministic(db_url: str, tmp_path: Path) -> None:
    assert cli(db_url, "import", str(SAMPLE)).exit_code == 0
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "sub" / "b.jsonl.gz"
    b.parent.mkdir()
    assert cli(db_url, "export", "red-team-attempts", str(a)).exit_code == 0
    assert cli(db_url, "export", "red-team-attempts", str(b)).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    header = a.read_bytes()[:10]
    assert header[3] & 0x08 == 0  # FNAME flag: no file name stored
    assert header[4:8] == b"\0\0\0\0"  # mtime 0
    assert gzip.decompress(a.read_bytes()) == SAMPLE_JSONL.read_bytes()


def test_zero_parameters_is_not_a_size(db_url: str, tmp_path: Path) -> None:
    items = records()
    items[1]["num_params"] = "0B"
    message = rejected(cli(db_url, "import", str(jsonl(tmp_path / "zero.jsonl", items))))
    assert "line 2" in message and "num_params" in message and "zero" in message


@pytest.mark.parametrize("order", ["attempt-first", "pair-first"])
def test_a_file_mixing_the_two_kinds_says_so(db_url: str, tmp_path: Path, order: str) -> None:
    pair = {
        "chosen": "\n\nHuman: hi\n\nAssistant: hello",
        "rejected": "\n\nHuman: hi\n\nAssistant: go away",
    }
    items: list[Any] = [*records()[:3], pair] if order == "attempt-first" else [pair, records()[0]]
    message = rejected(cli(db_url, "import", str(jsonl(tmp_path / "mixed.jsonl", items))))
    assert "mixes the two kinds" in message and "own file" in message
    assert "missing field" not in message
    assert row_counts(db_url)["attempt"] == 0


def test_duplicates_within_the_file_are_not_called_stored(db_url: str, tmp_path: Path) -> None:
    items = records()
    path = jsonl(tmp_path / "twice.jsonl", [*items, items[0], items[5]])
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 0, result.output
    text = flat(result)
    assert (
        "added 10" in text and "0 already stored" in text and "2 repeated within the file" in text
    )
    again = flat(cli(db_url, "import", str(path)))
    assert "added 0" in again and "10 already stored" in again


def test_long_values_are_cut_in_messages(db_url: str, tmp_path: Path) -> None:
    items = records()
    items[0]["model_type"] = "x" * 5000
    message = rejected(cli(db_url, "import", str(jsonl(tmp_path / "long.jsonl", items))))
    assert "5000 characters" in message and "x" * 200 not in message
    assert len(message) < 600


@pytest.mark.parametrize("fmt", ["jsonl", "json-array"])
@pytest.mark.parametrize("kind", ["red-team-attempts", "comparisons"])
def test_an_empty_export_imports_back(db_url: str, tmp_path: Path, fmt: str, kind: str) -> None:
    out = tmp_path / "empty.json"
    assert cli(db_url, "export", kind, str(out), "--format", fmt).exit_code == 0
    result = cli(db_url, "import", str(out))
    assert result.exit_code == 0, result.output
    assert "no records" in result.output
    assert row_counts(db_url)["attempt"] == 0


def test_write_records_streams_the_published_array_layout(tmp_path: Path) -> None:
    """The exporter's own layout, without a database: equal to json.dumps(indent=2)."""
    items = records()
    out = tmp_path / "x.json"
    assert write_records(iter(items), out, ExportFormat.JSON_ARRAY) == 10
    assert out.read_text() == json.dumps(items, indent=2, ensure_ascii=False)


def test_comparisons_still_round_trip_with_the_lock(db_url: str) -> None:
    """The packaged pairs go through the same (locked) path; a re-import adds nothing."""
    assert cli(db_url, "import", str(harmless_base_pairs())).exit_code == 0
    again = flat(cli(db_url, "import", str(harmless_base_pairs())))
    assert "added 0" in again and "1600 already stored" in again
