"""Notifications: Slack incoming webhook, a generic JSON webhook, and email over SMTP.

Two callers: the run's own events (`send_notifications`, which never raises, because a broken channel must
not fail a run) and the `notify` step (which fails when a channel fails). Webhook URLs carry their secret in
the URL itself, so no detail, message or log line ever includes one; failures are described by status
code or exception class only. Every channel goes through the egress guard (`activities/egress.py`): Slack and
webhooks through its HTTP client, email through its checked SMTP connection, so a channel pointed at an internal
address is refused unless the operator allowlists it.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
from temporalio import activity

from activities.egress import EgressRefused, guarded_client, smtp_connection
from activities.environment import current_attempt, parse_params, step_failed
from core import names
from core.dsl.actions import NotifyParams
from core.pipelines.contracts import ActionRequest, ActionResult, ChannelOutcome, NotificationRequest
from core.settings import Settings, get_settings

SEND_TIMEOUT_S = 10.0
log = logging.getLogger("stellarflow.notifications")


@dataclass(frozen=True)
class Notice:
    """What every channel renders: a run event or a `notify` step's message."""

    event: str
    run_id: str
    message: str
    workflow_id: str | None = None
    workflow_name: str | None = None
    status: str | None = None
    link: str | None = None
    step_id: str | None = None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event": self.event,
            "runId": self.run_id,
            "workflowId": self.workflow_id,
            "workflowName": self.workflow_name,
            "status": self.status,
            "message": self.message,
            "link": self.link,
        }
        if self.step_id is not None:
            body["stepId"] = self.step_id
        return body

    def text(self) -> str:
        return f"{self.message}\n<{self.link}|View run>" if self.link else self.message

    def subject(self) -> str:
        name = self.workflow_name or self.workflow_id or "StellarFlow"
        return f"[StellarFlow] {name}: run {self.run_id} {self.event}"


class ChannelFailed(Exception):
    """A channel answered but refused; the message is safe to show (no URL)."""


async def _post_json(url: str, body: dict[str, Any]) -> None:
    async with guarded_client(timeout=SEND_TIMEOUT_S, follow_redirects=False) as client:
        async with client.stream("POST", url, json=body) as response:  # the answer's body is never read
            status = response.status_code
    if not 200 <= status < 300:
        raise ChannelFailed(f"HTTP {status}")


async def _send_slack(settings: Settings, notice: Notice) -> None:
    await _post_json(settings.slack_webhook_url or "", {"text": notice.text()})


async def _send_webhook(settings: Settings, notice: Notice) -> None:
    await _post_json(settings.webhook_url or "", notice.payload())


def _smtp_send(settings: Settings, notice: Notice) -> None:
    message = EmailMessage()
    message["Subject"] = notice.subject()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.smtp_to)
    message.set_content(f"{notice.message}\n\n{notice.link}\n" if notice.link else f"{notice.message}\n")
    with smtp_connection(settings.smtp_host or "", settings.smtp_port, timeout=SEND_TIMEOUT_S) as smtp:
        username = getattr(settings, "smtp_username", None)
        password = getattr(settings, "smtp_password", None)
        if username and password:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            smtp.login(username, password)
        smtp.send_message(message, from_addr=settings.smtp_from, to_addrs=list(settings.smtp_to))


async def _send_email(settings: Settings, notice: Notice) -> None:
    await asyncio.to_thread(_smtp_send, settings, notice)


@dataclass(frozen=True)
class Channel:
    send: Callable[[Settings, Notice], Awaitable[None]]
    configured: Callable[[Settings], bool]
    missing: str


