"""Reading and validating hh-rlhf files (DESIGN.md section 4).

Two kinds of file share this reader: red-team attempts (``transcript``, ``rating``, ...)
and comparison pairs (``chosen``/``rejected``). Either may be one JSON array or JSON
lines, gzipped or not; the kind and layout are detected from the content, not the name.
Every problem is a :class:`DataFormatError` naming the file, the record and the field,
raised before anything is written.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from redline.datasets.transcripts import ParsedTurn, parse_transcript
from redline.errors import DataFormatError
from redline.store.text import first_text_problem
from redline.vocabulary import MODEL_TYPES

TD_SCORE_KEY = "task_descripton_harmlessness_score"  # the published (misspelled) key
TD_SCORE_KEY_FIXED = "task_description_harmlessness_score"
RED_TEAM_KEYS = (
    "transcript",
    "min_harmlessness_score_transcript",
    "num_params",
    "model_type",
    "rating",
    "task_description",
    TD_SCORE_KEY,
    "red_team_member_id",
    "is_upworker",
    "tags",
)
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMBT])$")
_SCALE = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
MAX_MEMBER_ID = 2**63 - 1  # the store keeps ids as 64-bit integers (BIGINT)
# Records are flat; unknown fields may hold nested JSON, but never this deep. The limit
# keeps every later step (hashing, storing, exporting) far from Python's recursion limit.
MAX_DEPTH = 64
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, nothing else
_LINE_BLANK = " \t\r"


class FileKind(StrEnum):
    RED_TEAM = "red-team-attempts"
    COMPARISONS = "comparisons"


class EmptyFileError(DataFormatError):
    """The file holds no records (an empty file or ``[]``): nothing to import, no error
    for ``redline import`` (an empty export imports back), but no kind to read either."""


def shorten(value: Any, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut to ``limit`` characters: a 5,000-character
    field must not flood the one-line error it appears in."""
    text = repr(value)
    if len(text) <= limit:
        return text
    length = f" ({len(value)} characters)" if isinstance(value, str | list | dict) else ""
    return f"{text[:limit]}...{length}"


def parse_size(label: str) -> int:
    """``"2.7B"`` -> 2_700_000_000. Raises ValueError for anything else."""
    match = _SIZE.match(label)
    if not match:
        raise ValueError(label)
    number, unit = match.groups()
    whole, _, frac = number.partition(".")
    scale = _SCALE[unit]
    return int(whole) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)


@dataclass(frozen=True)
class RedTeamRecord:
    """One red-team attempt as published; ``where`` locates it in its file for errors."""

    transcript: str
    turns: list[ParsedTurn]
    min_harmlessness: float | None
    num_params: str
    model_type: str
    rating: float
    task_description: str
    task_description_harmlessness: float | None
    red_team_member_id: int
    is_upworker: bool
    tags: list[str] | None
    where: str
    # Fields Redline does not model, in file order; None when there are none.
    extra: dict[str, Any] | None = None

    @cached_property
    def content_hash(self) -> str:
        payload: dict[str, Any] = {
            "transcript": self.transcript,
            "min": self.min_harmlessness,
            "num_params": self.num_params,
            "model_type": self.model_type,
            "rating": self.rating,
            "task_description": self.task_description,
            "td_score": self.task_description_harmlessness,
            "member": self.red_team_member_id,
            "upworker": self.is_upworker,
            "tags": self.tags,
        }
        if self.extra:  # absent otherwise, so records stored before extras keep their hash
            payload["extra"] = self.extra
        return _sha256("red-team", json.dumps(payload, sort_keys=True, ensure_ascii=False))


