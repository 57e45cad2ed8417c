"""The agent, task, swarm and operation routers of both dialects (issue 4), registered together by api/main.py."""

from api.routes import agents_v1, agents_v2, operations_v2, swarms_v1, swarms_v2, tasks_v1, tasks_v2

ROUTERS = [agents_v1.router, tasks_v1.router, swarms_v1.router, swarms_v2.router, agents_v2.router,
           tasks_v2.router, operations_v2.router]
