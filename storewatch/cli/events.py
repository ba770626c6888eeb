"""`storewatch events …`: what the analysis detected. Times are shown in the appliance's
time zone (the `time_zone` setting); --since and --until also take "1h", "30m", "2d" ago."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from storewatch import contract
from storewatch.cli import CliContext, print_json
from storewatch.store.events import VERDICTS, parse_time
from storewatch.timezone import local_text, zone

_RELATIVE = re.compile(r"([0-9]{1,6}) ?(s|m|h|d|w)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TIME_FORMS = "RFC 3339 (2026-01-31T08:00:00Z), epoch seconds, or a time ago: 30m, 1h, 2d, 1w"


def parse_when(value: str, now: datetime | None = None) -> str:
    """A time ago ("1h": an hour before now) or an absolute time, as the stored text form."""
    found = _RELATIVE.fullmatch(value.strip().lower())
    if found:
        ago = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
        moment = max((now or contract.utc_now()) - ago, datetime(1970, 1, 1, tzinfo=timezone.utc))
        return contract.format_timestamp(moment)
    try:
        return parse_time(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a time: give {TIME_FORMS}") from None


def when_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: `parse_when`, refusing a bad time with its option's name."""
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def events() -> None:
    """Detected shelf interactions and lighting changes."""


@events.command("list")
@click.option("--device", "device_id", help="Only this device's events.")
@click.option("--since", callback=when_option, help=f"Start time: {TIME_FORMS}.")
@click.option("--until", callback=when_option, help="End time, same forms.")
@click.option("--decision", type=click.Choice(["changed", "unchanged"]))
@click.option("--verdict", type=click.Choice(VERDICTS),
              help="Only visits in which a shelf zone was taken from, placed on, moved or unchanged.")
@click.option("--roi", "roi_id", type=click.IntRange(0), help="Only visits that touched this ROI (its id).")
@click.option("--lighting", is_flag=True, help="List lighting changes instead of interactions.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_events(ctx: CliContext, device_id: str | None, since: str | None, until: str | None,
                decision: str | None, verdict: str | None, roi_id: int | None, lighting: bool, limit: int,
                as_json: bool) -> None:
    """Events, newest first: one line per visit with its ROIs and their verdicts."""
    store = ctx.appliance.events
    rows = store.list(device_id=device_id, decision=decision, verdict=verdict, roi_id=roi_id, limit=limit,
                      event_type="lighting_change" if lighting else "interaction_detected",
                      since=since, until=until)
    shown = store.public_many(rows)
    if as_json:
        print_json(shown)
        return
    if not shown:
        click.echo("No events.")
        return
    tz = zone(ctx.appliance.settings.get("time_zone"))
    click.echo(f"{'ID':>6}  {'DEVICE':<16} {'START':<25} {'SECONDS':>7}  WHAT HAPPENED (VERDICT BY ROI)")
    for event in shown:
        seconds = "" if event["duration_s"] is None else f"{event['duration_s']:.1f}"
        mark = " (false alarm)" if event["false_alarm"] else ""
        start = local_text(contract.parse_timestamp(event["start_ts"]), tz)
        click.echo(f"{event['id']:>6}  {event['device_id']:<16} {start:<25} {seconds:>7}  "
                   f"{describe(event)}{mark}")


def describe(event: dict[str, Any]) -> str:
    """The visit's ROIs and verdicts, most significant first: "Shelf 3: taken, Shelf 1: unchanged"."""
    if not event["rois"]:
        return event["type"].replace("_", " ")
    return ", ".join(f"{_roi_name(roi)}: {_outcome(roi)}" for roi in event["rois"])


def _roi_name(roi: dict[str, Any]) -> str:
    return roi["roi_name"] or f"ROI {roi['roi_id']}"


def _outcome(roi: dict[str, Any]) -> str:
    if roi["verdict"]:
        return roi["verdict"]
    return "not decided" if roi["decision"] in (None, "unknown") else roi["decision"]


def register(main: click.Group) -> None:
    main.add_command(events)
