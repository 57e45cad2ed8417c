"""A real SMTP server (aiosmtpd's threaded Controller) on a free localhost port, recording what it receives.

The code under test speaks real SMTP to it through smtplib, so the envelope, headers and body checked by a
test are exactly what a relay would have been handed.
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from tests.fakes.http_server import free_port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class FakeSMTPServer:
    """Context manager: `with FakeSMTPServer() as smtp: ... smtp.port ... smtp.messages`."""

    def __init__(self) -> None:
        self._recorder = _Recorder()
        self._controller: Controller | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def start(self) -> FakeSMTPServer:
        # aiosmtpd's Controller checks readiness by connecting to the configured port, so port 0 cannot be
        # used: take a free port first (the window for a clash is tiny on a test machine).
        self.port = free_port()
        self._controller = Controller(self._recorder, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> FakeSMTPServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._recorder.lock:
            return list(self._recorder.messages)
