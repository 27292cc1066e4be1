"""Issue 14: an OpenAI-compatible server answering in the wrong shape is one clear error.

A real HTTP server on 127.0.0.1 plays the misbehaving server (a real model server cannot
be made to answer ``choices`` as a string).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from redline.errors import BackendError, RedlineError
from redline.targets.backends.openai_compat import OpenAICompatBackend
from redline.targets.base import Message

HELLO = [Message("human", "Hello there")]


@pytest.fixture
def answering() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Any) -> str:
        body = json.dumps(answer).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


BAD_ANSWERS = {
    "choices as a string": ({"choices": "oops"}, "'choices' must be a list of objects"),
    "choices of strings": ({"choices": ["a", "b"]}, "'choices' must be a list of objects"),
    "message as a string": ({"choices": [{"message": "hi"}]}, "must be an object"),
    "content as a number": ({"choices": [{"message": {"content": 3}}]}, "must be a string"),
    "usage as a list": (
        {"choices": [{"message": {"content": "hi"}}], "usage": [1]},
        "'usage' must be an object",
    ),
    "answer is a list": ([1, 2], "expected a JSON object"),
}


@pytest.mark.parametrize(("answer", "words"), BAD_ANSWERS.values(), ids=list(BAD_ANSWERS))
def test_wrong_shapes_are_backend_errors(answering: Any, answer: Any, words: str) -> None:
    url = answering(answer)
    backend = OpenAICompatBackend(url, "test-model", timeout_s=5.0, backoff_s=0.01)
    with pytest.raises(BackendError) as caught:
        backend.generate(HELLO, n=1)
    message = str(caught.value)
    assert isinstance(caught.value, RedlineError)  # the CLI maps it to exit 2
    assert words in message and url in message and "OpenAI-compatible" in message
    assert "\n" not in message


def test_completions_text_must_be_a_string(answering: Any) -> None:
    url = answering({"choices": [{"text": {"nested": True}}]})
    backend = OpenAICompatBackend(url, "test-model", chat=False, timeout_s=5.0)
    with pytest.raises(BackendError, match=r"choices\[\]\.text"):
        backend.generate(HELLO, n=1)
