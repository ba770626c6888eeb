"""Admin API: the appliance's figures now (GET /api/v1/admin/metrics) and over the last day."""

from __future__ import annotations

from datetime import timedelta

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch import contract
from storewatch.upkeep import metrics
from storewatch.appliance import Appliance
from storewatch.server.query_params import time_param


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


async def get_metrics(request: Request) -> Response:
    collected = await anyio.to_thread.run_sync(metrics.collect, _appliance(request))
    return JSONResponse(collected)


async def get_history(request: Request) -> Response:
    """?since=RFC 3339 or epoch seconds (default: a day ago) -> {"samples": [...]}, oldest first, one a minute."""
    since = time_param(request.query_params, "since") or contract.utc_now() - timedelta(days=1)
    samples = await anyio.to_thread.run_sync(metrics.history, _appliance(request), since)
    return JSONResponse({"samples": samples})


ROUTES = [
    Route("/api/v1/admin/metrics", get_metrics, methods=["GET"]),
    Route("/api/v1/admin/metrics/history", get_history, methods=["GET"]),
]
