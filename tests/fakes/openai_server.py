"""A real HTTP server speaking the OpenAI chat-completions protocol (`POST /v1/chat/completions`), for the
`llm` executor's tests: the executor's own httpx client code runs; only the far end is scripted.

Built on `FakeHTTPServer`, so it records every request (headers included, so a test can check which key was
sent) and answers from a script: `reply(content, usage)` sets the answer, `fail_then_reply(500, ...)` makes the
next call(s) fail first.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.http_server import FakeHTTPServer, RecordedRequest, Reply

CHAT_PATH = "/v1/chat/completions"
DEFAULT_USAGE = {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}


def completion(content: str, usage: dict[str, int] | None = None, *, model: str = "fake-model",
               finish_reason: str = "stop") -> dict[str, Any]:  # fmt: skip
    """An OpenAI chat-completion body; `usage=None` leaves usage out (some servers do)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def error_body(message: str, kind: str = "server_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": None}}


class FakeOpenAIServer(FakeHTTPServer):
    def __init__(self, content: str = "ok", usage: dict[str, int] | None = DEFAULT_USAGE) -> None:
        super().__init__(default=Reply(404, error_body("unknown path", "invalid_request_error")))
        self.reply(content, usage)

    def reply(self, content: str, usage: dict[str, int] | None = DEFAULT_USAGE, **fields: Any) -> None:
        self.route(CHAT_PATH, Reply(200, completion(content, usage, **fields)))

    def fail_then_reply(self, status: int, content: str, *, times: int = 1,
                        usage: dict[str, int] | None = DEFAULT_USAGE) -> None:  # fmt: skip
        failures = [Reply(status, error_body(f"scripted failure {status}")) for _ in range(times)]
        self.route(CHAT_PATH, *failures, Reply(200, completion(content, usage)))

    def always(self, status: int, message: str) -> None:
        self.route(CHAT_PATH, Reply(status, error_body(message, "invalid_request_error")))

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to(CHAT_PATH)

    def messages(self, index: int = -1) -> dict[str, str]:
        """{role: content} of one recorded request."""
        return {m["role"]: m["content"] for m in self.chat_requests[index].json()["messages"]}
