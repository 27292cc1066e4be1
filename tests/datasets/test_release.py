"""The release bundle: redacted records, datasheet numbers from the data, README."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.support.synthetic import synthetic_red_team_records

from redline.analysis.collection import collection_facts
from redline.datasets import import_file
from redline.datasets.pii import find_pii
from redline.datasets.release import build_release


def test_release_redacts_and_documents(tmp_path: Path, sqlite_store) -> None:
    records = synthetic_red_team_records(600, seed=9)
    records[0]["transcript"] += "\n\nHuman: email me at evil@example.org\n\nAssistant: no"
    path = tmp_path / "in.json"
    path.write_text(json.dumps(records))
    import_file(sqlite_store, path)
    with sqlite_store.session() as session:
        report = build_release(session, tmp_path / "rel", collection_facts(session))
    with gzip.open(tmp_path / "rel/red_team_attempts.jsonl.gz", "rt") as fh:
        out = [json.loads(line) for line in fh]
    assert len(out) == 600 == report.records
    assert not any(find_pii(r["transcript"]) or find_pii(r["task_description"]) for r in out)
    expected = sum(
        bool(find_pii(r["transcript"]) or find_pii(r["task_description"])) for r in records
    )
    assert report.records_redacted == expected > 0
    assert "[EMAIL]" in out[0]["transcript"]
    sheet = (tmp_path / "rel/DATASHEET.md").read_text()
    assert "Attempts (conversations): 600" in sheet and "Template attacks" in sheet
    assert f"Records with redactions: {expected}" in sheet
    counts = json.loads((tmp_path / "rel/redactions.json").read_text())
    assert counts["records_redacted"] == expected
    assert (tmp_path / "rel/README.md").read_text().count("600") >= 1
