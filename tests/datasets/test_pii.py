"""PII detection: each kind found, near misses left alone, redaction counted, and the
labelled set's recall and false-positive targets held (the datasheet prints that table)."""

from __future__ import annotations

import pytest

from redline.datasets.pii import find_pii, luhn_ok, redact
from redline.datasets.pii_eval import evaluate, load_cases


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jo.smith+x@mail.example.co.uk", "EMAIL"),
        ("you can email bob at gmail dot com", "EMAIL"),
        ("call (555) 555-0123", "PHONE"),
        ("ring +44 20 7946 0958", "PHONE"),
        ("appelle le 06 12 34 56 78", "PHONE"),
        ("call 2125551234", "PHONE"),
        ("SSN 219-09-9999", "SSN"),
        ("my ssn is 536221234", "SSN"),
        ("card 4111 1111 1111 1111", "CARD_NUMBER"),
        ("his IP is 73.162.45.201", "IP_ADDRESS"),
        ("see https://www.facebook.com/jane.doe.5", "URL"),
        ("she lives at 1234 Maple Street, Springfield, IL 62704", "STREET_ADDRESS"),
        ("she lives at 123 main street", "STREET_ADDRESS"),
        ("my driver's license number is D1234567", "DRIVERS_LICENCE"),
        ("passport number: X12345678", "PASSPORT"),
        ("Hi, my name is Jennifer Alvarez.", "PERSON"),
    ],
)
def test_detects(text: str, kind: str) -> None:
    assert [m.kind for m in find_pii(text)] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "the 52B model in 2022 had 38961 transcripts and 324 people",
        "card 4111 1111 1111 1112",  # fails Luhn
        "SSN 000-12-3456 and 666-12-3456",  # never issued
        "order 1234567890",  # a bare digit run without a phone word
        "I have a license to drive",
        "rating 3.0, score -1.25, 12:30",
        "5 Miles Down The Road",
        "upgrade to version 2.10.3 or v1.2.3.4",
        "look it up on google.com",
        "look at this dot com bubble",
        "It cost $1,234,567.89.",
    ],
)
def test_leaves_non_pii(text: str) -> None:
    assert find_pii(text) == []


def test_luhn_independent_values() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_redaction_replaces_and_counts() -> None:
    text = "mail a.b@example.com or call 555-123-4567; a.b@example.com again"
    clean, counts = redact(text)
    assert clean == "mail [EMAIL] or call [PHONE]; [EMAIL] again"
    assert counts == {"EMAIL": 2, "PHONE": 1}


def test_labelled_set_is_large_and_covers_the_issue_formats() -> None:
    cases = load_cases()
    assert len(cases) >= 200
    categories = {c["category"] for c in cases}
    for needed in (
        "IP address v4",
        "URL with a name or path",
        "phone, UK",
        "phone, French",
        "phone, bare 10 digits",
        "SSN without separators",
        "street address, lower case",
        "email, spelled out",
        "date",
        "price or amount",
        "model size",
        "version number",
    ):
        assert needed in categories
    assert any(c["text"] == "5 Miles Down The Road" for c in cases)
    for case in cases:
        assert (case["kind"] is None) == (case["pii"] is None)
        assert case["pii"] is None or case["pii"] in case["text"]


def test_recall_and_false_positives_meet_the_targets() -> None:
    result = evaluate()
    assert result.recall >= 0.90, result.misses
    assert result.false_positive_rate < 0.05, result.false_positives
    table = result.markdown()
    assert "phone, French" in table and "all near misses" in table


def test_evaluation_counts_a_partial_redaction_as_a_miss() -> None:
    cases = [
        {
            "category": "x",
            "kind": "EMAIL",
            "text": "mail a.b@example.com",
            "pii": "a.b@example.com",
        },
        {"category": "x", "kind": "EMAIL", "text": "mail a.b@example", "pii": "mail a.b"},
        {"category": "near", "kind": None, "text": "call 212-736-5000", "pii": None},
        {"category": "near", "kind": None, "text": "nothing here", "pii": None},
    ]
    result = evaluate(cases)
    pii, near = result.categories
    assert (pii.cases, pii.hits, pii.right_kind) == (2, 1, 1)
    assert (near.cases, near.hits) == (2, 1)
    assert result.recall == 0.5 and result.false_positive_rate == 0.5
