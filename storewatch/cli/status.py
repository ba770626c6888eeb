"""`storewatch status`: one screen of how the appliance is doing, anything wrong first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from storewatch.cli import CliContext, print_json, shop_time
from storewatch.cli.events import describe

LAST_EVENTS = 5


def gather(appliance: Any) -> dict[str, Any]:
    from storewatch.ops import camera_state, doctor
    from storewatch import contract
    from storewatch.upkeep import metrics

    now = contract.utc_now()
    checks = [_check_running(appliance.data_dir), doctor.check_builtin_camera(appliance), doctor.check_disk(appliance),
              doctor.check_worker(appliance, now), *doctor.check_devices(appliance, now),
              doctor.check_retention(appliance), *doctor.check_watched(appliance)]
    collected = metrics.collect(appliance, now)
    events = appliance.events.public_many(appliance.events.list(limit=LAST_EVENTS, event_type=None))
    return {
        "status": doctor.worst(checks),
        "problems": [c.to_json() for c in doctor.problems_first(checks)
                     if c.status in (doctor.WARN, doctor.FAIL)],
        "camera": camera_state.report(appliance.data_dir, now),
        "devices": collected["devices"], "queue": collected["queue"], "disk": collected["disk"],
        "ingest": collected["ingest"], "last_events": events,
        "last_retention": collected["retention"]["last_run"],
    }


def _check_running(data_dir: Path) -> Any:
    # `storewatch run` records its address while it serves (for doctor); a clean stop removes it.
    from storewatch.ops import doctor, server_address

    found = server_address.read(data_dir)
    if found is not None and found.running:
        return doctor.Check("storewatch run", doctor.OK, f"serving on {found.url}")
    return doctor.Check("storewatch run", doctor.WARN,
                        "not running: no frames are taken in or analysed and no notifications are sent",
                        doctor.START_STEP)


@click.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(ctx: CliContext, as_json: bool) -> None:
    """Devices, queue, disk and the last events; problems first."""
    shown = gather(ctx.appliance)
    if as_json:
        print_json(shown)
        return
    _problems(shown["problems"])
    _camera(shown["camera"])
    _devices(shown["devices"])
    _queue(shown["queue"], shown["ingest"])
    _disk(shown["disk"])
    _events(shown["last_events"], ctx.appliance)


def _problems(problems: list[dict[str, str]]) -> None:
    if not problems:
        click.echo("No problems found.")
    for problem in problems:
        click.echo(f"{problem['status']:<5} {problem['name']}: {problem['message']}")
        click.echo(f"      next: {problem['next_step']}")
    click.echo()


def _camera(state: dict[str, Any] | None) -> None:
    if state is not None:
        click.echo(f"Built-in camera: {state['summary']}")
        click.echo()


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _devices(devices: list[dict[str, Any]]) -> None:
    click.echo(f"Devices ({len(devices)}):")
    if not devices:
        click.echo("  none yet: `storewatch device add NAME`")
    for d in devices:
        spool = "-" if d["spool_frames"] is None else f"{d['spool_frames']} queued"
        dropped = "" if not d["dropped_frames"] else f", {d['dropped_frames']} dropped"
        click.echo(f"  {d['id']:<20} {d['mode']:<8} seen {_ago(d['last_seen_age_s']):<14} "
                   f"config {_ago(d['last_config_fetch_age_s']):<14} spool {spool}{dropped}"
                   + ("" if d["enabled"] else "  (disabled)"))
    click.echo()


def _queue(queue: dict[str, Any], ingest: dict[str, Any]) -> None:
    states = ", ".join(f"{state} {n}" for state, n in queue["by_state"].items())
    oldest = queue["oldest_queued_age_s"]
    click.echo(f"Queue: {states}; oldest waiting {'-' if oldest is None else _ago(oldest)}")
    click.echo(f"Ingest: {ingest['accepted']} accepted, {ingest['duplicate']} duplicate, "
               f"{ingest['rejected_total']} rejected")
    click.echo()


def _disk(disk: dict[str, Any]) -> None:
    gb = 1e9
    click.echo(f"Disk: {disk['free_bytes'] / gb:.2f} GB free of {disk['total_bytes'] / gb:.2f} GB "
               f"(reserve {disk['reserve_bytes'] / gb:.2f} GB){'  BELOW RESERVE' if disk['below_reserve'] else ''}")
    click.echo(f"  staging {disk['staging_bytes'] / 1e6:.1f} MB in {disk['staging_frames']} frames "
               f"(max {disk['staging_max_bytes'] / 1e6:.0f} MB), events {disk['events_bytes'] / 1e6:.1f} MB, "
               f"databases {disk['database_bytes'] / 1e6:.1f} MB")
    click.echo()


def _events(events: list[dict[str, Any]], appliance: Any) -> None:
    click.echo(f"Last events ({len(events)}):")
    if not events:
        click.echo("  none yet")
    for e in events:
        what = describe(e) if e["rois"] else e["type"].replace("_", " ") if e["type"] != "interaction_detected" \
            else f"{e['roi_name'] or 'roi'}: {e['decision']}"  # an event from before per-area verdicts
        click.echo(f"  #{e['id']:<6} {shop_time(appliance, e['start_ts']):<25} {e['device_id']:<20} {what}")


def register(main: click.Group) -> None:
    main.add_command(status)
