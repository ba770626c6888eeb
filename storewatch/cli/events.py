"""`storewatch events …`: what the analysis detected."""

from __future__ import annotations

import click

from storewatch.cli import CliContext, print_json
from storewatch.events import VERDICTS, EventStore, parse_time


@click.group()
def events() -> None:
    """Detected shelf interactions and lighting changes."""


@events.command("list")
@click.option("--device", "device_id", help="Only this device's events.")
@click.option("--since", help="Start time: RFC 3339 (2026-01-31T08:00:00Z) or epoch seconds.")
@click.option("--until", help="End time, same forms.")
@click.option("--decision", type=click.Choice(["changed", "unchanged"]))
@click.option("--verdict", type=click.Choice(VERDICTS),
              help="Only what happened on the shelf: taken, placed, moved or unchanged.")
@click.option("--lighting", is_flag=True, help="List lighting changes instead of interactions.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_events(ctx: CliContext, device_id: str | None, since: str | None, until: str | None,
                decision: str | None, verdict: str | None, lighting: bool, limit: int, as_json: bool) -> None:
    """Events, newest first."""
    try:
        bounds = {"since": parse_time(since) if since else None, "until": parse_time(until) if until else None}
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    store = EventStore(ctx.appliance.db, ctx.appliance.images)
    rows = store.list(device_id=device_id, decision=decision, verdict=verdict, limit=limit,
                      event_type="lighting_change" if lighting else "interaction_detected", **bounds)
    shown = store.public_many(rows)
    if as_json:
        print_json(shown)
        return
    if not shown:
        click.echo("No events.")
        return
    click.echo(f"{'ID':>6}  {'DEVICE':<16} {'ROI':<16} {'START':<25} {'SECONDS':>7}  VERDICT")
    for event in shown:
        seconds = "" if event["duration_s"] is None else f"{event['duration_s']:.1f}"
        mark = " (false alarm)" if event["false_alarm"] else ""
        what = event["verdict"] or event["decision"] or event["type"]
        click.echo(f"{event['id']:>6}  {event['device_id']:<16} {event['roi_name'] or '-':<16} "
                   f"{event['start_ts']:<25} {seconds:>7}  {what}{mark}")


def register(main: click.Group) -> None:
    main.add_command(events)
