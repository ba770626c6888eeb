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
from storewatch.cli.events import TIME_FORMS, when_option

# One row per touched ROI of each event (an event's columns repeat on each of its ROI rows); verdict,
# decision, score and box are that ROI's. Until schema 8 it was one row per event, keyed `id`.
CSV_FIELDS = ("event_id", "type", "start_ts", "end_ts", "duration_s", "device_id", "device_name", "roi_id",
              "roi_name", "roi_start_ts", "roi_end_ts", "verdict", "decision", "score", "box", "false_alarm",
              "images_expired", "start_capture_id", "created_at", "images")


@click.command("export")
@click.option("--since", required=True, callback=when_option,
              help=f"Events starting at or after this time: {TIME_FORMS}.")
@click.option("--until", callback=when_option, help="…and before this one, same forms.")
@click.option("--device", "device_id", help="Only this device's events.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The zip file to write.")
@click.pass_obj
def export(ctx: CliContext, since: str, until: str | None, device_id: str | None, out: Path) -> None:
    """Write events (events.json, events.csv) and their pictures (images/ID/KIND.jpg) to a zip.

    events.json holds each event as the admin API shows it, with its touched ROIs; events.csv has
    one row per touched ROI (event_id repeats; verdict, decision, score and box are the ROI's)."""
    appliance = ctx.appliance
    store = appliance.events
    events = store.public_many(store.between(since, until, device_id))
    images = store.picture_files([event["id"] for event in events])
    temp = out.with_name(f".{out.name}.partial")
    written = missing = 0
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        for event in events:
            event["images"] = {}
            for image in images.get(event["id"], []):
                name = f"images/{event['id']}/{Path(image['path']).name}"
                try:
                    archive.write(appliance.images.absolute(image["path"]), name, zipfile.ZIP_STORED)
                except (FileNotFoundError, ValueError):
                    missing += 1
                    continue
                event["images"][image["kind"]] = name
                written += 1
        archive.writestr("events.json", json.dumps(events, indent=2))
        archive.writestr("events.csv", _csv(events))
    os.replace(temp, out)
    click.echo(f"Exported {len(events)} events and {written} pictures to {out}"
               + (f" ({missing} pictures were missing on disk)." if missing else "."))


def _csv(events: list[dict[str, Any]]) -> str:
    """One row per touched ROI; a lighting change is one row without an ROI."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for event in events:
        shared = {**event, "event_id": event["id"], "images": " ".join(event["images"].values())}
        for roi in event["rois"] or [None]:
            own = {} if roi is None else {
                "roi_id": roi["roi_id"], "roi_name": roi["roi_name"], "roi_start_ts": roi["start_ts"],
                "roi_end_ts": roi["end_ts"], "verdict": roi["verdict"], "decision": roi["decision"],
                "score": roi["score"], "box": json.dumps(roi["box"]) if roi["box"] else ""}
            blank = dict.fromkeys(("roi_id", "roi_name", "roi_start_ts", "roi_end_ts", "verdict", "decision",
                                   "score", "box"), "")
            writer.writerow({**shared, **blank, **own})
    return buffer.getvalue()


def register(main: click.Group) -> None:
    try:
        from storewatch.cli.events import events as group
    except ImportError:  # the events commands are not there yet: a group of our own
        group = main.commands.get("events") or click.Group("events", help="Detected events.")
        main.add_command(group)
    group.add_command(export)
