"""Which parts run beside the server in `storewatch run`, in start order."""

from __future__ import annotations

import logging

import click

from storewatch.appliance import Appliance

log = logging.getLogger("storewatch.run")


def build_services(appliance: Appliance, *, camera: str, host: str, port: int, workers: int) -> list:
    services: list = []
    if camera != "none":
        raise click.ClickException(
            f"--camera {camera}: the camera thread is not built yet; use --camera none")
    return services
