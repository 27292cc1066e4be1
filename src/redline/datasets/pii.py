"""PII detection and redaction for releasing red-team data.

Red teamers were asked to solicit personal information (the paper found a cluster of
~900 such attacks), so released transcripts must not carry real contact details or
identity numbers. Detection is built on maintained libraries of the field rather than
home-made expressions:

* Microsoft Presidio's pattern recognizers (``presidio-analyzer``): e-mail, URL, IP
  address (v4 and v6), payment card (Luhn), US SSN (with the SSA's never-issued ranges).
  They run without a spaCy model: we call the recognizers directly and apply Presidio's
  own context rule (a weak pattern counts only with a context word such as "ssn" nearby,
  the +0.35 boost of its ``LemmaContextAwareEnhancer``) on the raw words.
* Google's ``phonenumbers`` (through Presidio's ``PhoneRecognizer``) for phone numbers of
  the regions in :data:`PHONE_REGIONS`, national and international formats.

Our own rules cover only what those lack: e-mails written out ("bob at gmail dot com"),
street addresses (also lower-case), driver's licence and passport numbers after a
context word, fictional-range North American numbers like "(212) 555-0123" that
``phonenumbers`` rejects as invalid but that read as phone numbers, and person names
after an explicit introduction ("my name is ..."). **General person-name detection is
not done**: it needs a named-entity model, and none is available from a package we
trust (spaCy's official models are not on PyPI; nothing is downloaded at run time).

:data:`~redline.datasets.pii_eval` measures recall and false positives per category on
a labelled set shipped with the package; the release datasheet prints that table.
Redaction replaces each match with ``[KIND]`` so the text stays readable.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

EMAIL = "EMAIL"
URL = "URL"
IP_ADDRESS = "IP_ADDRESS"
PHONE = "PHONE"
SSN = "SSN"
CARD = "CARD_NUMBER"
ADDRESS = "STREET_ADDRESS"
LICENCE = "DRIVERS_LICENCE"
PASSPORT = "PASSPORT"
PERSON = "PERSON"
# Earlier kinds win overlaps (a card number is not also reported as a phone number).
KINDS = (EMAIL, URL, CARD, SSN, IP_ADDRESS, PHONE, ADDRESS, LICENCE, PASSPORT, PERSON)

PHONE_REGIONS = ("US", "GB", "FR", "DE", "CA", "AU", "IE", "IN")
ACCEPT = 0.4  # Presidio's score below which a result needs a context word
CONTEXT_BOOST = 0.35  # Presidio's default context similarity factor
CONTEXT_CHARS = 48  # how far before a match a context word may stand

_PRESIDIO_KIND = {
    "EMAIL_ADDRESS": EMAIL,
    "URL": URL,
    "IP_ADDRESS": IP_ADDRESS,
    "CREDIT_CARD": CARD,
    "US_SSN": SSN,
    "PHONE_NUMBER": PHONE,
}
_CONTEXT = {
    SSN: ("ssn", "social security", "social", "security number", "ss#", "ssn#"),
    PHONE: ("phone", "call", "cell", "mobile", "number", "text", "tel", "ring", "reach", "fax"),
    IP_ADDRESS: ("ip", "address", "server", "host"),
}
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|\bversion|\bver\.?|\brelease|\bbuild)\s*$")


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    text: str


# --- our own rules: only what the libraries lack ------------------------------------

_MAIL_HOSTS = (
    "gmail|googlemail|yahoo|hotmail|outlook|live|msn|aol|icloud|me|mac|protonmail|proton|"
    "gmx|mail|yandex|zoho|comcast|verizon|att|sbcglobal|btinternet|orange|free|web"
)
_AT = r"(?:\s*[\(\[\{<]\s*(?:at|AT)\s*[\)\]\}>]\s*|\s+(?:at|AT)\s+)"
_DOT = r"(?:\s*[\(\[\{<]\s*(?:dot|DOT)\s*[\)\]\}>]\s*|\s+(?:dot|DOT)\s+|\.)"
_SPELLED_EMAIL = re.compile(
    r"(?<![\w.])(?P<user>[A-Za-z0-9][\w.+-]{0,40})" + _AT + r"(?P<host>[A-Za-z0-9-]{2,40})"
    r"(?P<rest>(?:" + _DOT + r"[A-Za-z0-9-]{2,20}){1,3})(?![\w])"
)
_EMAIL_CUE = re.compile(r"(?i)\b(?:e-?mail|mail|contact|write to|reach)\b")

# "+" and a country code: phone-shaped whatever libphonenumber's validity tables say
# (it rejects reserved drama and fictional ranges, which still read as numbers).
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?!\d)")
_NANP = re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)")

_SUFFIX = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|"
    r"terrace|way|parkway|pkwy|highway|hwy|circle|cir|square|sq|trail|close|crescent|row|loop|"
    r"plaza|alley|grove|mews|gardens)"
)
_ADDRESS = re.compile(
    r"(?i)(?<![\w.,$])\d{1,6}[a-z]?\s+(?:[nsew]\.?\s+)?(?P<name>(?:[a-z][a-z'-]+\s+){1,3})"
    + _SUFFIX
    + r"\b\.?"
    r"(?:,?\s+(?:apt|apartment|unit|suite|#)\.?\s*\w+)?"
    r"(?:,\s*[a-z]+(?:\s[a-z]+)?)?"
    r"(?:,?\s+[a-z]{2}\s+\d{5}(?:-\d{4})?)?"
)
# Words that make "5 Miles Down The Road" or "3 blocks down the street" a distance,
# not an address: units, counts and function words never found in a street's name.
_NOT_STREET = frozenset(
    """the a an of to and or down up along across over from into onto off by at in on
    is was are my your his her our their this that more less than about
    mile miles km kilometers kilometres metres meters feet foot ft yards yard blocks block
    minutes minute mins hours hour days day weeks week months month years year times
    people cars lanes steps doors houses floors stops exits""".split()  # noqa: SIM905
)

_LICENCE = re.compile(
    r"(?i)\b(?:driver'?s?\s+licen[cs]e|DL|licen[cs]e)\s*(?:number|no\.?|#)?\s*(?:is|:)?\s*"
    r"([A-Z0-9](?=[A-Z0-9-]*\d)[A-Z0-9-]{5,17})\b"
)
_PASSPORT = re.compile(
    r"(?i)\bpassport\s*(?:number|no\.?|#)?\s*(?:is|:)?\s*([A-Z0-9](?=[A-Z0-9]*\d)[A-Z0-9]{5,8})\b"
)
_PERSON = re.compile(
    r"(?i:\b(?:my name is|my name's|i am called|i'm called|call me|his name is|her name is|"
    r"their name is|named|full name is|name:))\s+"
    r"((?:[A-Z][a-z'-]+|[A-Z]\.)(?:\s+(?:[A-Z][a-z'-]+|[A-Z]\.)){0,2})"
)
_NOT_NAME = frozenset(
    "I The A An It This That Me You He She We They Back Later Tomorrow Today Now".split()  # noqa: SIM905
)

# Cheap triggers: a recognizer runs only on texts that could hold what it finds, so
# the usual red-team transcript (few digits, no '@') costs a handful of regex scans.
_DIGITS7 = re.compile(r"(?:\d\D{0,3}){7}")
_HAS_AT = re.compile(r"@|\b(?:at|AT)\b")
_HAS_DOTWORD = re.compile(r"[A-Za-z0-9]\.[A-Za-z]{2}")
_HAS_IP = re.compile(r"\d\.\d|[0-9a-fA-F]:[0-9a-fA-F:]")


@lru_cache(maxsize=1)
def _presidio() -> dict[str, Any]:
    """Presidio's recognizers, built once.

    ``presidio_analyzer`` imports Hugging Face ``transformers`` (and with it PyTorch)
    for an optional NER engine we never use; that costs seconds per process. Both are
    hidden from the import when not already loaded, and made importable again after.
    """
    hidden = [m for m in ("transformers", "torch") if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UrlRecognizer,
            UsSsnRecognizer,
        )
    finally:
        for name in hidden:
            sys.modules.pop(name, None)
    import tldextract

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer validating the domain with tldextract's bundled
        suffix list: its default fetches the list over the network on first use."""

        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline(pattern_text.split("@")[-1]).suffix)

    return {
        "email": OfflineEmailRecognizer(),
        "url": UrlRecognizer(),
        "ip": IpRecognizer(),
        "card": CreditCardRecognizer(),
        "ssn": UsSsnRecognizer(),
        "phone": PhoneRecognizer(supported_regions=PHONE_REGIONS, leniency=1),
    }


