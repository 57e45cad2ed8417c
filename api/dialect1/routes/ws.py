"""Dialect 1's WebSocket, `/ws` (and `/api/ws`), per claude-flow-api.md § WebSocket Events (docs/events.md).

`auth` first (a JWT access token or an API key; the socket closes with 4401 when none came within the auth timeout),
then `subscribe`/`unsubscribe` to channels `agents`, `tasks`, `swarms`, `runs`, `workflows`, each optionally narrowed
to ids (`filters: {"tasks": ["tk-…"]}`), with `since: <event id>` to resume; `command` runs the same service calls as
the REST routes with the same permissions and ownership rules and answers `command_response`; `ping` → `pong`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from api.common import ws
from api.common.deps import Principal, get_client
from api.common.ids import checked
from api.dialect1.presenters import agents as agents_present
from api.dialect1.presenters import events as present
from api.dialect1.presenters import swarms as swarms_present
from api.dialect1.presenters import tasks as tasks_present
from api.dialect1.schemas.agents import AgentCreateV1
from api.dialect1.schemas.swarms import ControlV1
from api.dialect1.schemas.tasks import AssignV1, TaskCreateV1
from core.agents import agents, swarms, tasks
from core.auth.permissions import allows, scope_allows
from core.errors import DomainError, Forbidden, ValidationFailed
from core.events.audience import Audience, base_id, kind_of
from core.events.models import StoredEvent

router = APIRouter(tags=["events (dialect 1)"])

# channel -> (kind of resource, the permission reading it needs)
CHANNELS: dict[str, tuple[str, str]] = {
    "agents": ("agent", "agents:read"), "tasks": ("task", "tasks:read"), "swarms": ("swarm", "swarms:read"),
    "runs": ("run", "workflows:read"), "workflows": ("run", "workflows:read"),
}


class Subscriptions:
    """The channels a socket follows, each with its ids (None: all)."""

    def __init__(self) -> None:
        self.channels: dict[str, set[str] | None] = {}

    def cheap(self, event: StoredEvent) -> bool:
        kind = kind_of(event.resource_id)
        for channel, ids in self.channels.items():
            if CHANNELS[channel][0] != kind:
                continue
            if ids is None or channel == "workflows" or base_id(event.resource_id) in ids:
                return True
        return False

    def wants(self, event: StoredEvent, who: Audience) -> bool:
        rid = base_id(event.resource_id)
        for channel, ids in self.channels.items():
            if CHANNELS[channel][0] != who.kind:
                continue
            if ids is None or (who.workflow_id in ids if channel == "workflows" else rid in ids):
                return True
        return False


def _since(message: dict[str, Any]) -> int | None:
    value = message.get("since")
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():  # clients that keep ids as strings
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed("`since` must be an event id (an integer ≥ 0)", field="since")
    return value


def _channels(message: dict[str, Any], principal: Principal) -> dict[str, set[str] | None]:
    names = message.get("channels") or []
    filters = message.get("filters") or {}
    if isinstance(message.get("channel"), str):  # the one-channel form: {"channel": "swarms", "id": "sw-…"}
        names = [*names, message["channel"]] if isinstance(names, list) else names
        if isinstance(message.get("id"), str) and isinstance(filters, dict):
            filters = {**filters, message["channel"]: [message["id"]]}
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not isinstance(filters, dict):
        raise ValidationFailed("`channels` must be a list of channel names and `filters` an object")
    unknown = [n for n in [*names, *filters] if n not in CHANNELS]
    if unknown:
        raise ValidationFailed(f"Unknown channel(s) {unknown}; channels: {sorted(CHANNELS)}", channels=unknown)
    chosen: dict[str, set[str] | None] = {}
    for name in {*names, *filters}:
        permission = CHANNELS[name][1]
        if not allows(principal.role, permission) or not scope_allows(principal.scopes, permission):
            raise Forbidden(f"Permission {permission!r} is required for channel {name!r}", permission=permission)
        ids = filters.get(name)
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
            raise ValidationFailed(f"`filters.{name}` must be a list of ids")
        chosen[name] = set(ids) if ids is not None else None
    return chosen


async def _command(websocket: WebSocket, principal: Principal, name: str, parameters: dict[str, Any]) -> Any:
    """The REST route's service call, behind the REST route's permission."""

    def need(permission: str) -> None:
        if not allows(principal.role, permission) or not scope_allows(principal.scopes, permission):
            raise Forbidden(f"Permission {permission!r} is required", permission=permission)

    settings = websocket.app.state.settings
    caller = principal.caller
    if name == "agent.spawn":
        need("agents:create")
        body = AgentCreateV1.model_validate(parameters)
        if body.swarm_id is not None:
            checked("swarm", body.swarm_id)
        state = await agents.create_agent(await get_client(websocket), settings, body.to_domain(),  # type: ignore[arg-type]
                                          caller=caller, tier=principal.tier)
        return agents_present.agent_created(state)
    if name == "task.create":
        need("tasks:execute")
        task_body = TaskCreateV1.model_validate(parameters)
        if task_body.swarm_id is not None:
            checked("swarm", task_body.swarm_id)
        task = await tasks.create_task(await get_client(websocket), settings, task_body.to_domain(),  # type: ignore[arg-type]
                                       caller=caller, tier=principal.tier)
        return tasks_present.task_created(task)
    if name == "task.assign":
        need("tasks:execute")
        task_id = checked("task", str(parameters.get("task_id", "")))
        assign = AssignV1.model_validate({k: v for k, v in parameters.items() if k != "task_id"})
        ack = await tasks.assign_task(await get_client(websocket), task_id, checked("agent", assign.agent_id),  # type: ignore[arg-type]
                                      caller=caller, priority=assign.priority_override)
        return tasks_present.assigned(ack)
    if name == "task.cancel":
        need("tasks:execute")
        task_id = checked("task", str(parameters.get("task_id", "")))
        return tasks_present.cancelled(await tasks.cancel_task(await get_client(websocket), task_id, caller=caller))  # type: ignore[arg-type]
    if name == "swarm.control":
        need("swarms:manage")
        swarm_id = checked("swarm", str(parameters.get("swarm_id", "")))
        control = ControlV1.model_validate({k: v for k, v in parameters.items() if k != "swarm_id"})
        outcome = await swarms.control_swarm(await get_client(websocket), settings, swarm_id,  # type: ignore[arg-type]
                                             control.to_domain(), caller=caller, tier=principal.tier)
        return swarms_present.control(swarm_id, outcome)
    raise ValidationFailed(f"Unknown command {name!r}; commands: {sorted(COMMANDS)}", command=name)


COMMANDS = ("agent.spawn", "task.create", "task.assign", "task.cancel", "swarm.control")


def _invalid(err: ValidationError) -> ValidationFailed:
    return ValidationFailed("Request validation failed", details=[
        {"field": ".".join(str(p) for p in e["loc"]), "constraint": e["type"], "message": e["msg"]}
        for e in err.errors()])


async def _authenticate(websocket: WebSocket) -> Principal | None:
    timeout = websocket.app.state.settings.event_auth_timeout_s
    try:
        message = await ws.receive_json(websocket, timeout)
    except TimeoutError:
        await ws.close(websocket, ws.UNAUTHENTICATED, f"not authenticated within {timeout:g} s")
        return None
    if message.get("type") != "auth":
        await ws.send(websocket, {"type": "error", "error": {
            "code": "UNAUTHORIZED", "message": "The first message must be {\"type\": \"auth\", \"token\": …}"}})
        await ws.close(websocket, ws.UNAUTHENTICATED, "authentication required")
        return None
    try:
        return await ws.sign_in(websocket, message.get("token") or message.get("api_key"), "agents:read")
    except DomainError as err:
        await ws.send(websocket, {"type": "error", "error": ws.error_message(err)})
        await ws.close(websocket, ws.FORBIDDEN if err.status == 403 else ws.UNAUTHENTICATED, err.message)
        return None


@router.websocket("/ws")
@router.websocket("/api/ws")
async def events_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    principal = await _authenticate(websocket)
    if principal is None or not await ws.admit(websocket, principal):
        return
    subscriptions = Subscriptions()

    async def present_event(event: StoredEvent, who: Audience) -> dict[str, Any]:
        return present.event(event, who)

    pump = ws.Pump(websocket, principal, present_event, subscriptions.wants, subscriptions.cheap, present.gap,
                   shape="d1")
    try:
        events = await ws.hub(websocket.app)
        await pump.write({"type": "authenticated", "user_id": principal.id, "username": principal.username,
                          "last_event_id": events.cursor})
        while True:
            message = await ws.receive_json(websocket)
            kind = message.get("type")
            try:
                if kind == "ping":
                    await pump.write({"type": "pong", "id": events.cursor, "timestamp": message.get("timestamp")})
                elif kind == "subscribe":
                    since = _since(message)
                    subscriptions.channels.update(_channels(message, principal))
                    await pump.write({"type": "subscribed", "id": events.cursor,
                                      "channels": sorted(subscriptions.channels),
                                      "filters": {k: sorted(v) for k, v in subscriptions.channels.items() if v}})
                    await pump.restart(since)
                elif kind == "unsubscribe":
                    for name in message.get("channels") or []:
                        subscriptions.channels.pop(name, None)
                    await pump.write({"type": "unsubscribed", "id": events.cursor,
                                      "channels": sorted(subscriptions.channels)})
                    await pump.restart(None)
                elif kind == "command":
                    await _answer(websocket, pump, principal, message)
                elif kind == "auth":
                    raise ValidationFailed("Already authenticated")
                else:
                    raise ValidationFailed(f"Unknown message type {kind!r}; types: auth, subscribe, unsubscribe, "
                                           "command, ping")
            except DomainError as err:
                await pump.write({"type": "error", "id": events.cursor, "error": ws.error_message(err)})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await pump.stop()
        ws.connections(websocket.app).release(principal)
        if pump.failure is None:
            await ws.close(websocket, 1000, "bye")


async def _answer(websocket: WebSocket, pump: ws.Pump, principal: Principal, message: dict[str, Any]) -> None:
    request_id = message.get("request_id")
    parameters = message.get("parameters") or {}
    try:
        if not isinstance(parameters, dict):
            raise ValidationFailed("`parameters` must be an object")
        try:
            data = await _command(websocket, principal, str(message.get("command")), parameters)
        except ValidationError as err:
            raise _invalid(err) from err
        response: dict[str, Any] = {"type": "command_response", "request_id": request_id, "status": "success",
                                    "data": data}
    except DomainError as err:
        response = {"type": "command_response", "request_id": request_id, "status": "error",
                    "error": ws.error_message(err)}
    await pump.write(response)
