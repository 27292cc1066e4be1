"""A releasable bundle: hh-rlhf red-team attempts with PII redacted, a datasheet, a README.

Why generated from the data: a datasheet written by hand drifts from the file it
describes. Everything in it (counts per cell, pools, dates, fields, PII redactions,
template attacks) is computed from the exported records and the store at release time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from redline.datasets.exporter import ExportFormat, red_team_records, write_records
from redline.datasets.hhrlhf import RED_TEAM_KEYS
from redline.datasets.pii import redact

DATA_FILE = "red_team_attempts.jsonl.gz"
FIELD_DOCS = {
    "transcript": "the conversation, '\\n\\nHuman: ...\\n\\nAssistant: ...'; PII redacted",
    "min_harmlessness_score_transcript": "lowest preference-model harmlessness score over the "
    "assistant's replies (lower = more harmful)",
    "num_params": "size of the target model, e.g. '52B' or '135M'",
    "model_type": "plain lm, context distillation (HHH-prompted), rejection sampling, rlhf",
    "rating": "the red teamer's self-rated success, 0 (not) to 4 (very successful)",
    "task_description": "what the red teamer said they would try; PII redacted",
    "task_descripton_harmlessness_score": "harmlessness score of the task description "
    "(the key is misspelled as in the published data)",
    "red_team_member_id": "pseudonymous person number",
    "is_upworker": "true for the Upwork pool, false otherwise",
    "tags": "null or up to 2 harm tags from reviewers",
}


@dataclass
class ReleaseReport:
    out_dir: Path
    records: int
    redactions: Counter[str] = field(default_factory=Counter)
    records_redacted: int = 0
    files: list[Path] = field(default_factory=list)


def redact_record(record: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
    """A copy with PII replaced in the free-text fields, and what was replaced."""
    counts: Counter[str] = Counter()
    clean = dict(record)
    for key in ("transcript", "task_description"):
        if isinstance(clean.get(key), str):
            clean[key], found = redact(clean[key])
            counts.update(found)
    return clean, counts


def datasheet(records: pd.DataFrame, report: ReleaseReport, extra: dict[str, Any]) -> str:
    """Markdown datasheet computed from the released records."""
    from redline.datasets.pii_eval import evaluate

    evaluation = evaluate()
    evaluation_cases = sum(c.cases for c in evaluation.categories)
    evaluation_table = evaluation.markdown()
    lines = ["# Datasheet: red-team attempts", ""]
    lines += [f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} by `redline release`.", ""]
    lines += ["## Composition", ""]
    lines += [f"- Attempts (conversations): {len(records):,}"]
    if len(records):
        people = records["red_team_member_id"].nunique()
        pools = records.drop_duplicates("red_team_member_id")["is_upworker"].value_counts()
        lines += [
            f"- People: {people:,} ({int(pools.get(True, 0))} Upwork, "
            f"{int(pools.get(False, 0))} other pools)",
            f"- Turns per conversation: mean "
            f"{records['transcript'].str.count(chr(10) * 2 + 'Human:').mean():.2f}",
            f"- Rated >= 3 (successful by self-report): {(records['rating'] >= 3).mean():.1%}",
            f"- Tagged attempts: {records['tags'].notna().sum():,}",
            "",
            "| model type | size | attempts | mean rating | mean min-harmlessness |",
            "|---|---|---:|---:|---:|",
        ]
        grouped = records.groupby(["model_type", "num_params"], sort=True)
        for (model_type, size), group in grouped:
            lines.append(
                f"| {model_type} | {size} | {len(group):,} | {group['rating'].mean():.3f} | "
                f"{group['min_harmlessness_score_transcript'].mean():.3f} |"
            )
    lines += ["", "## Fields", ""]
    lines += [f"- `{key}`: {FIELD_DOCS[key]}" for key in RED_TEAM_KEYS]
    lines += ["", "## Collection", ""]
    for key, value in extra.items():
        lines.append(f"- {key}: {value}")
    lines += ["", "## Processing: PII redaction", ""]
    lines += [
        f"- Records with redactions: {report.records_redacted:,}",
        *[f"- `[{kind}]` replacements: {n:,}" for kind, n in sorted(report.redactions.items())],
        "- Detectors: Microsoft Presidio's recognizers (e-mail, URL, IP address, payment "
        "card with Luhn check, US SSN with context) and Google's `phonenumbers` (phone "
        "numbers of US, GB, FR, DE, CA, AU, IE, IN), plus Redline's own rules for what they "
        'lack: spelled-out e-mails ("bob at gmail dot com"), street addresses (also lower '
        "case), fictional-range and `+`-prefixed phone numbers, driver's licence and "
        "passport numbers after a context word, and names after an introduction "
        '("my name is ..."). URLs are redacted when they have a path or query (a profile '
        "or file can name a person); bare domains stay.",
        "- **Person names are not removed in general**: that needs a named-entity model, and "
        "none is available from a package we trust (spaCy's official models are not "
        "published on PyPI, and nothing is downloaded at run time). Only names introduced "
        'explicitly ("my name is ...", "named ...") are redacted.',
        "",
        "### How well the detector does (labelled test set)",
        "",
        f"Measured at release time on the {evaluation_cases} labelled sentences shipped with "
        "Redline (`redline/datasets/data/pii_labelled.jsonl`). Recall: the PII string is "
        "entirely redacted. False positives: a near miss (dates, prices, model sizes, "
        "versions...) had anything redacted. The set was written by the developers together "
        "with the detector, so it measures the formats they knew of; expect lower recall "
        "on formats it lacks.",
        "",
        evaluation_table,
        "",
    ]
    lines += ["", "## Known noise", ""]
    lines += [
        "- Self-ratings are subjective; reviewers agreed only moderately in the paper "
        "(Fleiss' kappa 0.32 on 0-4, 0.49 binarised).",
        "- Scores come from a preference model, not people; they inherit its errors.",
    ]
    if "template attempts" in extra:
        lines.append(
            f"- Template attacks: {extra['template attempts']} attempts are near-duplicates "
            "(task description + first message) repeated by the same person."
        )
    lines += [
        "",
        "## Content warning",
        "",
        "The conversations contain offensive, violent and otherwise harmful text "
        "written on purpose to test language models.",
        "",
    ]
    return "\n".join(lines)


README = """# Red-team attempts (Redline release)

