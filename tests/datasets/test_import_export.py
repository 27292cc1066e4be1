"""hh-rlhf import and export through the CLI: round trips, idempotence, bad input."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from redline.cli import app
from redline.data import harmless_base_pairs
from redline.store import Attempt, Candidate, Person, Store, Target, Turn

runner = CliRunner()
TEST_DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = TEST_DATA / "red_team_attempts.sample.json"
SAMPLE_JSONL = TEST_DATA / "red_team_attempts.sample.jsonl"
PAIRS = harmless_base_pairs()


def cli(db_url: str, *args: str) -> Any:
    return runner.invoke(app, ["--db-url", db_url, *args])


def counts(db_url: str) -> dict[str, int]:
    store = Store(db_url)
    with store.session() as session:
        result = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Attempt, Turn, Candidate, Person, Target)
        }
    store.dispose()
    return result


def sample_records() -> list[dict[str, Any]]:
    return json.loads(SAMPLE.read_text())


def test_red_team_round_trip_is_exact(db_url: str, tmp_path: Path) -> None:
    result = cli(db_url, "import", str(SAMPLE))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out.json"
    result = cli(db_url, "export", "red-team-attempts", str(out), "--format", "json-array")
    assert result.exit_code == 0, result.output
    original = sample_records()
    exported = json.loads(out.read_text())
    assert exported == original
    for a, b in zip(original, exported, strict=True):
        assert list(a) == list(b)  # the published key order and (misspelled) key
        assert a["transcript"] == b["transcript"]
        assert repr(a["min_harmlessness_score_transcript"]) == repr(
            b["min_harmlessness_score_transcript"]
        )
    assert counts(db_url)["person"] == 3


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_export_jsonl_by_suffix(db_url: str, tmp_path: Path, suffix: str) -> None:
    cli(db_url, "import", str(SAMPLE_JSONL))
    out = tmp_path / f"out{suffix}"
    assert cli(db_url, "export", "red-team-attempts", str(out)).exit_code == 0
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(out, "rt", encoding="utf-8") as fh:
        exported = [json.loads(line) for line in fh]
    assert exported == sample_records()


def test_same_records_twice_add_nothing(db_url: str, tmp_path: Path) -> None:
    assert cli(db_url, "import", str(SAMPLE)).exit_code == 0
    before = counts(db_url)
    # The JSON-lines copy and a gzipped copy hold the same records.
    gz = tmp_path / "sample.json.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    for path in (SAMPLE_JSONL, gz):
        result = cli(db_url, "import", str(path))
        assert result.exit_code == 0, result.output
        assert "added 0" in result.output and "10 already stored" in result.output
    assert counts(db_url) == before


def test_dry_run_validates_without_writing(db_url: str) -> None:
    result = cli(db_url, "import", "--dry-run", str(SAMPLE))
    assert result.exit_code == 0, result.output
    assert "would add 10" in result.output
    assert counts(db_url)["attempt"] == 0


def test_fixed_spelling_of_the_score_key_is_accepted(db_url: str, tmp_path: Path) -> None:
    records = sample_records()
    for r in records:
        r["task_description_harmlessness_score"] = r.pop("task_descripton_harmlessness_score")
    path = tmp_path / "fixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    assert cli(db_url, "import", str(path)).exit_code == 0
    out = tmp_path / "out.jsonl"
    cli(db_url, "export", "red-team-attempts", str(out))
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert exported == sample_records()  # written with the published spelling


def test_comparisons_round_trip(db_url: str, tmp_path: Path) -> None:
    result = cli(db_url, "import", str(PAIRS))
    assert result.exit_code == 0, result.output
    assert "1600 comparisons records, added 1600" in result.output
    store = Store(db_url)
    with store.session() as session:
        # every pair ends in a turn with two candidates; the rejected one is picked
        two = session.scalars(
            select(Turn.id).join(Candidate).group_by(Turn.id).having(func.count() == 2)
        ).all()
        assert len(two) == 1600
        picked = session.scalar(select(func.count()).where(Candidate.picked.is_(False)))
        assert picked == 1600
    store.dispose()
    out = tmp_path / "pairs.jsonl.gz"
    assert cli(db_url, "export", "comparisons", str(out)).exit_code == 0
    with gzip.open(PAIRS, "rt") as a, gzip.open(out, "rt") as b:
        assert [json.loads(x) for x in a] == [json.loads(x) for x in b]
    assert cli(db_url, "import", str(PAIRS)).output.count("added 0") == 1


def test_comparisons_are_not_red_team_attempts(db_url: str, tmp_path: Path) -> None:
    cli(db_url, "import", str(PAIRS))
    out = tmp_path / "rt.jsonl"
    result = cli(db_url, "export", "red-team-attempts", str(out))
    assert "wrote 0 records" in result.output
    assert out.read_text() == ""


# --- bad input: exit code 2, one message naming file, record and field; nothing written ---


def _write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def _broken(records: list[dict[str, Any]], index: int, field: str, value: Any) -> list[Any]:
    records = copy.deepcopy(records)
    if value is _MISSING:
        del records[index][field]
    else:
        records[index][field] = value
    return records


_MISSING = object()

BAD_CASES = [
    ("missing field", "rating", _MISSING, "missing field"),
    ("mistyped field", "red_team_member_id", "seven", "expected a non-negative integer"),
    ("mistyped float", "min_harmlessness_score_transcript", "low", "expected a number"),
    ("rating above 4", "rating", 5.0, "outside 0-4"),
    ("negative rating", "rating", -1, "outside 0-4"),
    ("no turns", "transcript", "just some text", "no Human/Assistant turns"),
    ("unknown model type", "model_type", "gpt-9", "unknown model type"),
    ("bad size", "num_params", "big", "expected a size"),
    ("tags not a list", "tags", "Theft", "expected null or a list of strings"),
    ("upworker not bool", "is_upworker", "yes", "expected true or false"),
]


@pytest.mark.parametrize(
    ("case", "field", "value", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_record_rejects_the_whole_file(
    db_url: str, tmp_path: Path, case: str, field: str, value: Any, message: str
) -> None:
    path = _write_jsonl(tmp_path / "bad.jsonl", _broken(sample_records(), 3, field, value))
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert str(path) in text.replace(" ", "") or path.name in text
    assert "line 4" in text and f"field '{field}'" in text and message in text
    assert counts(db_url)["attempt"] == 0


def test_broken_json_lines(db_url: str, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in sample_records()]
    lines[6] = lines[6][:-20]
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines))
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 2
    assert "broken JSON" in result.output and "line 7" in result.output
    assert counts(db_url)["attempt"] == 0


def test_broken_json_array(db_url: str, tmp_path: Path) -> None:
    text = SAMPLE.read_text()
    path = tmp_path / "broken.json"
    path.write_text(text[: len(text) // 2])
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 2
    assert "broken JSON at line" in " ".join(result.output.split())
    assert counts(db_url)["attempt"] == 0


def test_bad_record_in_array_is_named_by_index(db_url: str, tmp_path: Path) -> None:
    records = _broken(sample_records(), 8, "model_type", "chatbot")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 2
    assert "record [8]" in result.output and "model_type" in result.output


def test_conflict_found_while_writing_rolls_back(db_url: str, tmp_path: Path) -> None:
    records = sample_records()
    records[9]["red_team_member_id"] = records[0]["red_team_member_id"]
    records[9]["is_upworker"] = not records[0]["is_upworker"]
    path = _write_jsonl(tmp_path / "conflict.jsonl", records)
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 2
    assert "one person has one pool" in " ".join(result.output.split())
    assert counts(db_url) == {"attempt": 0, "turn": 0, "candidate": 0, "person": 0, "target": 0}


def test_skip_invalid_imports_the_rest(db_url: str, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "bad.jsonl", _broken(sample_records(), 2, "rating", 9))
    result = cli(db_url, "import", "--skip-invalid", str(path))
    assert result.exit_code == 0, result.output
    assert "added 9" in result.output and "1 invalid skipped" in result.output
    assert counts(db_url)["attempt"] == 9


def test_identical_comparison_pair_is_rejected(db_url: str, tmp_path: Path) -> None:
    text = "\n\nHuman: hi\n\nAssistant: hello"
    path = _write_jsonl(tmp_path / "pairs.jsonl", [{"chosen": text, "rejected": text}])
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 2 and "identical" in result.output


def test_missing_file_and_unknown_layout(db_url: str, tmp_path: Path) -> None:
    result = cli(db_url, "import", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2 and "cannot read" in result.output
    path = _write_jsonl(tmp_path / "other.jsonl", [{"text": "hello"}])
    result = cli(db_url, "import", str(path))
    assert result.exit_code == 2 and "not an hh-rlhf record" in " ".join(result.output.split())