def _has_context(text: str, start: int, kind: str) -> bool:
    before = text[max(0, start - CONTEXT_CHARS) : start].lower()
    return any(re.search(r"\b" + re.escape(word), before) for word in _CONTEXT.get(kind, ()))


def _run(recognizer: Any, text: str) -> Iterable[tuple[str, int, int, float]]:
    for result in recognizer.analyze(text, recognizer.supported_entities, None):
        kind = _PRESIDIO_KIND.get(result.entity_type)
        if kind is not None:
            yield kind, result.start, result.end, float(result.score)


def _library_candidates(text: str) -> list[tuple[str, int, int]]:
    rec = _presidio()
    found: list[tuple[str, int, int]] = []
    runs: list[Any] = []
    if "@" in text:
        runs.append(rec["email"])
    if _HAS_DOTWORD.search(text):
        runs.append(rec["url"])
    if _HAS_IP.search(text):
        runs.append(rec["ip"])
    if _DIGITS7.search(text):
        runs += [rec["card"], rec["ssn"], rec["phone"]]
    for recognizer in runs:
        for kind, start, end, score in _run(recognizer, text):
            span = text[start:end]
            if kind == URL and not _personal_url(span):
                continue
            if kind == IP_ADDRESS and _VERSION_BEFORE.search(text[max(0, start - 12) : start]):
                continue
            if kind == PHONE and re.fullmatch(r"\d+", span):
                score = ACCEPT - CONTEXT_BOOST  # a bare digit run needs a phone word
            if score < ACCEPT - 1e-9 and not (
                score + CONTEXT_BOOST >= ACCEPT - 1e-9 and _has_context(text, start, kind)
            ):
                continue
            found.append((kind, start, end))
    return found


