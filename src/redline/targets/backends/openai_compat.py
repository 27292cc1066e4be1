"""A backend for any OpenAI-compatible server: vLLM, Ollama, llama.cpp's server, OpenAI.

Why it exists: past one machine (DESIGN.md section 7) models are served by a separate
process; Redline then talks HTTP to it with the same ``generate`` contract as the
embedded llama.cpp backend, so defences and the platform do not notice the difference.

What it guarantees:
- every request has a timeout (``timeout_s``); a server that never answers becomes
  :class:`BackendTimeout`, a closed port :class:`BackendUnavailable`;
- 429 and 5xx answers are retried with exponential backoff (honouring ``Retry-After``);
- at most ``max_concurrency`` requests are in flight per backend, across all threads;
- ``n`` samples are asked for with the ``n`` parameter; servers that ignore it (llama.cpp's
  server answers one choice) are topped up with concurrent requests;
- a prompt that does not fit loses its oldest unpinned turns, as with the embedded backend;
- the API key comes from an environment variable and is never logged or shown.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from redline.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextOverflow,
    EmptyGeneration,
)
from redline.targets.base import Conversation, Generation, Message, Sample

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from redline.targets.base import GenerateOptions

_ROLE = {"system": "system", "human": "user", "assistant": "assistant"}
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_S = 30.0
TRANSCRIPT_STOP = ("\nHuman:", "\nAssistant:")  # the model began the next turn itself


def render_transcript(conversation: Sequence[Message]) -> str:
    """The hh-rlhf transcript form for base models, ending with an open assistant turn.

    Same text as the embedded backend renders (``backends.prompting``), so a base model
    sees the same prompt whether it runs in-process or behind a server; kept here so this
    module does not import llama.cpp.
    """
    parts: list[str] = []
    for message in conversation:
        text = message.text.strip()
        if message.role == "system":
            parts.append(f"\n\n{text}" if parts else text)
        else:
            speaker = "Human" if message.role == "human" else "Assistant"
            parts.append(f"\n\n{speaker}: {text}")
    return "".join(parts) + "\n\nAssistant:"


def drop_oldest_unpinned(conversation: Sequence[Message]) -> list[Message] | None:
    """Remove the oldest unpinned exchange (human + its reply); None when nothing is left
    to drop (only pinned messages and the final human message remain)."""
    messages = list(conversation)
    for i, message in enumerate(messages[:-1]):
        if message.pinned:
            continue
        end = i + 1
        # Keep turns paired: dropping a human message drops the assistant reply after it.
        if (
            message.role == "human"
            and end < len(messages) - 1
            and (messages[end].role == "assistant" and not messages[end].pinned)
        ):
            end += 1
        return messages[:i] + messages[end:]
    return None


def _is_context_overflow(response: httpx.Response) -> bool:
    if response.status_code not in (400, 413):
        return False
    body = response.text.lower()
    return "context_length_exceeded" in body or (
        "context" in body and any(w in body for w in ("length", "window", "exceed", "too long"))
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        delay = parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
    return min(max(delay, 0.0), _MAX_RETRY_AFTER_S)


def _token_logprobs(data: Any) -> list[dict[str, Any]] | None:
    """A choice's ``logprobs`` in :class:`Backend`'s form, from either API's shape: chat
    (``content: [{token, logprob, top_logprobs: [{token, logprob}]}]``) or completions
    (``tokens: [...]``, ``top_logprobs: [{token: logprob}]``); None if absent or unreadable
    (the caller then goes without, as with a server that ignores the option)."""
    if not isinstance(data, dict):
        return None
    try:
        if isinstance(data.get("content"), list):
            return [
                {
                    "token": str(item["token"]),
                    "top": {str(t["token"]): float(t["logprob"]) for t in item["top_logprobs"]},
                }
                for item in data["content"]
            ]
        tokens, tops = data.get("tokens"), data.get("top_logprobs")
        if isinstance(tokens, list) and isinstance(tops, list) and len(tokens) == len(tops):
            return [
                {"token": str(tok), "top": {str(k): float(v) for k, v in (top or {}).items()}}
                for tok, top in zip(tokens, tops, strict=True)
            ]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OpenAICompatBackend:
    """Chat (or text) completions from an OpenAI-compatible HTTP server.

    ``chat=False`` serves base models without a chat template: the conversation becomes a
    Human:/Assistant: transcript sent to ``/v1/completions`` with stop sequences.
    ``backoff_s`` is the first retry delay (doubled each retry, with jitter).
    """

    #: A remote server exposes no hidden states: ``embed`` is accepted and ignored.
    supports_embeddings = False

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 4,
        max_concurrency: int = 4,
        chat: bool = True,
        backoff_s: float = 0.5,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.is_chat = chat
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.backoff_s = backoff_s
        self.api_key_env = api_key_env
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_concurrency),
        )
        self._slots = threading.BoundedSemaphore(max_concurrency)
        # None = unknown yet; learnt from the first answer to a request with n > 1.
        self._server_honours_n: bool | None = None

    def __repr__(self) -> str:  # never show headers: they hold the API key
        return f"OpenAICompatBackend(base_url={self.base_url!r}, model={self.model!r})"

    def close(self) -> None:
        self._client.close()

    # -- rendering -----------------------------------------------------------------------

    def render_prompt(self, conversation: Sequence[Message]) -> str:
        """The transcript a base model sees (chat servers apply their own template)."""
        return render_transcript(conversation)

    def _payload(
        self, conversation: Sequence[Message], n: int, opts: Generation
    ) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": opts.max_tokens,
            "temperature": opts.temperature,
            "n": n,
        }
        if opts.seed is not None:
            payload["seed"] = opts.seed
        if opts.ignore_eos:
            payload["ignore_eos"] = True  # a vLLM / llama.cpp extension; others ignore it
        if self.is_chat:
            payload["messages"] = [{"role": _ROLE[m.role], "content": m.text} for m in conversation]
            if opts.top_logprobs:
                payload["logprobs"] = True
                payload["top_logprobs"] = opts.top_logprobs
            return "/chat/completions", payload
        payload["prompt"] = render_transcript(conversation)
        payload["stop"] = list(TRANSCRIPT_STOP)
        if opts.top_logprobs:
            payload["logprobs"] = opts.top_logprobs  # the completions API's form
        return "/completions", payload

    # -- HTTP with retries ---------------------------------------------------------------

    def _post(self, path: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST with the concurrency limit, timeouts and retries; returns (json, seconds)."""
        url = f"{self.base_url}{path}"
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                with self._slots:
                    response = self._client.post(path, json=payload)
            except httpx.TimeoutException as exc:
                raise BackendTimeout(
                    f"{url} did not answer within {self.timeout_s:g}s "
                    f"({type(exc).__name__}); is the server overloaded? raise timeout_s"
                ) from exc
            except httpx.TransportError as exc:
                raise BackendUnavailable(
                    f"cannot reach {url} ({type(exc).__name__}: {_short(str(exc), 120)}); "
                    "is the server running and the base URL right?"
                ) from exc
            elapsed = time.perf_counter() - started
            status = response.status_code
            if status < 400:
                try:
                    return response.json(), elapsed
                except ValueError as exc:
                    raise BackendError(f"{url} answered {status} with invalid JSON") from exc
            if status in _RETRY_STATUS and attempt < self.max_retries:
                delay = _retry_after(response)
                if delay is None:
                    delay = self.backoff_s * (2**attempt) * (0.5 + random.random() / 2)
                attempt += 1
                time.sleep(delay)
                continue
            raise self._error_for(response, url, attempt)

    def _error_for(self, response: httpx.Response, url: str, retries: int) -> BackendError:
        status = response.status_code
        body = _short(response.text)
        if _is_context_overflow(response):
            return ContextOverflow(f"{url}: the prompt does not fit the model's context: {body}")
        if status in (401, 403):
            return BackendUnavailable(
                f"{url} refused the request ({status}); check the API key in ${self.api_key_env}"
            )
        if status == 404:
            return BackendUnavailable(
                f"{url} answered 404: wrong base URL (it usually ends in /v1) "
                f"or unknown model {self.model!r}: {body}"
            )
        if status in _RETRY_STATUS:
            return BackendUnavailable(
                f"{url} still answered {status} after {retries} retries: {body}"
            )
        return BackendError(f"{url} answered {status}: {body}")

    # -- sampling ------------------------------------------------------------------------

    def _checked_shape(self, data: Any, path: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``choices`` and ``usage`` of an answer, or a BackendError naming what is off.

        Why: a server that is not quite OpenAI-compatible (``choices`` as a string, a
        message without text) must fail as one clear line, not as a traceback later.
        """
        where = f"{self.base_url}{path}"

        def wrong(what: str, value: Any) -> BackendError:
            return BackendError(
                f"{where} answered in an unexpected shape: {what}, got "
                f"{type(value).__name__} {_short(repr(value), 60)}; is it an OpenAI-compatible "
                "server (the base URL usually ends in /v1)?"
            )

        if not isinstance(data, dict):
            raise wrong("expected a JSON object", data)
        choices = data.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            raise wrong("'choices' must be a list of objects", choices)
        text_key = "message" if self.is_chat else "text"
        for choice in choices:
            value = choice.get(text_key)
            if self.is_chat:
                if value is not None and not isinstance(value, dict):
                    raise wrong("'choices[].message' must be an object", value)
                value = (value or {}).get("content")
            if value is not None and not isinstance(value, str):
                raise wrong(f"the reply text of 'choices[].{text_key}' must be a string", value)
        usage = data.get("usage") or {}
        if not isinstance(usage, dict) or not all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool))
            for k, v in usage.items()
            if k in ("prompt_tokens", "completion_tokens")
        ):
            raise wrong("'usage' must be an object of token counts", usage)
        return choices, usage

    def _request(self, conversation: Sequence[Message], n: int, opts: Generation) -> list[Sample]:
        """One request for ``n`` choices, shortening the conversation on overflow."""
        messages: list[Message] | None = list(conversation)
        dropped = 0
        while True:
            assert messages is not None
            path, payload = self._payload(messages, n, opts)
            try:
                data, elapsed = self._post(path, payload)
                break
            except ContextOverflow:
                messages = drop_oldest_unpinned(messages)
                if messages is None:
                    raise
                dropped += 1
        choices, usage = self._checked_shape(data, path)
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_total = int(usage.get("completion_tokens") or 0)
        samples = []
        for choice in choices:
            if self.is_chat:
                text = ((choice.get("message") or {}).get("content")) or ""
            else:
                text = choice.get("text") or ""
            samples.append(
                Sample(
                    text=text.strip(),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_total // max(len(choices), 1),
                    latency_s=elapsed,
                    meta={
                        "backend": "openai",
                        "model": self.model,
                        "finish_reason": choice.get("finish_reason"),
                        "seed": opts.seed,
                        "dropped_turns": dropped,
                    },
                )
            )
            if opts.top_logprobs:
                logprobs = _token_logprobs(choice.get("logprobs"))
                if logprobs is not None:
                    samples[-1].meta["logprobs"] = logprobs
        return samples

    def _fan_out(
        self, conversation: Sequence[Message], count: int, opts: Generation
    ) -> list[Sample]:
        """``count`` single-choice requests in parallel, each with its own seed."""
        each = [
            replace(opts, seed=None if opts.seed is None else opts.seed + i) for i in range(count)
        ]
        if count == 1:
            return self._request(conversation, 1, each[0])
        with ThreadPoolExecutor(max_workers=min(count, self.max_concurrency)) as pool:
            futures = [pool.submit(self._request, conversation, 1, o) for o in each]
            return [sample for f in futures for sample in f.result()]

    def generate(
        self, conversation: Conversation, n: int = 1, **options: Unpack[GenerateOptions]
    ) -> list[Sample]:
        """``n`` non-empty replies. ``embed`` is accepted for interface parity but a remote
        server exposes no hidden states, so samples carry no ``meta["embedding"]``."""
        opts = Generation(**options)
        seed = opts.seed
        if n < 1:
            raise ValueError("n must be at least 1")
        if not conversation:
            raise ValueError("the conversation is empty")
        samples: list[Sample] = []
        # One extra round re-asks for replies that came back empty.
        for round_ in range(2):
            missing = n - len(samples)
            round_seed = None if seed is None else seed + round_ * 1000 + len(samples)
            this_round = replace(opts, seed=round_seed)
            if self._server_honours_n is False or missing == 1:
                got = self._fan_out(conversation, missing, this_round)
            else:
                got = self._request(conversation, missing, this_round)
                if self._server_honours_n is None and len(got) < missing:
                    self._server_honours_n = False
                elif len(got) >= missing:
                    self._server_honours_n = True
                if len(got) < missing:
                    more_seed = None if round_seed is None else round_seed + len(got)
                    got += self._fan_out(
                        conversation, missing - len(got), replace(opts, seed=more_seed)
                    )
            samples += [s for s in got if s.text]
            if len(samples) >= n:
                return samples[:n]
        raise EmptyGeneration(
            f"{self.name} returned empty text for {n - len(samples)} of {n} samples "
            "(twice); try a higher max_tokens or temperature, or check the stop sequences"
        )
