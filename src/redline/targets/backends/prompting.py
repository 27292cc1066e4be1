"""What a model sees: rendering a conversation, and fitting it into the context window.

Chat models get their own chat template (from the GGUF, rendered with llama-cpp-python's
Jinja2 formatter, the same sandboxed renderer Hugging Face uses). Base models get the
transcript format of the paper and of hh-rlhf: system/few-shot text first, then
"\\n\\nHuman: ...\\n\\nAssistant: ..." turns, ending with "\\n\\nAssistant:"; the stop
strings end a reply where the model starts writing the next human turn itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from redline.errors import ContextOverflow
from redline.targets.base import Message

#: Where a base model's reply ends: it has started the next turn of the transcript.
TRANSCRIPT_STOPS: tuple[str, ...] = ("\nHuman:", "\nAssistant:")

_CHAT_ROLES = {"system": "system", "human": "user", "assistant": "assistant"}
#: Special-token markup (ChatML ``<|im_end|>``, Llama 3 ``<|eot_id|>``...) typed into a
#: message would be parsed as a control token and let text forge turns of the template.
#: A zero-width space after ``<`` keeps the text readable but no longer a special token.
_SPECIAL_OPEN = "<|"
_DEFUSED_OPEN = "<\u200b|"


def defuse_special_tokens(text: str) -> str:
    """Message text that cannot close or open a chat-template turn."""
    return text.replace(_SPECIAL_OPEN, _DEFUSED_OPEN)


def render_transcript(conversation: Sequence[Message]) -> str:
    """hh-rlhf transcript: system text first, then Human:/Assistant: turns, open reply."""
    parts: list[str] = []
    for msg in conversation:
        text = msg.text.strip()
        if msg.role == "system":
            parts.append(f"\n\n{text}" if parts else text)
        elif msg.role == "human":
            parts.append(f"\n\nHuman: {text}")
        else:
            parts.append(f"\n\nAssistant: {text}")
    parts.append("\n\nAssistant:")
    return "".join(parts)


class ChatRenderer:
    """Renders messages with a model's Jinja chat template, generation prompt appended."""

    def __init__(self, template: str, *, bos_token: str, eos_token: str) -> None:
        self._formatter = Jinja2ChatFormatter(
            template=template, bos_token=bos_token, eos_token=eos_token
        )

    def __call__(self, conversation: Sequence[Message]) -> str:
        messages = [
            {"role": _CHAT_ROLES[m.role], "content": defuse_special_tokens(m.text)}
            for m in conversation
        ]
        return self._formatter(messages=messages).prompt  # type: ignore[arg-type]


@dataclass(frozen=True)
class FittedPrompt:
    """The messages kept, their rendering, its token count, and what had to go."""

    messages: tuple[Message, ...]
    text: str
    n_tokens: int
    dropped_turns: int
    dropped_messages: int


def fit_conversation(
    conversation: Sequence[Message],
    *,
    render: Callable[[Sequence[Message]], str],
    count: Callable[[str], int],
    budget: int,
    where: str,
) -> FittedPrompt:
    """Drop the oldest unpinned turns until the rendered prompt has at most ``budget`` tokens.

    A turn is an unpinned human message and the unpinned assistant replies that follow it.
    Pinned messages (system prompt, few-shot examples) and the last message always stay;
    if those alone do not fit, raise ContextOverflow.
    """
    kept = list(conversation)
    dropped_turns = dropped_messages = 0
    while True:
        text = render(kept)
        n_tokens = count(text)
        if n_tokens <= budget:
            return FittedPrompt(tuple(kept), text, n_tokens, dropped_turns, dropped_messages)
        victim = _oldest_droppable_turn(kept)
        if victim is None:
            raise ContextOverflow(
                f"{where}: the prompt needs {n_tokens} tokens but only {budget} fit "
                "(context minus max_tokens) even after dropping every unpinned turn; "
                "shorten the system/few-shot prompt or the last message, lower max_tokens "
                "or use a larger n_ctx"
            )
        start, end = victim
        dropped_messages += end - start
        dropped_turns += 1
        del kept[start:end]


def _oldest_droppable_turn(messages: list[Message]) -> tuple[int, int] | None:
    """Index range [start, end) of the oldest unpinned turn, never the last message."""
    last = len(messages) - 1
    for start, msg in enumerate(messages[:last]):
        if msg.pinned or msg.role == "system":
            continue
        end = start + 1
        if msg.role == "human":
            while end < last and messages[end].role == "assistant" and not messages[end].pinned:
                end += 1
        return start, end
    return None
