"""Real, local stand-ins for the services StellarFlow talks to (HTTP endpoints, Slack and generic webhooks,
an SMTP relay). They run actual servers on free localhost ports, so the code under test goes through its
real client stack; only the far end is fake."""

from tests.fakes.http_server import FakeHTTPServer, RecordedRequest, Reply, free_port
from tests.fakes.smtp import FakeSMTPServer, ReceivedMail

__all__ = ["FakeHTTPServer", "FakeSMTPServer", "ReceivedMail", "RecordedRequest", "Reply", "free_port"]
