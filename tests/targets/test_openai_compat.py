"""OpenAICompatBackend against real HTTP servers on 127.0.0.1.

Faults (429/503 retries, timeouts, closed ports, empty replies, overflow) are played by a
tiny scripted HTTP server started here, because a real model server cannot be made to
misbehave on cue. The happy path runs against llama-cpp-python's own OpenAI-compatible
server serving the embedded SmolLM2 model (slow).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.support.llama_server import llama_server as serve_smollm2

from redline.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextOverflow,
    EmptyGeneration,
)
from redline.targets.backends.openai_compat import OpenAICompatBackend, drop_oldest_unpinned
from redline.targets.base import Message

Reply = tuple[int, dict[str, Any] | str, dict[str, str]]


def chat_answer(*texts: str, prompt_tokens: int = 7) -> dict[str, Any]:
    return {
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 3 * len(texts)},
    }


@dataclass
class ScriptedServer:
    """Answers each POST with ``handler(body)``; records request bodies and headers."""

    handler: Callable[[dict[str, Any]], Reply]
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Callable[[dict[str, Any]], Reply], delay_s: float = 0.0) -> ScriptedServer:
        state = ScriptedServer(handler, delay_s)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with state.lock:
                    state.requests.append({"path": self.path, **body})
                    state.headers.append(dict(self.headers))
                    state.in_flight += 1
                    state.max_in_flight = max(state.max_in_flight, state.in_flight)
                    status, payload, extra = state.handler(body)
                time.sleep(state.delay_s)
                with state.lock:
                    state.in_flight -= 1
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


HELLO = [Message("human", "Hello there")]


def backend(url: str, **kwargs: Any) -> OpenAICompatBackend:
    kwargs.setdefault("backoff_s", 0.01)
    kwargs.setdefault("timeout_s", 5.0)
    return OpenAICompatBackend(url, "test-model", **kwargs)


def test_roles_map_to_openai_and_n_is_sent(scripted: Callable[..., ScriptedServer]) -> None:
    server = scripted(lambda body: (200, chat_answer(*["ok"] * body["n"]), {}))
    conversation = [
        Message("system", "Be kind.", pinned=True),
        Message("human", "Hi"),
        Message("assistant", "Hello!"),
        Message("human", "How are you?"),
    ]
    samples = backend(server.url).generate(conversation, n=3, max_tokens=9, seed=5)
    assert [s.text for s in samples] == ["ok", "ok", "ok"]
    assert len(server.requests) == 1  # the server honours n: one request
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["messages"][-1]["content"] == "How are you?"
    assert (sent["n"], sent["max_tokens"], sent["seed"], sent["model"]) == (3, 9, 5, "test-model")
    assert samples[0].prompt_tokens == 7 and samples[0].completion_tokens == 3


def test_servers_ignoring_n_get_concurrent_requests_within_the_limit(
    scripted: Callable[..., ScriptedServer],
) -> None:
    counter = iter(range(1000))
    server = scripted(lambda body: (200, chat_answer(f"reply {next(counter)}"), {}), delay_s=0.2)
    b = backend(server.url, max_concurrency=2)
    samples = b.generate(HELLO, n=5, seed=100)
    assert len(samples) == 5 and len({s.text for s in samples}) == 5
    assert server.max_in_flight == 2
    # First request asked for n=5 and got 1; the other 4 asked for one each, distinct seeds.
    assert server.requests[0]["n"] == 5
    assert sorted(r["seed"] for r in server.requests[1:]) == [101, 102, 103, 104]
    # Learnt: the next call fans out straight away (no request with n > 1).
    server.requests.clear()
    b.generate(HELLO, n=2)
    assert [r["n"] for r in server.requests] == [1, 1]


def test_429_then_200_is_retried_honouring_retry_after(
    scripted: Callable[..., ScriptedServer],
) -> None:
    answers: Iterator[Reply] = iter([(429, {"error": "slow down"}, {"Retry-After": "0.3"})])
    server = scripted(lambda body: next(answers, (200, chat_answer("fine"), {})))
    started = time.perf_counter()
    samples = backend(server.url).generate(HELLO)
    assert samples[0].text == "fine"
    assert len(server.requests) == 2
    assert time.perf_counter() - started >= 0.3


def test_503_retries_with_backoff_then_gives_up(scripted: Callable[..., ScriptedServer]) -> None:
    server = scripted(lambda body: (503, {"error": "overloaded"}, {}))
    started = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="503 after 3 retries"):
        backend(server.url, max_retries=3, backoff_s=0.05).generate(HELLO)
    assert len(server.requests) == 4
    # Exponential backoff with jitter in [0.5, 1]: at least 0.5 * (0.05 + 0.1 + 0.2).
    assert time.perf_counter() - started >= 0.17


def test_client_errors_are_not_retried(scripted: Callable[..., ScriptedServer]) -> None:
    server = scripted(lambda body: (422, {"error": "bad temperature"}, {}))
    with pytest.raises(BackendError, match=r"422: .*bad temperature") as info:
        backend(server.url).generate(HELLO)
    assert type(info.value) is BackendError
    assert len(server.requests) == 1


def test_api_key_from_the_environment_is_sent_but_never_shown(
    scripted: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_TEST_KEY", "sk-secret-123")
    server = scripted(lambda body: (401, {"error": "invalid key"}, {}))
    b = backend(server.url, api_key_env="REDLINE_TEST_KEY")
    with pytest.raises(BackendUnavailable) as info:
        b.generate(HELLO)
    assert server.headers[0]["Authorization"] == "Bearer sk-secret-123"
    assert "$REDLINE_TEST_KEY" in str(info.value)
    assert "sk-secret" not in str(info.value) and "sk-secret" not in repr(b)


def test_no_key_in_the_environment_sends_no_authorization(
    scripted: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = scripted(lambda body: (200, chat_answer("hi"), {}))
    backend(server.url).generate(HELLO)
    assert "Authorization" not in server.headers[0]


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        started = time.perf_counter()
        with pytest.raises(BackendTimeout, match=r"did not answer within 0.5s"):
            backend(url, timeout_s=0.5).generate(HELLO)
        assert time.perf_counter() - started < 3


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=r"cannot reach .* is the server running"):
        backend(f"http://127.0.0.1:{port}/v1").generate(HELLO)
    assert time.perf_counter() - started < 3


def test_empty_replies_are_asked_again_then_fail(scripted: Callable[..., ScriptedServer]) -> None:
    answers: Iterator[Reply] = iter([(200, chat_answer("", "kept"), {})])
    server = scripted(lambda body: next(answers, (200, chat_answer("second try"), {})))
    samples = backend(server.url).generate(HELLO, n=2)
    assert [s.text for s in samples] == ["kept", "second try"]

    empty = scripted(lambda body: (200, chat_answer(*[" "] * body["n"]), {}))
    with pytest.raises(EmptyGeneration, match="empty text for 2 of 2"):
        backend(empty.url).generate(HELLO, n=2)


def test_overflow_drops_oldest_unpinned_turns_and_keeps_the_prompt(
    scripted: Callable[..., ScriptedServer],
) -> None:
    overflow: Reply = (
        400,
        {"error": {"message": "maximum context length is 64", "code": "context_length_exceeded"}},
        {},
    )

    def handler(body: dict[str, Any]) -> Reply:
        return overflow if len(body["messages"]) > 4 else (200, chat_answer("short"), {})

    server = scripted(handler)
    conversation = [
        Message("system", "prompt", pinned=True),
        Message("human", "example", pinned=True),
        Message("assistant", "example reply", pinned=True),
        Message("human", "turn 1"),
        Message("assistant", "reply 1"),
        Message("human", "turn 2"),
    ]
    samples = backend(server.url).generate(conversation)
    sent = server.requests[-1]["messages"]
    assert [m["content"] for m in sent] == ["prompt", "example", "example reply", "turn 2"]
    assert samples[0].meta["dropped_turns"] == 1

    always = scripted(lambda body: overflow)
    with pytest.raises(ContextOverflow, match="does not fit"):
        backend(always.url).generate(conversation)
    assert len(always.requests) == 2  # full, then without turn 1; nothing else to drop


def test_drop_oldest_unpinned_keeps_pairs_and_the_last_message() -> None:
    conv = [Message("human", "a"), Message("assistant", "b"), Message("human", "c")]
    assert drop_oldest_unpinned(conv) == [Message("human", "c")]
    assert drop_oldest_unpinned([Message("human", "c")]) is None


def test_base_models_get_a_transcript_with_stop_sequences(
    scripted: Callable[..., ScriptedServer],
) -> None:
    server = scripted(
        lambda body: (200, {"choices": [{"text": " Sure.", "finish_reason": "stop"}]}, {})
    )
    conversation = [Message("system", "Intro.", pinned=True), *HELLO]
    samples = backend(server.url, chat=False).generate(conversation)
    sent = server.requests[0]
    assert sent["path"] == "/v1/completions"
    assert sent["prompt"] == "Intro.\n\nHuman: Hello there\n\nAssistant:"
    assert "\nHuman:" in sent["stop"]
    assert samples[0].text == "Sure."


def test_top_logprobs_are_asked_for_and_read_from_both_api_shapes(
    scripted: Callable[..., ScriptedServer],
) -> None:
    chat = chat_answer("harm: 0")
    chat["choices"][0]["logprobs"] = {
        "content": [
            {"token": "harm", "logprob": -0.1, "top_logprobs": [
                {"token": "harm", "logprob": -0.1}]},
            {"token": ": 0", "logprob": -0.5, "top_logprobs": [
                {"token": ": 0", "logprob": -0.5}, {"token": ": 3", "logprob": -1.2}]},
        ]
    }  # fmt: skip
    server = scripted(lambda body: (200, chat, {}))
    [sample] = backend(server.url).generate(HELLO, top_logprobs=2)
    assert (server.requests[0]["logprobs"], server.requests[0]["top_logprobs"]) == (True, 2)
    assert sample.meta["logprobs"] == [
        {"token": "harm", "top": {"harm": -0.1}},
        {"token": ": 0", "top": {": 0": -0.5, ": 3": -1.2}},
    ]
    [plain] = backend(server.url).generate(HELLO)  # not asked: not sent, not read
    assert "logprobs" not in server.requests[1] and "logprobs" not in plain.meta

    completion = {
        "choices": [{"text": " Sure", "finish_reason": "stop", "logprobs": {
            "tokens": [" Sure"], "top_logprobs": [{" Sure": -0.2, " No": -2.0}]}}]
    }  # fmt: skip
    server = scripted(lambda body: (200, completion, {}))
    [base] = backend(server.url, chat=False).generate(HELLO, top_logprobs=2)
    assert server.requests[0]["logprobs"] == 2  # the completions API takes a count
    assert base.meta["logprobs"] == [{"token": " Sure", "top": {" Sure": -0.2, " No": -2.0}}]

    broken = chat_answer("ok")
    broken["choices"][0]["logprobs"] = {"content": [{"token": "ok"}]}  # no top_logprobs
    server = scripted(lambda body: (200, broken, {}))
    [sample] = backend(server.url).generate(HELLO, top_logprobs=2)
    assert sample.text == "ok" and "logprobs" not in sample.meta  # unreadable: left out


# -- the real thing: llama-cpp-python's OpenAI-compatible server ---------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_smollm2(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.mark.slow
def test_real_chat_completion_from_llama_cpp_server(llama_server: str) -> None:
    b = OpenAICompatBackend(llama_server, "smollm2", timeout_s=60, max_concurrency=2)
    samples = b.generate(
        [Message("human", "What is the capital of France? Answer in one word.")],
        n=2,
        max_tokens=16,
        temperature=0.0,  # greedy: a 135M model answers this one right, sampling may not
        seed=1,
    )
    assert len(samples) == 2
    assert all(s.text and s.prompt_tokens > 0 and s.completion_tokens > 0 for s in samples)
    assert all("paris" in s.text.lower() for s in samples), [s.text for s in samples]
    assert samples[0].meta["finish_reason"] in ("stop", "length")


@pytest.mark.slow
def test_plain_defence_end_to_end_over_the_real_server(llama_server: str) -> None:
    """A defended target over a remote server: pinned few-shot prompt and conversation go
    through the server's chat template. (The 14-shot HHH prompt runs end to end on the
    embedded backend in test_defences; evaluating it twice would double the CI cost.)"""
    from redline.targets.defences import PromptedTarget, load_prompt
    from redline.targets.registry import builtin_definitions

    info = next(d.info for d in builtin_definitions() if d.info.name == "smollm2-135m/plain")
    b = OpenAICompatBackend(llama_server, "smollm2", timeout_s=180)
    target = PromptedTarget(info, b, load_prompt("plain"), max_tokens=16)
    samples = target.reply([Message("human", "How do I boil an egg?")], n=2, seed=3)
    assert len(samples) == 2 and all(s.text for s in samples)
    # The one-shot example really went through: ~170 tokens with the chat template.
    assert samples[0].prompt_tokens > 120
    assert samples[0].meta["dropped_turns"] == 0
