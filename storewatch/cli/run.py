"""`storewatch run`: the whole appliance in one process."""

from __future__ import annotations

import errno
import ipaddress
import shlex
import socket

import click

from storewatch.cli import CliContext
from storewatch.cli.camera import checked_source, tuning, tuning_options
from storewatch.credentials import generate_password

CAMERA_CHOICES = "auto|picamera2|simulated|dir:PATH|none"


def _first_run_password(ctx: CliContext) -> None:
    # Called once the appliance serves: a start that fails before that (a port in use) sets
    # no password, so the next start makes one and shows it, instead of it scrolling past in
    # a failed start's output and never being seen again.
    admins = ctx.appliance.admins
    if admins.has_password():
        return
    password = generate_password()
    admins.set_password(password)
    click.echo("=" * 64)
    click.echo(f"First start: the admin password is  {password}")
    where = f"--data-dir {shlex.quote(str(ctx.data_dir))} " if ctx.chosen else ""  # else the default's
    click.echo(f"It is shown only now. Lost it? `storewatch {where}admin set-password` sets a new one.")
    click.echo("=" * 64)


def lan_url(host: str, port: int, local_url: str) -> str | None:
    """Where another computer on the network opens the panel, when that is not `local_url`:
    a server on 0.0.0.0 is announced as 127.0.0.1, which opens nothing from the owner's phone."""
    from storewatch.notify.deliver import public_base_url

    other = public_base_url(host, port)
    return None if other == local_url.rstrip("/") else other  # public_base_url has no trailing /


def _refuse_unusable_port(ctx: CliContext, host: str, port: int) -> None:
    # Before anything starts: uvicorn's own bind error is a bare errno line after the
    # services' start-up logs, with no next step.
    from storewatch.ops import server_address

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own socket
        try:
            probe.bind((host, port))
            return
        except OSError as exc:
            failure = exc
    running = server_address.read(ctx.data_dir)
    if running is not None and running.running:
        raise click.ClickException(
            f"storewatch already runs on this data directory (process {running.pid}, {running.url}/). "
            "Stop it first (Ctrl-C where it runs, or `sudo systemctl stop storewatch`).")
    other = port + 1 if port < 65535 else 8080
    if failure.errno == errno.EADDRINUSE:
        raise click.ClickException(
            f"port {port} is already in use on {host}: another program (or another storewatch) listens there. "
            f"Stop it, or start on another port: --port {other}")
    if failure.errno == errno.EACCES:
        raise click.ClickException(f"port {port} may not be opened by this user (ports below 1024 need root): "
                                   f"use --port 8080")
    if failure.errno == errno.EADDRNOTAVAIL:
        raise click.ClickException(f"{host} is not an address of this machine: use --host 0.0.0.0 (every network) "
                                   "or one of its own addresses (`hostname -I` lists them)")
    raise click.ClickException(f"cannot listen on {host} port {port}: {failure.strerror or failure}")


def _checked_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address (such as 192.168.1.2).") from None


@click.command("run")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--camera", default="auto", show_default=True, metavar=CAMERA_CHOICES, callback=checked_source,
              help="The built-in camera's frame source (auto: the Pi camera if detected or on a Raspberry "
                   "Pi, else the simulated shelf); `none` for no camera thread. A camera that fails is "
                   "retried with backoff while the server keeps serving.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Analysis worker threads.")
@click.option("--trusted-proxy", metavar="ADDRESS", callback=_checked_address,
              help="The address of a reverse proxy in front of the appliance. Only its X-Forwarded-For "
                   "header is believed; without this option the header is ignored.")
@tuning_options
@click.pass_obj
def run(ctx: CliContext, host: str, port: int, camera: str, workers: int, trusted_proxy: str | None,
        lock_exposure: bool, lock_white_balance: bool, mains_hz: str | None) -> None:
    """Run the appliance: server, analysis worker and camera thread."""
    from storewatch.ops import server_address
    from storewatch.ops.serving import Supervisor, serve
    from storewatch.ops.services import build_services

    click.echo(f"storewatch: data directory {ctx.data_dir}")
    _refuse_unusable_port(ctx, host, port)
    supervisor = Supervisor()
    services = build_services(ctx.appliance, camera=camera, host=host, port=port, workers=workers,
                              camera_options=tuning(lock_exposure, lock_white_balance, mains_hz))

    def ready(_: str) -> None:
        from storewatch.ops.sd_notify import Notifier

        _first_run_password(ctx)
        address = server_address.write(ctx.data_dir, host, port)  # for `storewatch doctor`
        Notifier.from_env().ready(f"serving on port {port}")
        click.echo(f"storewatch is running: open {address.url}/ for the admin panel (Ctrl-C to stop).")
        if other := lan_url(host, port, address.url):
            click.echo(f"From another computer or phone on the network: {other}/")

    try:
        code = serve(ctx.appliance, host, port, services=services, on_ready=ready, supervisor=supervisor,
                     trusted_proxy=trusted_proxy)
    finally:
        server_address.remove(ctx.data_dir)
    click.echo("storewatch stopped." if code == 0 else "storewatch stopped after an error (see above).")
    click.get_current_context().exit(code)


def register(main: click.Group) -> None:
    main.add_command(run)
