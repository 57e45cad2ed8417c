"""Side effects, one module per kind; `ALL` is what the worker registers."""

from activities.command import execute_command
from activities.deploy import deploy
from activities.http_request import http_request
from activities.notifications import notify, send_notifications
from activities.record import record_run

ALL = [execute_command, http_request, deploy, notify, send_notifications, record_run]

__all__ = ["ALL"]
