"""`storewatch run`: the whole appliance in one process."""

from __future__ import annotations

import ipaddress

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
    click.echo("It is shown only now. Lost it? `storewatch admin set-password` sets a new one.")
    click.echo("=" * 64)


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
    supervisor = Supervisor()
    services = build_services(ctx.appliance, camera=camera, host=host, port=port, workers=workers,
                              camera_options=tuning(lock_exposure, lock_white_balance, mains_hz))

    def ready(_: str) -> None:
        from storewatch.ops.sd_notify import Notifier

        _first_run_password(ctx)
        address = server_address.write(ctx.data_dir, host, port)  # for `storewatch doctor`
        Notifier.from_env().ready(f"serving on port {port}")
        click.echo(f"storewatch is running: open {address.url}/ for the admin panel (Ctrl-C to stop).")

    try:
        code = serve(ctx.appliance, host, port, services=services, on_ready=ready, supervisor=supervisor,
                     trusted_proxy=trusted_proxy)
    finally:
        server_address.remove(ctx.data_dir)
    click.echo("storewatch stopped." if code == 0 else "storewatch stopped after an error (see above).")
    click.get_current_context().exit(code)


def register(main: click.Group) -> None:
    main.add_command(run)
