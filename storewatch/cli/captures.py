"""`storewatch captures …`: what frames are stored."""

from __future__ import annotations

import click

from storewatch.cli import CliContext, print_json


@click.group()
def captures() -> None:
    """Stored frames."""


@captures.command("list")
@click.option("--device", "device_id", required=True, help="The device whose frames to list.")
@click.option("--limit", default=100, show_default=True, help="How many of the newest to show.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_captures(ctx: CliContext, device_id: str, limit: int, as_json: bool) -> None:
    """The device's stored frames, newest last."""
    rows = ctx.appliance.captures.list(device_id, limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"No frames stored for {device_id}.")
        return
    click.echo(f"{'SEQ':>10}  {'CAPTURE_TS':<26} {'RECEIVED_AT':<26} {'BYTES':>9}")
    for row in rows:
        click.echo(f"{row['seq']:>10}  {row['capture_ts']:<26} {row['received_at']:<26} {row['size_bytes']:>9}")


def register(main: click.Group) -> None:
    main.add_command(captures)
