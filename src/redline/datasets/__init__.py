"""Data in and out: hh-rlhf import/export and transcript parsing."""

from redline.datasets.exporter import (
    ExportFormat,
    attempt_transcript,
    comparison_records,
    red_team_records,
    write_records,
)
from redline.datasets.hhrlhf import MODEL_TYPES, FileKind, parse_size, read_file
from redline.datasets.importer import ImportReport, import_file
from redline.datasets.transcripts import ParsedTurn, parse_transcript, render_turns

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