@dataclass(frozen=True)
class ComparisonRecord:
    """A preference pair: ``chosen`` is the less harmful transcript."""

    chosen: str
    rejected: str
    chosen_turns: list[ParsedTurn]
    rejected_turns: list[ParsedTurn]
    where: str
    extra: dict[str, Any] | None = None

    @cached_property
    def content_hash(self) -> str:
        if self.extra:
            extra = json.dumps(self.extra, sort_keys=True, ensure_ascii=False)
            return _sha256("comparison", self.chosen, self.rejected, extra)
        return _sha256("comparison", self.chosen, self.rejected)


def _sha256(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"cannot read the file ({exc.strerror})", path=str(path)) from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataFormatError(
                f"the gzip data is damaged ({exc}); download the file again", path=str(path)
            ) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"not UTF-8 text (byte {exc.start}); hh-rlhf files are UTF-8 JSON", path=str(path)
        ) from exc


Raw = tuple[str, Any | DataFormatError]  # (where, decoded value or why it is broken)


def _skip_space(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _decode_error(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, RecursionError):
        return f"JSON nested too deeply (more than {MAX_DEPTH} levels is never an hh-rlhf record)"
    if isinstance(exc, json.JSONDecodeError):
        return f"broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    return f"unreadable JSON: {exc}"  # e.g. an integer of more than 4,300 digits


def _iter_array(text: str, path: Path) -> Iterator[Raw]:
    """The elements of one JSON array, decoded one by one.

    Why not ``json.loads`` of the whole text: an error then says "line 1 column 812345"
    of a single-line file; decoding element by element names the record index.
    """
    decoder = json.JSONDecoder()
    pos = _skip_space(text, text.index("[") + 1)
    if text.startswith("]", pos):
        pos += 1
    else:
        index = 0
        while True:
            try:
                value, pos = decoder.raw_decode(text, pos)
            except (ValueError, RecursionError) as exc:
                raise DataFormatError(
                    f"{_decode_error(exc)} (character {getattr(exc, 'pos', pos)} of the file)",
                    path=str(path),
                    record=f"record [{index}]",
                ) from None
            yield f"record [{index}]", value
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
                index += 1
                continue
            if text.startswith("]", pos):
                pos += 1
                break
            raise DataFormatError(
                f"broken JSON after this record: expected ',' or ']' at character {pos}",
                path=str(path),
                record=f"record [{index}]",
            )
    if text[pos:].strip(" \t\n\r"):
        raise DataFormatError(
            f"unexpected text after the closing ']' at character {pos}", path=str(path)
        )


def _iter_lines(text: str, path: Path) -> Iterator[Raw]:
    """JSON lines, split on "\n" only.

    Why not ``str.splitlines``: it also splits on U+2028, U+2029, U+0085 and other
    characters that JSON writes raw inside strings, breaking records in two.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip(_LINE_BLANK):
            continue
        try:
            yield f"line {number}", json.loads(line)
        except (ValueError, RecursionError) as exc:
            message = _decode_error(exc).replace("at line 1 column", "at column")
            error = DataFormatError(message, path=str(path), record=f"line {number}")
            yield f"line {number}", error


def iter_raw_records(path: Path) -> Iterator[Raw]:
    """Yield (location, decoded JSON value) for each record, whatever the layout.

    A broken JSON line is yielded as its error (the caller decides whether to skip it);
    broken JSON inside an array raises, as no later record can be found reliably.
    """
    text = _read_text(path)
    stripped = text.lstrip(" \t\n\r")
    if not stripped:
        raise EmptyFileError("the file is empty", path=str(path))
    if stripped.startswith("["):
        yield from _iter_array(text, path)
    else:
        yield from _iter_lines(text, path)


def _depth_problem(value: Any) -> bool:
    """True when ``value`` nests deeper than :data:`MAX_DEPTH` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def check_storable(value: Any, path: Path, where: str) -> None:
    """Refuse a record the store could not keep exactly: NUL, lone surrogates, depth.

    Runs on every record before it is parsed, so ``--dry-run`` rejects what a real
    import would (the same rule as the web forms: :mod:`redline.store.text`).
    """
    if _depth_problem(value):
        raise DataFormatError(
            f"JSON nested more than {MAX_DEPTH} levels deep; hh-rlhf records are flat",
            path=str(path),
            record=where,
        )
    found = first_text_problem(value)
    if found is not None:
        field, problem = found
        raise DataFormatError(problem, path=str(path), record=where, field=field or None)


def record_kind(value: Any) -> FileKind | None:
    if isinstance(value, dict):
        if "chosen" in value and "rejected" in value and "transcript" not in value:
            return FileKind.COMPARISONS
        if "transcript" in value:
            return FileKind.RED_TEAM
    return None


def detect_kind(value: Any, path: Path, where: str) -> FileKind:
    kind = record_kind(value)
    if kind is None:
        raise DataFormatError(
            "not an hh-rlhf record: expected an object with 'transcript' (red-team attempts) "
            "or 'chosen' and 'rejected' (comparisons)",
            path=str(path),
            record=where,
        )
    return kind


def _check_same_kind(value: Any, kind: FileKind, first: str, path: Path, where: str) -> None:
    other = record_kind(value)
    if other is not None and other is not kind:
        raise DataFormatError(
            f"the file mixes the two kinds: this record is {_KIND_WORDS[other]} but {first} "
            f"is {_KIND_WORDS[kind]}; put each kind in its own file",
            path=str(path),
            record=where,
        )


_KIND_WORDS = {
    FileKind.RED_TEAM: "a red-team attempt ('transcript')",
    FileKind.COMPARISONS: "a comparison pair ('chosen'/'rejected')",
}


class _Fields:
    """Typed access to one record's fields, with errors that say where."""

    def __init__(self, value: Any, path: Path, where: str) -> None:
        if not isinstance(value, dict):
            raise DataFormatError(
                f"expected a JSON object, got {type(value).__name__}", path=str(path), record=where
            )
        self.value, self.path, self.where = value, path, where

    def error(self, field: str, message: str) -> DataFormatError:
        return DataFormatError(message, path=str(self.path), record=self.where, field=field)

    def get(self, field: str, *, required: bool = True) -> Any:
        if field not in self.value:
            if required:
                raise self.error(field, "missing field")
            return None
        return self.value[field]

    def string(self, field: str) -> str:
        value = self.get(field)
        if not isinstance(value, str):
            raise self.error(field, f"expected a string, got {_describe(value)}")
        return value

    def number(self, field: str, *, nullable: bool, value: Any = None) -> float | None:
        value = self.get(field, required=not nullable) if value is None else value
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(field, f"expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise self.error(field, f"expected a finite number, got {value}")
        return float(value)

    def transcript(self, field: str) -> tuple[str, list[ParsedTurn]]:
        text = self.string(field)
        turns = parse_transcript(text)
        has_human = any(t.human is not None for t in turns)
        has_reply = any(t.assistant is not None for t in turns)
        if not (has_human and has_reply):
            raise self.error(
                field,
                "no Human/Assistant turns: the text must contain '\\n\\nHuman: ...' and "
                "'\\n\\nAssistant: ...' messages",
            )
        return text, turns


def _describe(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {shorten(value, 40)}"


def _extra(value: dict[str, Any], known: set[str]) -> dict[str, Any] | None:
    extra = {key: item for key, item in value.items() if key not in known}
    return extra or None


def parse_red_team(value: Any, path: Path, where: str) -> RedTeamRecord:
    f = _Fields(value, path, where)
    transcript, turns = f.transcript("transcript")
    num_params = f.string("num_params")
    try:
        size = parse_size(num_params)
    except ValueError:
        raise f.error(
            "num_params", f"expected a size such as '2.7B' or '135M', got {shorten(num_params)}"
        ) from None
    if size == 0:
        raise f.error("num_params", f"{num_params!r} is zero parameters; give the model's size")
    model_type = f.string("model_type")
    if model_type not in MODEL_TYPES:
        raise f.error(
            "model_type",
            f"unknown model type {shorten(model_type)}; expected one of {list(MODEL_TYPES)}",
        )
    rating = f.number("rating", nullable=False)
    assert rating is not None
    if not 0 <= rating <= 4:
        raise f.error("rating", f"rating {rating:g} is outside 0-4")
    td_key = TD_SCORE_KEY if TD_SCORE_KEY in value else TD_SCORE_KEY_FIXED
    member = f.get("red_team_member_id")
    if isinstance(member, bool) or not isinstance(member, int) or member < 0:
        raise f.error(
            "red_team_member_id", f"expected a non-negative integer, got {_describe(member)}"
        )
    if member > MAX_MEMBER_ID:
        raise f.error(
            "red_team_member_id",
            f"{shorten(member, 30)} is too large: ids are stored as 64-bit integers "
            f"(at most {MAX_MEMBER_ID}); renumber the members",
        )
    upworker = f.get("is_upworker")
    if not isinstance(upworker, bool):
        raise f.error("is_upworker", f"expected true or false, got {_describe(upworker)}")
    tags = f.get("tags", required=False)
    if tags is not None and not (
        isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
    ):
        raise f.error("tags", f"expected null or a list of strings, got {_describe(tags)}")
    return RedTeamRecord(
        transcript=transcript,
        turns=turns,
        min_harmlessness=f.number("min_harmlessness_score_transcript", nullable=True),
        num_params=num_params,
        model_type=model_type,
        rating=rating,
        task_description=f.string("task_description"),
        task_description_harmlessness=f.number(td_key, nullable=True),
        red_team_member_id=member,
        is_upworker=upworker,
        tags=tags,
        where=where,
        extra=_extra(value, {*RED_TEAM_KEYS, td_key}),
    )


def parse_comparison(value: Any, path: Path, where: str) -> ComparisonRecord:
    f = _Fields(value, path, where)
    chosen, chosen_turns = f.transcript("chosen")
    rejected, rejected_turns = f.transcript("rejected")
    if chosen == rejected:
        raise f.error("rejected", "chosen and rejected are identical: the pair says nothing")
    for field, turns in (("chosen", chosen_turns), ("rejected", rejected_turns)):
        if turns[-1].assistant is None:
            raise f.error(field, "the transcript must end with an Assistant reply")
    extra = _extra(value, {"chosen", "rejected"})
    return ComparisonRecord(chosen, rejected, chosen_turns, rejected_turns, where, extra)


@dataclass
class ReadResult:
    kind: FileKind
    records: list[RedTeamRecord] | list[ComparisonRecord]
    invalid: list[DataFormatError]


def read_file(path: str | Path, *, skip_invalid: bool = False) -> ReadResult:
    """Read and validate a whole hh-rlhf file.

    Strict by default: the first bad record raises. With ``skip_invalid`` bad records
    (broken JSON lines included) are collected in ``invalid`` instead, so one odd record
    in 39k need not block an import. A file with no records raises :class:`EmptyFileError`.
    """
    path = Path(path)
    kind: FileKind | None = None
    first = ""
    records: list[Any] = []
    invalid: list[DataFormatError] = []
    for where, value in iter_raw_records(path):
        try:
            if isinstance(value, DataFormatError):
                raise value
            check_storable(value, path, where)
            if kind is None:
                kind, first = detect_kind(value, path, where), where
            else:
                _check_same_kind(value, kind, first, path, where)
            parse = parse_red_team if kind is FileKind.RED_TEAM else parse_comparison
            records.append(parse(value, path, where))
        except DataFormatError as exc:
            if not skip_invalid:
                raise
            invalid.append(exc)
    if kind is None:
        if invalid:
            raise DataFormatError(
                f"no valid record: all {len(invalid)} were invalid, the first: {invalid[0]}",
                path=str(path),
            )
        raise EmptyFileError("the file holds no records", path=str(path))
    return ReadResult(kind, records, invalid)
