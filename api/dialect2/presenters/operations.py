"""Operation resources: how a request answered 202 ended (`/api/v2/operations`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.dialect2.jsonapi import BASE
from core.operations.service import OperationInfo


def operation(info: OperationInfo) -> dict[str, Any]:
    return {
        "id": info.id, "type": "operation",
        "attributes": {"kind": info.kind, "status": info.status, "resourceType": info.resource_type,
                       "resourceId": info.resource_id, "result": info.result, "error": info.error,
                       "createdAt": iso(info.created_at), "completedAt": iso(info.completed_at)},
        "links": {"self": f"{BASE}/operations/{info.id}",
                  "resource": f"{BASE}/{info.resource_type}s/{info.resource_id}"},
    }