CHANNELS: dict[str, Channel] = {
    "slack": Channel(
        _send_slack, lambda s: bool(s.slack_webhook_url), "slack is not configured (set STELLARFLOW_SLACK_WEBHOOK_URL)"
    ),
    "webhook": Channel(
        _send_webhook, lambda s: bool(s.webhook_url), "webhook is not configured (set STELLARFLOW_WEBHOOK_URL)"
    ),
    "email": Channel(
        _send_email,
        lambda s: bool(s.smtp_host and s.smtp_to),
        "email is not configured (set STELLARFLOW_SMTP_HOST and STELLARFLOW_SMTP_TO)",
    ),
}


def _describe(err: BaseException) -> str:
    """A short, URL-free reason: exception messages of HTTP clients may embed the request URL."""
    if isinstance(err, ChannelFailed | EgressRefused):
        return str(err)
    if isinstance(err, smtplib.SMTPResponseException):
        return f"SMTP {err.smtp_code} ({type(err).__name__})"
    if isinstance(err, TimeoutError | httpx.TimeoutException):
        return f"timed out ({type(err).__name__})"
    return type(err).__name__


async def _send_one(channel: str, settings: Settings, notice: Notice) -> ChannelOutcome:
    spec = CHANNELS.get(channel)
    if spec is None:
        return ChannelOutcome(channel=channel, ok=False, detail=f"unknown channel {channel!r}")
    if not spec.configured(settings):
        return ChannelOutcome(channel=channel, ok=False, detail=spec.missing)
    try:
        await asyncio.wait_for(spec.send(settings, notice), timeout=SEND_TIMEOUT_S * 2)
    except Exception as err:  # any failure of one channel is reported, never raised
        detail = _describe(err)
        log.warning("notification %s for run %s failed: %s", channel, notice.run_id, detail)
        return ChannelOutcome(channel=channel, ok=False, detail=detail)
    return ChannelOutcome(channel=channel, ok=True)


async def deliver(channels: list[str], notice: Notice) -> list[ChannelOutcome]:
    """Send to every channel concurrently (each at most once); one outcome per channel, in order."""
    settings = get_settings()
    unique = list(dict.fromkeys(channels))
    return list(await asyncio.gather(*(_send_one(channel, settings, notice) for channel in unique)))


async def send_run_notifications(req: NotificationRequest) -> list[ChannelOutcome]:
    """Run events (started/failed/completed). Never raises: a notification must not fail a run."""
    notice = Notice(
        event=req.event,
        run_id=req.run_id,
        message=req.message,
        workflow_id=req.workflow_id,
        workflow_name=req.workflow_name,
        status=req.status,
        link=req.link,
    )
    try:
        return await deliver(req.channels, notice)
    except Exception as err:  # defensive: the contract is "never raises"
        detail = _describe(err)
        return [ChannelOutcome(channel=channel, ok=False, detail=detail) for channel in req.channels]


async def run_notify(req: ActionRequest) -> ActionResult:
    """The `notify` step: like run notifications, but a channel that is not ok fails the step."""
    params = parse_params(req, NotifyParams)
    notice = Notice(event="notify", run_id=req.run_id, message=params.message, step_id=req.step_id)
    outcomes = await deliver(list(params.channels), notice)
    outputs: dict[str, Any] = {
        "sent": [o.channel for o in outcomes if o.ok],
        "failed": [o.channel for o in outcomes if not o.ok],
        "results": [o.model_dump(mode="json") for o in outcomes],
    }
    failed = [o for o in outcomes if not o.ok]
    if failed:
        listing = "; ".join(f"{o.channel} ({o.detail})" for o in failed)
        raise step_failed(f"notification failed on {len(failed)} channel(s): {listing}", outputs, req)
    return ActionResult(outputs=outputs, attempt=current_attempt())


@activity.defn(name=names.NOTIFY)
async def notify(req: ActionRequest) -> ActionResult:
    """Temporal entry point of the `notify` action."""
    return await run_notify(req)


@activity.defn(name=names.SEND_NOTIFICATIONS)
async def send_notifications(req: NotificationRequest) -> list[ChannelOutcome]:
    """Temporal entry point of run-event notifications."""
    return await send_run_notifications(req)
