"""`storewatch events export`: events with their pictures, as one zip of JSON, CSV and images.

The `events` group belongs to `storewatch/cli/events.py`; this module adds its command to
that group (or, if it is missing, to a group of its own with the same name).
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import click

from storewatch.cli import CliContext

CSV_FIELDS = ("id", "device_id", "roi_id", "roi_name", "type", "start_ts", "end_ts", "duration_s", "peak_score",
              "decision", "verdict", "decision_score", "false_alarm", "images_expired", "start_capture_id", "created_at",
              "images")


def _time(value: str | None, name: str) -> str | None:
    from storewatch import contract

    if value is None:
        return None
    try:
        return contract.format_timestamp(contract.parse_timestamp(value))
    except ValueError:
        raise click.BadParameter("give an RFC 3339 time such as 2026-01-31T08:00:00Z", param_hint=name) from None


@click.command("export")
@click.option("--since", required=True, help="Events starting at or after this RFC 3339 time.")
@click.option("--until", help="…and before this one.")
@click.option("--device", "device_id", help="Only this device's events.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The zip file to write.")
@click.pass_obj
def export(ctx: CliContext, since: str, until: str | None, device_id: str | None, out: Path) -> None:
    """Write events (events.json, events.csv) and their pictures (images/ID/KIND.jpg) to a zip."""
    since_ts, until_ts = _time(since, "--since"), _time(until, "--until")
    appliance = ctx.appliance
    rows = appliance.db.query(
        "SELECT * FROM events WHERE julianday(start_ts) >= julianday(?)"
        " AND (? IS NULL OR julianday(start_ts) < julianday(?)) AND (? IS NULL OR device_id = ?)"
        " ORDER BY start_ts, id", (since_ts, until_ts, until_ts, device_id, device_id))
    images = _images(appliance, [row["id"] for row in rows])
    temp = out.with_name(f".{out.name}.partial")
    written = missing = 0
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            row["images"] = {}
            for image in images.get(row["id"], []):
                name = f"images/{row['id']}/{Path(image['path']).name}"
                try:
                    archive.write(appliance.images.absolute(image["path"]), name, zipfile.ZIP_STORED)
                except (FileNotFoundError, ValueError):
                    missing += 1
                    continue
                row["images"][image["kind"]] = name
                written += 1
        archive.writestr("events.json", json.dumps(_for_json(rows), indent=2))
        archive.writestr("events.csv", _csv(rows))
    os.replace(temp, out)
    click.echo(f"Exported {len(rows)} events and {written} pictures to {out}"
               + (f" ({missing} pictures were missing on disk)." if missing else "."))


def _images(appliance: Any, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for image in appliance.db.query(
                f"SELECT event_id, kind, path FROM event_images WHERE event_id IN ({marks}) ORDER BY kind", chunk):
            found.setdefault(image["event_id"], []).append(image)
    return found


def _for_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for row in rows:
        item = {key: row.get(key) for key in CSV_FIELDS}
        item["box"] = json.loads(row["box"]) if row.get("box") else None
        item["false_alarm"], item["images_expired"] = bool(row["false_alarm"]), bool(row["images_expired"])
        shown.append(item)
    return shown


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "images": " ".join(row["images"].values())})
    return buffer.getvalue()


def register(main: click.Group) -> None:
    try:
        from storewatch.cli.events import events as group
    except ImportError:  # the events commands are not there yet: a group of our own
        group = main.commands.get("events") or click.Group("events", help="Detected events.")
        main.add_command(group)
    group.add_command(export)