`{data}`: one JSON object per line (gzipped), the hh-rlhf red-team-attempts layout
(see DATASHEET.md for the fields). {n:,} attempts. Personal information has been
redacted ({redacted:,} records changed); see `redactions.json`.

**Content warning**: the conversations are attacks on language models and contain
offensive and harmful text.

Read it with Python:

```python
import gzip, json
records = [json.loads(line) for line in gzip.open("{data}", "rt")]
```

Generated by `redline release` on {date}.
"""


def build_release(
    session: Session, out_dir: str | Path, collection: Mapping[str, Any] | None = None
) -> ReleaseReport:
    """Export the store's finished attempts with PII redacted, plus DATASHEET.md and README.md.

    ``collection``: facts about how the data was collected for the datasheet (dates,
    origins, pools, template attempts), computed by the caller with
    :func:`redline.analysis.collection.collection_facts`; they come in as data because
    datasets sits below analysis and must not import it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = ReleaseReport(out, 0)
    cleaned: list[dict[str, Any]] = []
    for record in red_team_records(session):
        clean, counts = redact_record(record)
        if counts:
            report.records_redacted += 1
            report.redactions.update(counts)
        cleaned.append(clean)
    report.records = write_records(cleaned, out / DATA_FILE, ExportFormat.JSONL)
    frame = pd.DataFrame(cleaned, columns=list(RED_TEAM_KEYS))

    (out / "DATASHEET.md").write_text(
        datasheet(frame, report, dict(collection or {})), encoding="utf-8"
    )
    (out / "README.md").write_text(
        README.format(
            data=DATA_FILE,
            n=report.records,
            redacted=report.records_redacted,
            date=f"{datetime.now(UTC):%Y-%m-%d}",
        ),
        encoding="utf-8",
    )
    (out / "redactions.json").write_text(
        json.dumps(
            {
                "records": report.records,
                "records_redacted": report.records_redacted,
                "replacements": dict(sorted(report.redactions.items())),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    report.files = [out / n for n in (DATA_FILE, "DATASHEET.md", "README.md", "redactions.json")]
    return report
