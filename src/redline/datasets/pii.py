"""PII detectors and redaction for releasing red-team data.

Red teamers were asked to solicit personal information (the paper found a cluster of
~900 such attacks), so released transcripts must not carry real addresses, phone
numbers, e-mails, SSNs, card numbers, driver's licence or passport numbers. Detectors
are regular expressions with validity checks where a format has one (Luhn for cards,
the SSA's never-issued ranges for SSNs) and context words for licence and passport
numbers, whose formats alone are indistinguishable from any other code. Redaction
replaces each match with ``[KIND]`` so the text stays readable and counts are reported.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

EMAIL = "EMAIL"
PHONE = "PHONE"
SSN = "SSN"
CARD = "CARD_NUMBER"
ADDRESS = "STREET_ADDRESS"
LICENCE = "DRIVERS_LICENCE"
PASSPORT = "PASSPORT"
KINDS = (EMAIL, CARD, SSN, PHONE, ADDRESS, LICENCE, PASSPORT)

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(\d{3})[- ](\d{2})[- ](\d{4})(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)"
    r"|(?<![\w+])\+\d{1,3}(?:[ .-]?\d{2,4}){2,4}(?!\d)"
)
_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|"
    r"Terrace|Way|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail)"
)
_ADDRESS = re.compile(
    r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-zA-Z]+\s+){1,3}" + _SUFFIX + r"\b\.?"
    r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|#)\.?\s*\w+)?"
    r"(?:,\s*[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)*)?"
    r"(?:,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"
)
_LICENCE = re.compile(
    r"(?i)\b(?:driver'?s?\s+licen[cs]e|DL|licen[cs]e)\s*(?:number|no\.?|#)?\s*(?:is|:)?\s*"
    r"([A-Z0-9](?=[A-Z0-9-]*\d)[A-Z0-9-]{5,14})\b"
)
_PASSPORT = re.compile(
    r"(?i)\bpassport\s*(?:number|no\.?|#)?\s*(?:is|:)?\s*([A-Z0-9](?=[A-Z0-9]*\d)[A-Z0-9]{5,8})\b"
)


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    text: str


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def find_pii(text: str) -> list[PiiMatch]:
    """Non-overlapping PII matches, in text order. Earlier kinds in :data:`KINDS` win
    overlaps (a card number is not also reported as a phone number)."""
    found: list[PiiMatch] = []

    def add(kind: str, start: int, end: int) -> None:
        if any(start < m.end and m.start < end for m in found):
            return
        found.append(PiiMatch(kind, start, end, text[start:end]))

    for m in _EMAIL.finditer(text):
        add(EMAIL, m.start(), m.end())
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            add(CARD, m.start(), m.end())
    for m in _SSN.finditer(text):
        if _ssn_ok(*m.groups()):
            add(SSN, m.start(), m.end())
    for m in _PHONE.finditer(text):
        add(PHONE, m.start(), m.end())
    for m in _ADDRESS.finditer(text):
        add(ADDRESS, m.start(), m.end())
    for m in _LICENCE.finditer(text):
        add(LICENCE, m.start(1), m.end(1))
    for m in _PASSPORT.finditer(text):
        add(PASSPORT, m.start(1), m.end(1))
    return sorted(found, key=lambda m: m.start)


def redact(text: str) -> tuple[str, Counter[str]]:
    """The text with every match replaced by ``[KIND]``, and the count per kind."""
    matches = find_pii(text)
    counts: Counter[str] = Counter(m.kind for m in matches)
    if not matches:
        return text, counts
    out, last = [], 0
    for m in matches:
        out.append(text[last : m.start])
        out.append(f"[{m.kind}]")
        last = m.end
    out.append(text[last:])
    return "".join(out), counts


def pii_counts(texts: list[str]) -> Counter[str]:
    """Total matches per kind over many texts (plus ``texts_with_pii``)."""
    total: Counter[str] = Counter()
    for text in texts:
        found = find_pii(text)
        total.update(m.kind for m in found)
        if found:
            total["texts_with_pii"] += 1
    return total
