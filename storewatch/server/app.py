"""The ASGI application: routes, the admin guard, error handlers and the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.server import (admin_auth, admin_devices, admin_events, admin_queue, admin_rois, admin_settings,
                               device_api, openapi_routes, spa)
from storewatch.server import admin_metrics, metrics_text
from storewatch.server import admin_replay
from storewatch.server import admin_notify, notify_images
from storewatch.server.device_auth import DeviceAuthenticator
from storewatch.server.errors import EXCEPTION_HANDLERS
from storewatch.server.ingest_writer import IngestWriter
from storewatch.server.replay_runner import ReplayRunner

log = logging.getLogger("storewatch.server")
# Counters reach the database once a minute (the in-process /metrics adds the pending ones):
# at 5 s, a shop's cameras in baseline made every stored frame a commit of its own for them.
COUNTER_FLUSH_S = 60.0


def create_app(appliance: Appliance) -> Starlette:
    """The appliance's HTTP face: every route module, the admin app's fallback last."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        recovered = await anyio.to_thread.run_sync(appliance.captures.recover)
        if any(recovered.values()):
            log.warning("recovered after an unclean stop: %s", recovered)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_flush_counters_forever, appliance)
            try:
                yield
            finally:
                app.state.stopping = True
                tasks.cancel_scope.cancel()
        await anyio.to_thread.run_sync(app.state.replays.stop)
        await anyio.to_thread.run_sync(app.state.ingest_writer.stop)
        await anyio.to_thread.run_sync(appliance.counters.flush)

    app = Starlette(
        routes=[*device_api.ROUTES, *admin_auth.ROUTES, *admin_devices.ROUTES, *admin_settings.ROUTES,
                *admin_rois.ROUTES, *admin_events.ROUTES, *admin_queue.ROUTES,
                *admin_metrics.ROUTES, *metrics_text.ROUTES, *admin_notify.ROUTES, *notify_images.ROUTES,
                *admin_replay.ROUTES, *openapi_routes.ROUTES,
                *spa.ROUTES],  # the admin app's fallback goes last: it must never shadow the API
        middleware=[Middleware(admin_auth.AdminGuard)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.state.appliance = appliance
    app.state.device_auth = DeviceAuthenticator(appliance.devices)
    app.state.login_limiter = admin_auth.LoginLimiter()
    app.state.stopping = False
    app.state.clock = contract.utc_now  # the server's clock for the contract's time windows; tests replace it
    app.state.ingest_writer = IngestWriter(appliance)
    app.state.replays = ReplayRunner(appliance)  # what-if replays: one at a time, below the live analysis
    return app


async def _flush_counters_forever(appliance: Appliance) -> None:
    while True:
        await anyio.sleep(COUNTER_FLUSH_S)
        try:
            await anyio.to_thread.run_sync(appliance.counters.flush)
        except Exception:  # a busy disk must not stop the server; retried next round
            log.exception("could not flush counters")
