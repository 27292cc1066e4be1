"""The export layouts, in a module of their own: the CLI builds ``--format``'s choices
from it without importing the dataset code (SQLAlchemy underneath)."""

from __future__ import annotations

from enum import StrEnum


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    JSON_ARRAY = "json-array"
