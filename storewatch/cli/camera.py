"""`storewatch camera`: the standalone camera client, for a Pi that only captures."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from storewatch.cli import CliContext

SOURCE_HELP = ("auto|picamera2|simulated|dir:PATH (auto: the Pi camera if detected or on a Raspberry Pi, "
               "else simulated)")


def tuning_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--lock-exposure, --lock-white-balance and --mains-hz, for the Pi camera; they collect in `tuning`.

    The camera keeps them over every reconfigure (a new size from the server's config).
    """
    options = [
        click.option("--lock-exposure", is_flag=True,
                     help="Pi camera: freeze exposure and gain once warmed up, so a dark sleeve does not "
                          "brighten the whole frame."),
        click.option("--lock-white-balance", is_flag=True,
                     help="Pi camera: freeze the colour balance once warmed up (not on mono sensors)."),
        click.option("--mains-hz", type=click.Choice(["50", "60"]), default=None,
                     help="Pi camera: the mains frequency of the shop's lights, so exposures avoid their "
                          "flicker (50 in Europe, most of Asia and Africa; 60 in the Americas)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def tuning(lock_exposure: bool, lock_white_balance: bool, mains_hz: str | None) -> dict[str, Any]:
    """The frame source's options from the tuning flags."""
    return {"lock_exposure": lock_exposure, "lock_white_balance": lock_white_balance,
            "mains_hz": int(mains_hz) if mains_hz else None}


def checked_source(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from storewatch.camera.sources import check_spec

    if value == "none" and param.name == "camera":
        return value
    try:
        return check_spec(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("camera")
@click.option("--server", "server_url", required=True, help="The appliance, e.g. http://192.168.1.20:8080")
@click.option("--device-id", required=True, help="This camera's device id (`storewatch device add`).")
@click.option("--token-file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the device token (keep it 0600).")
@click.option("--source", "source_spec", default="auto", show_default=True, metavar="SOURCE", help=SOURCE_HELP,
              callback=checked_source)
@click.option("--auth", type=click.Choice(["bearer", "hmac"]), default="bearer", show_default=True)
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where frames wait while the appliance is unreachable (default: DATA_DIR/camera/spool).")
@tuning_options
@click.pass_obj
def camera(ctx: CliContext, server_url: str, device_id: str, token_file: Path, source_spec: str,
           auth: str, spool_dir: Path | None, lock_exposure: bool, lock_white_balance: bool,
           mains_hz: str | None) -> None:
    """Capture frames and post them to an appliance, keeping them through outages."""
    from storewatch.camera.client import CameraClientError, next_step_hint
    from storewatch.ops.sd_notify import Notifier
    from storewatch.camera.service import run_camera_client
    from storewatch.camera.sources.base import CameraError

    token = token_file.read_text().strip()
    if not token:
        raise click.ClickException(f"{token_file} is empty; put the device token in it.")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"storewatch camera: {device_id} → {server_url}, source {source_spec}", err=True)
    try:
        run_camera_client(server_url.rstrip("/"), device_id, token, source_spec, ctx.data_dir / "camera",
                          auth=auth, stop_event=stop, notify=Notifier.from_env(), spool_dir=spool_dir,
                          **tuning(lock_exposure, lock_white_balance, mains_hz))
    except (CameraError, CameraClientError) as exc:
        click.echo(f"storewatch camera: {exc}.{next_step_hint(exc)}", err=True)
        sys.exit(1)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("storewatch camera stopped.", err=True)


def register(main: click.Group) -> None:
    main.add_command(camera)
