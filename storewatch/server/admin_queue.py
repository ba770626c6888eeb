"""Admin API for the analysis queue: counts by state, the dead jobs, and retrying them."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.jobs.queue import public_job
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object
from storewatch.store.jobs import DEAD

DEAD_SHOWN = 200
MAX_RETRY_IDS = 10_000
MAX_JOB_ID = 2**63 - 1  # SQLite's largest integer: a bigger one would overflow in the query, a 500


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def status(appliance: Appliance) -> dict[str, Any]:
    queue = appliance.jobs
    dead = queue.list(DEAD, limit=DEAD_SHOWN)
    return {"counts": queue.counts(), "oldest_queued_age_s": queue.oldest_queued_age_s(contract.utc_now()),
            "dead": [{key: row[key] for key in ("id", "capture_id", "device_id", "seq", "attempts", "last_error",
                                                "updated_at")} for row in dead]}


async def get_queue(request: Request) -> Response:
    return JSONResponse(await anyio.to_thread.run_sync(status, _appliance(request)))


async def retry(request: Request) -> Response:
    """POST {"job_ids": [...]} or {"all_dead": true}: back to queued with fresh attempts."""
    payload = await read_json_object(request)
    ids, all_dead = payload.get("job_ids"), payload.get("all_dead", False)
    valid_ids = (isinstance(ids, list) and 0 < len(ids) <= MAX_RETRY_IDS
                 and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_JOB_ID for i in ids))
    if not ((all_dead is True and ids is None) or (valid_ids and all_dead is False)):
        raise ApiError(422, "validation_failed", 'Send {"job_ids": [id, ...]} or {"all_dead": true}.')
    appliance = _appliance(request)

    def apply() -> list[dict[str, Any]]:
        jobs = appliance.jobs.retry(ids or (), all_dead=all_dead)
        appliance.enqueue([job["id"] for job in jobs])  # the worker's queue, if one is connected
        return [public_job(job) for job in jobs]

    jobs = await anyio.to_thread.run_sync(apply)  # JobNotFound 404, JobNotRetryable 409: server/errors.py
    return JSONResponse({"retried": len(jobs), "jobs": jobs})


ROUTES = [
    Route("/api/v1/admin/queue", get_queue, methods=["GET"]),
    Route("/api/v1/admin/queue/retry", retry, methods=["POST"]),
]
