"""Data in and out: hh-rlhf import/export and transcript parsing.

The names below are imported on first use (PEP 562), not with the package: importing
:mod:`redline.datasets.formats` for the CLI's ``--format`` must not load the importer and
exporter (SQLAlchemy underneath) at every command's start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redline.datasets.exporter import (
        attempt_transcript,
        comparison_records,
        red_team_records,
        write_records,
    )
    from redline.datasets.formats import ExportFormat
    from redline.datasets.hhrlhf import MODEL_TYPES, FileKind, parse_size, read_file
    from redline.datasets.importer import ImportReport, import_file
    from redline.datasets.transcripts import ParsedTurn, parse_transcript, render_turns

_WHERE = {
    "ExportFormat": "formats",
    "attempt_transcript": "exporter",
    "comparison_records": "exporter",
    "red_team_records": "exporter",
    "write_records": "exporter",
    "MODEL_TYPES": "hhrlhf",
    "FileKind": "hhrlhf",
    "parse_size": "hhrlhf",
    "read_file": "hhrlhf",
    "ImportReport": "importer",
    "import_file": "importer",
    "ParsedTurn": "transcripts",
    "parse_transcript": "transcripts",
    "render_turns": "transcripts",
}

__all__ = [
    "MODEL_TYPES",
    "ExportFormat",
    "FileKind",
    "ImportReport",
    "ParsedTurn",
    "attempt_transcript",
    "comparison_records",
    "import_file",
    "parse_size",
    "parse_transcript",
    "read_file",
    "red_team_records",
    "render_turns",
    "write_records",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
