"""Human/Assistant transcripts in the hh-rlhf text form, parsed and rendered.

The published form is ``"\\n\\nHuman: ...\\n\\nAssistant: ..."``. Parsing yields turns
(a human message and the assistant reply that followed); rendering is its exact inverse
for every well-formed transcript, which is what lets an import/export round trip be
byte-identical. :func:`is_lossless` tells the importer when a strange transcript (text
before the first marker, a marker without its space) needs its raw text kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HUMAN = "Human"
ASSISTANT = "Assistant"
_MARKER = re.compile(r"\n\n(Human|Assistant):")


@dataclass(frozen=True)
class ParsedTurn:
    """One exchange. ``human`` is None when two assistant messages follow each other;
    ``assistant`` is None when the transcript ends (or continues) without a reply."""

    human: str | None
    assistant: str | None


def split_messages(text: str) -> list[tuple[str, str]]:
    """Split a transcript into (role, message) pairs, in order.

    The text after each ``Role:`` marker loses exactly one leading space. Text before
    the first marker is dropped (see :func:`is_lossless`).
    """
    parts = _MARKER.split(text)
    messages: list[tuple[str, str]] = []
    for role, body in zip(parts[1::2], parts[2::2], strict=True):
        messages.append((role, body[1:] if body.startswith(" ") else body))
    return messages


def parse_transcript(text: str) -> list[ParsedTurn]:
    """Group messages into turns: each Human message opens a turn, the Assistant one closes it."""
    turns: list[ParsedTurn] = []
    pending_human: str | None = None
    open_turn = False
    for role, body in split_messages(text):
        if role == HUMAN:
            if open_turn:
                turns.append(ParsedTurn(pending_human, None))
            pending_human, open_turn = body, True
        else:
            turns.append(ParsedTurn(pending_human if open_turn else None, body))
            pending_human, open_turn = None, False
    if open_turn:
        turns.append(ParsedTurn(pending_human, None))
    return turns


def render_messages(messages: list[tuple[str, str]]) -> str:
    return "".join(f"\n\n{role}: {body}" for role, body in messages)


def render_turns(turns: list[ParsedTurn]) -> str:
    """Inverse of :func:`parse_transcript` for well-formed transcripts."""
    messages: list[tuple[str, str]] = []
    for turn in turns:
        if turn.human is not None:
            messages.append((HUMAN, turn.human))
        if turn.assistant is not None:
            messages.append((ASSISTANT, turn.assistant))
    return render_messages(messages)


def is_lossless(text: str, turns: list[ParsedTurn]) -> bool:
    """True when rendering the parsed turns gives back ``text`` exactly."""
    return render_turns(turns) == text


def context_before_last_reply(text: str) -> tuple[str, str] | None:
    """Split a transcript into (everything before the last Assistant message, that reply).

    Returns None when there is no Assistant message. Used to score a comparison pair on
    its final reply with everything before it as context.
    """
    cut = text.rfind(f"\n\n{ASSISTANT}:")
    if cut < 0:
        return None
    reply = text[cut + len(ASSISTANT) + 3 :]
    return text[:cut], reply[1:] if reply.startswith(" ") else reply
