"""`storewatch captures …`: what frames are stored."""

from __future__ import annotations

import click

from storewatch.cli import CliContext, print_rows


@click.group()
def captures() -> None:
    """Stored frames."""


@captures.command("list")
@click.argument("device", required=False, metavar="DEVICE_ID")
@click.option("--device", "device_id", help="The device whose frames to list (or give it as DEVICE_ID).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000),
              help="How many of the newest to show.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_captures(ctx: CliContext, device: str | None, device_id: str | None, limit: int, as_json: bool) -> None:
    """The device's stored frames, newest last."""
    if device and device_id and device != device_id:
        raise click.UsageError(f"give {device} or --device {device_id}, not both")
    device_id = device or device_id
    if not device_id:
        raise click.UsageError("give the device: storewatch captures list DEVICE_ID, or --device DEVICE_ID "
                               "(`storewatch device list` shows them)")
    print_rows(ctx.appliance.captures.list(device_id, limit),
               [("SEQ", ">10", "seq"), ("CAPTURE_TS", "<26", "capture_ts"),
                ("RECEIVED_AT", "<26", "received_at"), ("BYTES", ">9", "size_bytes")],
               as_json=as_json, empty=f"No frames stored for {device_id}.")


def register(main: click.Group) -> None:
    main.add_command(captures)
