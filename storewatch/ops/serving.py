"""`storewatch run`: the whole appliance in one process.

The server runs on uvicorn in the main thread; the other parts (the analysis worker, the
camera thread) are `Service`s started once the server listens and stopped in reverse
order after it has finished the requests in flight. SIGTERM/SIGINT go to uvicorn, which
stops taking connections and drains; then the services stop and the process exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import uvicorn

from storewatch.appliance import Appliance
from storewatch.server.app import create_app
from storewatch.server.connections import ConnectionLimits, protocol_class

log = logging.getLogger("storewatch.run")


class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self, timeout: float) -> None: ...


class Supervisor:
    """Lets any part stop the whole appliance with an error (systemd then restarts it)."""

    def __init__(self) -> None:
        self.failure: BaseException | None = None
        self._server: uvicorn.Server | None = None

    def attach(self, server: uvicorn.Server) -> None:
        self._server = server

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        if self._server is not None:
            self._server.should_exit = True


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after draining, which would kill us before the services stop."""

    on_exit: Callable[[], None] = staticmethod(lambda: None)

    def handle_exit(self, sig: int, frame: object) -> None:
        self.on_exit()  # from now on, new requests on kept-alive connections get 503
        super().handle_exit(sig, frame)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def server_config(app: Any, host: str, port: int, stop_timeout: float,
                  limits: ConnectionLimits = ConnectionLimits(), trusted_proxy: str | None = None,
                  parser: str = "auto") -> uvicorn.Config:
    """uvicorn's settings for the appliance's one server."""
    # The connection guard (server/connections.py) puts deadlines on request heads and caps
    # connections per client address; uvicorn's limit_concurrency (a plain-text 503 for
    # everyone once idle sockets fill it) is left off. Its parser is httptools (C) over
    # pure-Python h11 where it loads: on the ingest bench it saved a tenth of the CPU per frame.
    # X-Forwarded-For is believed only from a proxy named here: uvicorn's default believes
    # loopback, which let a local client choose the address the login limiter counts.
    proxies = [trusted_proxy] if trusted_proxy else []
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=stop_timeout, server_header=False,
                          http=protocol_class(limits, frozenset(proxies), parser),
                          timeout_keep_alive=limits.keep_alive_s,
                          h11_max_incomplete_event_size=limits.max_head_bytes,
                          proxy_headers=bool(proxies), forwarded_allow_ips=proxies)


def serve(appliance: Appliance, host: str, port: int,
          services: Sequence[Service] = (),
          on_ready: Callable[[str], None] | None = None, stop_timeout: float = 10.0,
          supervisor: Supervisor | None = None, limits: ConnectionLimits = ConnectionLimits(),
          trusted_proxy: str | None = None) -> int:
    """Run until a signal; returns the exit code (0 after a clean stop)."""
    app = create_app(appliance)
    server = _Server(server_config(app, host, port, stop_timeout, limits, trusted_proxy))
    server.on_exit = lambda: setattr(app.state, "stopping", True)
    supervisor = supervisor or Supervisor()
    supervisor.attach(server)
    started: list[Service] = []

    def start_services() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        try:
            for service in services:
                if server.should_exit:
                    return
                service.start()
                started.append(service)
                log.info("started %s", service.name)
        except BaseException as exc:  # a part that cannot start stops the whole appliance
            supervisor.fail(exc)
            return
        if on_ready:
            on_ready(f"http://{host}:{port}/")

    starter = threading.Thread(target=start_services, name="service-starter", daemon=True)
    starter.start()
    server.run()
    starter.join(timeout=stop_timeout)
    for service in reversed(started):
        try:
            service.stop(stop_timeout)
            log.info("stopped %s", service.name)
        except Exception:
            log.exception("stopping %s failed", service.name)
    appliance.close()
    if supervisor.failure is not None:
        log.error("stopped because of: %s", supervisor.failure)
        return 1
    return 0 if server.started else 1
