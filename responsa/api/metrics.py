"""`GET /metrics`: the Prometheus text exposition (`observability/metrics.py`).

It passes the guard like every route but `/v1/health`: with authentication on, a scrape sends
`Authorization: Bearer <key>` (any active key; the figures are the whole server's, every owner's
requests summed, with no ids, prompts or owners in them). It is not in the OpenAPI document,
which describes the OpenAI API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from responsa.observability import metrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def exposition(request: Request) -> Response:
    store = request.app.state.store
    metrics.JOBS_QUEUED.set(await store.queued_jobs())
    metrics.JOBS_RUNNING.set(request.app.state.runner.running)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
