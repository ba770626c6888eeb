"""`storewatch device …`: register devices, show them, manage tokens and settings."""

from __future__ import annotations

import functools

import click

from storewatch.cli import CliContext, print_json, print_rows, shop_time
from storewatch.store.devices import DeviceNotFound
from storewatch.settings import DEVICE_SETTINGS, SettingError, parse_assignments


@click.group()
def device() -> None:
    """Image producers (cameras) allowed to post frames."""


def _guard(fn):  # noqa: ANN001, ANN202 - turns domain errors into messages for people
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except (DeviceNotFound, SettingError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


@device.command("add")
@click.argument("name")
@click.option("--id", "device_id", help="The device id (default: made from NAME).")
@click.option("--auth", type=click.Choice(["bearer", "hmac"]), default="bearer", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print {device_id, token} as JSON.")
@click.pass_obj
@_guard
def add(ctx: CliContext, name: str, device_id: str | None, auth: str, as_json: bool) -> None:
    """Register a device and print its token (shown only this once)."""
    new_id, token = ctx.appliance.devices.add(name, device_id, auth)
    if as_json:
        print_json({"device_id": new_id, "token": token})
        return
    click.echo(f"Added device {new_id} ({auth} auth). Its token is shown only now; keep it:")
    click.echo(f"device_id: {new_id}")
    click.echo(f"token: {token}")


@device.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_devices(ctx: CliContext, as_json: bool) -> None:
    """Show every device with its last contact and mode."""
    devices = ctx.appliance.devices
    rows = [devices.public(d) for d in devices.list()]
    print_rows(rows, [("ID", "<20", "id"), ("ENABLED", "<8", lambda row: "yes" if row["enabled"] else "no"),
                      ("AUTH", "<7", "auth_scheme"), ("MODE", "<9", "mode"),
                      ("LAST SEEN", "<25", lambda row: shop_time(ctx.appliance, row["last_seen"])),
                      ("LAST CONFIG FETCH", "", lambda row: shop_time(ctx.appliance, row["last_config_fetch"]))],
               as_json=as_json, empty="No devices yet. Add one with `storewatch device add NAME`.")


@device.command("rotate-token")
@click.argument("device_id")
@click.pass_obj
@_guard
def rotate_token(ctx: CliContext, device_id: str) -> None:
    """Issue a new token; the old one stops working at once."""
    token = ctx.appliance.devices.rotate_token(device_id)
    click.echo(f"New token for {device_id} (the old one no longer works):")
    click.echo(f"token: {token}")


@device.command("disable")
@click.argument("device_id")
@click.pass_obj
@_guard
def disable(ctx: CliContext, device_id: str) -> None:
    """Refuse the device's uploads (403) until enabled again."""
    ctx.appliance.devices.set_enabled(device_id, False)
    click.echo(f"Device {device_id} disabled.")


@device.command("enable")
@click.argument("device_id")
@click.pass_obj
@_guard
def enable(ctx: CliContext, device_id: str) -> None:
    """Accept the device's uploads again."""
    ctx.appliance.devices.set_enabled(device_id, True)
    click.echo(f"Device {device_id} enabled.")


@device.command("auth")
@click.argument("device_id")
@click.argument("scheme", type=click.Choice(["bearer", "hmac"]))
@click.pass_obj
@_guard
def auth(ctx: CliContext, device_id: str, scheme: str) -> None:
    """Choose how the device authenticates: a bearer token, or HMAC-signed requests."""
    ctx.appliance.devices.set_auth_scheme(device_id, scheme)
    click.echo(f"Device {device_id} now authenticates with {scheme}.")


@device.command("set", epilog="Settings: " + ", ".join(
    f"{s.name} ({s.help})" for s in DEVICE_SETTINGS.values()))
@click.argument("device_id")
@click.argument("assignments", nargs=-1, required=True)
@click.pass_obj
@_guard
def set_settings(ctx: CliContext, device_id: str, assignments: tuple[str, ...]) -> None:
    """Change capture settings, e.g. `baseline_interval_s=5 jpeg_quality=80`."""
    values = parse_assignments(list(assignments), DEVICE_SETTINGS)
    merged = ctx.appliance.devices.update_settings(device_id, values)
    config_version = ctx.appliance.devices.public(ctx.appliance.devices.get(device_id))["config_version"]
    for name in values:
        click.echo(f"{name} = {merged[name]}")
    click.echo(f"Device {device_id} is now at config {config_version}; it picks it up at its next poll.")


def register(main: click.Group) -> None:
    main.add_command(device)
