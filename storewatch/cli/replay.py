"""`storewatch replay`: the analysis run again over a device's kept frames, with other
thresholds, beside the events that were and the owner's review (storewatch/replay)."""

from __future__ import annotations

import sys
from typing import Any

import click

from storewatch import contract
from storewatch.analysis.thresholds import BOUNDS
from storewatch.cli import CliContext, print_json
from storewatch.cli.events import TIME_FORMS, when_option
from storewatch.errors import DomainError
from storewatch.timezone import local_text, zone

LEFT = 44  # the replayed column's width
PROGRESS_FROM = 600  # frames: a shorter replay takes about a second and shows no bar


@click.command("replay")
@click.option("--device", "device_id", required=True, help="The device whose kept frames to replay.")
@click.option("--since", required=True, callback=when_option, help=f"Start (capture time): {TIME_FORMS}.")
@click.option("--until", default="0s", show_default="now", callback=when_option, help="End, same forms.")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="A threshold for the replay (repeatable), e.g. start_threshold=0.09; the names are"
                   " those of `storewatch roi` thresholds.")
@click.option("--roi", "roi_id", type=click.IntRange(0), help="Only this ROI: --set applies to it alone and only"
              " visits touching it are compared.")
@click.option("--suggest", is_flag=True, help="Search start_threshold, end_threshold, quiet_seconds and"
              " change_threshold for the setting that keeps every confirmed event and drops the most false alarms.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def replay(ctx: CliContext, device_id: str, since: str, until: str, assignments: tuple[str, ...],
           roi_id: int | None, suggest: bool, as_json: bool) -> None:
    """Replay kept frames and show the would-be events beside the events that were."""
    from storewatch import replay as engine
    from storewatch.replay.priority import lower_priority

    span = _span(since, until)
    overrides = _overrides(assignments)
    if suggest and overrides:
        raise click.UsageError("--suggest searches the thresholds itself; leave out --set")
    lower_priority()  # a process of its own: the live worker keeps the CPU first
    appliance = ctx.appliance
    try:
        with _Progress(not as_json) as bar:
            if suggest:
                result = engine.suggest(appliance, device_id, *span, roi_id, progress=bar.update)
            else:
                result = engine.replay(appliance, device_id, *span, overrides, roi_id, progress=bar.update)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        print_json(result.to_json())
    elif suggest:
        _print_suggestion(result.to_json())
    else:
        _print_report(result.to_json(), zone(appliance.settings.get("time_zone")))


def _span(since: str, until: str) -> tuple[float, float]:
    start, end = (contract.parse_timestamp(v).timestamp() for v in (since, until))  # when_option checked them
    if start >= end:
        raise click.BadParameter(f"--since ({since}) must be before --until ({until})")
    return start, end


def _overrides(assignments: tuple[str, ...]) -> dict[str, float]:
    found: dict[str, float] = {}
    for pair in assignments:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or name not in BOUNDS:
            raise click.BadParameter(f"{pair!r}: give NAME=VALUE with NAME one of {', '.join(sorted(BOUNDS))}",
                                     param_hint="--set")
        try:
            found[name] = float(raw)
        except ValueError:
            raise click.BadParameter(f"{pair!r}: {raw.strip()!r} is not a number", param_hint="--set") from None
    return found


class _Progress:
    """click's progress bar on stderr, opened once the replay says it is long."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: Any = None
        self.done = 0

    def __enter__(self) -> "_Progress":
        return self

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_FROM:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="replaying", file=sys.stderr, show_eta=True)
            self.bar.__enter__()
        self.bar.length = total
        self.bar.update(max(0, done - self.done))
        self.done = max(self.done, done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _print_report(report: dict[str, Any], tz: Any) -> None:
    sets = ", ".join(f"{k}={v:g}" for k, v in sorted(report["overrides"].items())) or "the thresholds of the time"
    click.echo(f"replay of {report['device_id']}: {_when(report['since'], tz)} to {_when(report['until'], tz)},"
               f" {report['frames']} frames, with {sets}")
    if not report["comparison"]:
        click.echo("no events, live or replayed, in this span")
    else:
        click.echo(f"  {'':<16}{'REPLAYED':<{LEFT}}LIVE")
    for entry in report["comparison"]:
        live = entry["live"]
        right = "" if live is None else f"#{live['id']} {_event(live, tz)}" + (
            f" [{live['review'].replace('_', ' ')}]" if live["review"] else "")
        left = "" if entry["replayed"] is None else _event(entry["replayed"], tz)
        kind = entry["kind"].replace("_", " ")
        if len(left) > LEFT - 2:  # too wide to stand beside: the live event goes on its own line
            click.echo(f"  {kind:<16}{left}")
            kind, left = "", ""
        if left or right:
            click.echo(f"  {kind:<16}{left:<{LEFT}}{right}".rstrip())
    click.echo(report["summary"])


def _event(event: dict[str, Any], tz: Any) -> str:
    start = local_text(contract.parse_timestamp(event["start_ts"]), tz)[11:19]
    seconds = event["end_epoch"] - event["start_epoch"]
    rois = ", ".join(f"{r['roi_name'] or 'ROI ' + str(r['roi_id'])}: {r['verdict'] or r['decision']}"
                     for r in event["rois"])
    return f"{start} {seconds:4.1f}s {rois}"


def _when(epoch: float, tz: Any) -> str:
    from datetime import datetime, timezone

    return local_text(datetime.fromtimestamp(epoch, timezone.utc), tz)


def _print_suggestion(s: dict[str, Any]) -> None:
    if s["overrides"]:
        click.echo("suggested: " + " ".join(f"--set {k}={v:g}" for k, v in sorted(s["overrides"].items())))
    click.echo(s["message"])
    if s["rests_on"]:
        click.echo(f"({s['replays']} replays; rests on {s['rests_on']} reviewed events: {s['confirmed']} confirmed,"
                   f" {s['false_alarms']} false alarms)")


def register(main: click.Group) -> None:
    main.add_command(replay)