def _personal_url(span: str) -> bool:
    """A URL with a path, query or user part can name a person (a profile, a file);
    a bare domain ("google.com") names a site and stays."""
    rest = re.sub(r"(?i)^[a-z]+://", "", span)
    if "@" in rest.split("/")[0]:
        return True
    path = rest.partition("/")[2]
    return bool(re.search(r"[A-Za-z0-9]", path))


def _own_candidates(text: str) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    if _HAS_AT.search(text):
        for m in _SPELLED_EMAIL.finditer(text):
            host, user = m.group("host").lower(), m.group("user")
            bracketed = bool(re.search(r"[\(\[\{<]", m.group(0)))
            cue = _EMAIL_CUE.search(text[max(0, m.start() - CONTEXT_CHARS) : m.start()])
            known = re.fullmatch(_MAIL_HOSTS, host) is not None
            if bracketed or known or cue or re.search(r"[._\d]", user):
                found.append((EMAIL, m.start(), m.end()))
    if _DIGITS7.search(text):
        found += [(PHONE, m.start(), m.end()) for m in _NANP.finditer(text)]
        for m in _INTERNATIONAL.finditer(text):
            if 8 <= sum(ch.isdigit() for ch in m.group()) <= 15:
                found.append((PHONE, m.start(), m.end()))
    if re.search(r"\d", text):
        for m in _ADDRESS.finditer(text):
            words = m.group("name").lower().split()
            suffixes = [re.fullmatch(_SUFFIX, w) for w in words]
            if not any(w in _NOT_STREET for w in words) and not all(suffixes):
                found.append((ADDRESS, m.start(), m.end()))
    found += [(LICENCE, m.start(1), m.end(1)) for m in _LICENCE.finditer(text)]
    found += [(PASSPORT, m.start(1), m.end(1)) for m in _PASSPORT.finditer(text)]
    for m in _PERSON.finditer(text):
        name = m.group(1)
        if name.split()[0] not in _NOT_NAME:
            found.append((PERSON, m.start(1), m.end(1)))
    return found


def find_pii(text: str) -> list[PiiMatch]:
    """Non-overlapping PII matches in text order. Overlaps go to the kind earlier in
    :data:`KINDS`, then to the longer match."""
    candidates = _library_candidates(text) + _own_candidates(text)
    order = {kind: i for i, kind in enumerate(KINDS)}
    candidates.sort(key=lambda c: (order[c[0]], -(c[2] - c[1]), c[1]))
    chosen: list[PiiMatch] = []
    for kind, start, end in candidates:
        if any(start < m.end and m.start < end for m in chosen):
            continue
        chosen.append(PiiMatch(kind, start, end, text[start:end]))
    return sorted(chosen, key=lambda m: m.start)


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


def pii_counts(texts: Iterable[str]) -> Counter[str]:
    """Total matches per kind over many texts (plus ``texts_with_pii``)."""
    total: Counter[str] = Counter()
    for text in texts:
        found = find_pii(text)
        total.update(m.kind for m in found)
        if found:
            total["texts_with_pii"] += 1
    return total


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies (kept for callers
    that check a number without a text around it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
