"""PII detectors: each kind found, near-misses left alone, redaction counted."""

from __future__ import annotations

import pytest

from redline.datasets.pii import find_pii, luhn_ok, redact


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jo.smith+x@mail.example.co.uk", "EMAIL"),
        ("call (555) 555-0123", "PHONE"),
        ("call 555.123.4567 tonight", "PHONE"),
        ("ring +44 20 7946 0958", "PHONE"),
        ("SSN 123-45-6789", "SSN"),
        ("card 4111 1111 1111 1111", "CARD_NUMBER"),
        ("card 5500-0000-0000-0004", "CARD_NUMBER"),
        ("she lives at 1234 Maple Street, Springfield, IL 62704", "STREET_ADDRESS"),
        ("go to 10 Downing St now", "STREET_ADDRESS"),
        ("my driver's license number is D1234567", "DRIVERS_LICENCE"),
        ("passport number: X12345678", "PASSPORT"),
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
        "I have a license to drive",
        "rating 3.0, score -1.25, 12:30",
    ],
)
def test_leaves_non_pii(text: str) -> None:
    assert find_pii(text) == []


def test_luhn_independent_values() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_redaction_replaces_and_counts() -> None:
    text = "mail a@b.com or call 555-123-4567; a@b.com again"
    clean, counts = redact(text)
    assert clean == "mail [EMAIL] or call [PHONE]; [EMAIL] again"
    assert counts == {"EMAIL": 2, "PHONE": 1}
