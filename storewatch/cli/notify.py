"""`storewatch notify …`: where the appliance tells the owner about shelf events."""

from __future__ import annotations

import uuid
from typing import Any

import click

from storewatch.cli import CliContext, print_json, print_rows, shop_time
from storewatch.notify.channels import (KINDS, MAX_COOLDOWN_S, ChannelError, ChannelNameTaken, ChannelNotFound,
                                        ChannelStore)
from storewatch.notify.outbox import STATES, Outbox, public_row
from storewatch.notify.schedule import EXAMPLE


@click.group()
def notify() -> None:
    """Notification channels (webhooks, Apprise: ntfy, Telegram, e-mail, ...) and their outbox."""


def _words(value: str | None) -> list[str] | None:
    return None if value is None else [part.strip() for part in value.split(",") if part.strip()]


def _roi_ids(value: str | None) -> list[int] | None:
    words = _words(value)
    if words is None:
        return None
    if not all(word.isdigit() for word in words):
        raise click.BadParameter("give ROI ids as numbers, for example --rois 3,4 (see `storewatch roi list`)")
    return [int(word) for word in words]


@notify.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="webhook: a signed JSON POST; apprise: "
              "any service Apprise knows (ntfy://, tgram://, mailto://, ...); mqtt: an MQTT broker, with Home "
              "Assistant discovery.")
@click.option("--url", required=True, help="Where to send: the webhook's http(s) URL, the Apprise URL, or the broker "
              "(mqtt://user:password@host:1883, mqtts:// for TLS).")
@click.option("--secret", help="The webhook's signing secret (at least 16 characters); made for you if left out.")
@click.option("--verdicts", default="taken,placed", show_default=True,
              help="Which verdicts of a touched shelf area to tell about: taken, placed, moved, unchanged.")
@click.option("--devices", help="Only these cameras (device ids, comma-separated). Default: every camera.")
@click.option("--rois", help="Only these shelf areas (ROI ids, comma-separated). Default: every area.")
@click.option("--cooldown", "cooldown_s", default=0.0, show_default=True, type=click.FloatRange(0, MAX_COOLDOWN_S),
              help="Seconds after a notification about a shelf area before the next one about that area.")
@click.option("--schedule", help="Only at these times, in the appliance's time zone: days, then an optional "
              f"HH:MM-HH:MM, windows separated by ';' (for example {EXAMPLE!r}). Default: at any time.")
@click.option("--health", is_flag=True, help="Also tell about the appliance's health: a camera down or silent, the "
              "disk almost full, pictures not analysed, a camera that stopped uploading (and when each is fine again).")
@click.option("--health-anytime", is_flag=True, help="Health alerts also outside --schedule (by default they wait "
              "for its next window, and one fine again before then is not sent at all).")
@click.option("--digest", "digest_at", metavar="HH:MM", help="Also a daily digest at this time (the appliance's "
              "time zone): per shelf area, the visits of the 24 hours before and what was taken or placed.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def add(ctx: CliContext, name: str, kind: str, url: str, secret: str | None, verdicts: str, devices: str | None,
        rois: str | None, cooldown_s: float, schedule: str | None, health: bool, health_anytime: bool,
        digest_at: str | None, as_json: bool) -> None:
    """Add a channel called NAME."""
    try:
        channel, made = ChannelStore(ctx.appliance.db).add(
            name, kind, url, secret=secret, verdicts=_words(verdicts), devices=_words(devices),
            rois=_roi_ids(rois), cooldown_s=cooldown_s, schedule=schedule, health=health,
            health_anytime=health_anytime, digest_at=digest_at)
    except (ChannelError, ChannelNameTaken) as exc:
        raise click.ClickException(f"channel not added: {exc}") from None
    if as_json:
        print_json({**channel.public(), **({"secret": made} if made else {})})
        return
    click.echo(f"Added {channel.kind} channel {channel.name!r}: {', '.join(channel.verdicts)} "
               f"{_scope(channel.public())}.")
    if made:
        click.echo(f"Its signing secret (shown only now; the receiver checks X-Storewatch-Signature with it): {made}")
    click.echo(f"Try it: storewatch notify test {channel.name!r}")


def _scope(shown: dict[str, Any]) -> str:
    devices = "every camera" if shown["devices"] is None else "camera " + ", ".join(shown["devices"])
    rois = "every area" if shown["rois"] is None else "area " + ", ".join(map(str, shown["rois"]))
    cooldown = f", at most once per {shown['cooldown_s']:g} s per area" if shown["cooldown_s"] else ""
    when = f", only {shown['schedule']}" if shown["schedule"] else ""
    health = "; and health alerts" if shown.get("health") else ""
    if health and shown["schedule"]:
        health += " (at any time)" if shown.get("health_anytime") else " (in the schedule)"
    digest = f"; a daily digest at {shown['digest_at']}" if shown.get("digest_at") else ""
    return f"on {devices}, {rois}{cooldown}{when}{health}{digest}"


@notify.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_channels(ctx: CliContext, as_json: bool) -> None:
    """Channels with their last delivery's result (URLs and secrets masked)."""
    summary = Outbox(ctx.appliance.db).summary()
    shown = [{**channel.public(), **summary.get(channel.id, {"counts": dict.fromkeys(STATES, 0), "last": None})}
             for channel in ChannelStore(ctx.appliance.db).list()]
    if as_json:
        print_json(shown)
        return
    if not shown:
        click.echo("No channels. Add one: storewatch notify add NAME --kind apprise --url ntfy://my-shop-topic")
        return
    for channel in shown:  # a paragraph per channel (its scope is a sentence), not a table
        counts = channel["counts"]
        click.echo(f"{channel['name']}  ({channel['kind']} {channel['url']}): {', '.join(channel['verdicts'])} "
                   f"{_scope(channel)}{'' if channel['enabled'] else ' [disabled]'}")
        click.echo(f"    waiting {counts['queued'] + counts['sending']}, delivered {counts['delivered']}, "
                   f"given up {counts['dead']}; last: {_last(ctx.appliance, channel['last'])}")


def _last(appliance: Any, last: dict[str, Any] | None) -> str:
    if last is None:
        return "nothing sent yet"
    what = last["about"]
    if last["state"] == "delivered":
        return f"delivered {what} at {shop_time(appliance, last['delivered_at'])}"
    word = "given up" if last["state"] == "dead" else "failed, will retry"
    return f"{what} {word} at {shop_time(appliance, last['last_attempt_at'])}: {last['last_error']}"


@notify.command("edit")
@click.argument("name")
@click.option("--url", help="Where to send instead (the same forms as `notify add`).")
@click.option("--secret", help="A new signing secret for the webhook (at least 16 characters).")
@click.option("--digest", "digest_at", metavar="HH:MM|off", help="A daily digest at this time (the appliance's time "
              "zone), or off.")
@click.option("--schedule", help="Only at these times (see `notify add --help`); 'always' for at any time.")
@click.option("--verdicts", help="Which verdicts to tell about, comma-separated.")
@click.option("--cooldown", "cooldown_s", type=click.FloatRange(0, MAX_COOLDOWN_S),
              help="Seconds between notifications about one shelf area.")
@click.option("--health/--no-health", default=None, help="Health alerts on this channel, or not.")
@click.option("--health-anytime/--health-in-schedule", default=None,
              help="Health alerts at any time, or only in the schedule (they wait for its next window).")
@click.option("--enable/--disable", "enabled", default=None, help="Send on this channel, or pause it.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def edit(ctx: CliContext, name: str, url: str | None, secret: str | None, digest_at: str | None,
         schedule: str | None, verdicts: str | None, cooldown_s: float | None, health: bool | None,
         health_anytime: bool | None, enabled: bool | None, as_json: bool) -> None:
    """Change channel NAME; what is not given stays as it is."""
    changes: dict[str, Any] = {"url": url, "secret": secret, "digest_at": digest_at, "verdicts": _words(verdicts),
                               "cooldown_s": cooldown_s, "health": health, "health_anytime": health_anytime,
                               "enabled": enabled}
    changes = {key: value for key, value in changes.items() if value is not None}
    if schedule is not None:
        changes["schedule"] = None if schedule.strip().lower() in ("", "always") else schedule
    if not changes:
        raise click.UsageError("give at least one change, for example --digest 21:00 (see --help)")
    store = ChannelStore(ctx.appliance.db)
    try:
        channel = store.update(store.named(name).id, changes)
    except (ChannelError, ChannelNameTaken, ChannelNotFound) as exc:
        raise click.ClickException(f"channel not changed: {exc}") from None
    if as_json:
        print_json(channel.public())
        return
    click.echo(f"Changed {channel.kind} channel {channel.name!r}: {', '.join(channel.verdicts)} "
               f"{_scope(channel.public())}.")


CHECK = {"webhook": "Is the receiver running at that address?",
         "apprise": "Is the service's URL right (its name, token or topic)?",
         "mqtt": "Is the broker running at that address, with that user and password?"}


@notify.command("test")
@click.argument("name")
@click.pass_obj
def test(ctx: CliContext, name: str) -> None:
    """Send a test message on channel NAME now and say what happened."""
    from storewatch.notify.deliver import appliance_time_zone, send
    from storewatch.notify.message import test_message

    try:
        channel = ChannelStore(ctx.appliance.db).named(name)
    except ChannelNotFound as exc:
        raise click.ClickException(str(exc)) from None
    message = test_message(channel.name, f"test-{uuid.uuid4().hex}", appliance_time_zone(ctx.appliance))
    result = send(channel, message)
    if not result.ok:
        raise click.ClickException(f"the test message was not sent: {result.detail}. {CHECK[channel.kind]} "
                                   f"`storewatch notify list` shows the URL (masked); "
                                   f"`storewatch notify edit {channel.name!r} --url URL` changes it.")
    click.echo(f"Test message sent on {channel.name!r}: {result.detail}.")


@notify.command("remove")
@click.argument("name")
@click.pass_obj
def remove(ctx: CliContext, name: str) -> None:
    """Remove channel NAME and what it still had to send."""
    try:
        channel = ChannelStore(ctx.appliance.db).remove(name)
    except ChannelNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed channel {channel.name!r}.")


@notify.command("outbox")
@click.option("--state", type=click.Choice(STATES), help="Only deliveries in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def outbox(ctx: CliContext, state: str | None, limit: int, as_json: bool) -> None:
    """Deliveries, newest first: waiting, being sent, delivered, or given up (dead) and why."""
    rows = [public_row(row) for row in Outbox(ctx.appliance.db).list(state=state, limit=limit)]
    print_rows(rows, [("ABOUT", "<14", _short), ("CHANNEL", "<16", "channel"), ("STATE", "<10", "state"),
                      ("TRIES", ">5", "attempts"), ("DELIVERY ID", "<32", "delivery_id"),
                      ("WHY", "", lambda row: row["last_error"] or "")],
               as_json=as_json, empty="The outbox is empty.")


def _short(row: dict[str, Any]) -> str:
    kind = row["kind"]
    if kind == "event":
        return f"event {row['event_id']}"
    if kind == "digest":
        return f"digest {row['digest_id']}"
    return {"health": f"health {row['alert_id']}", "visit_started": "visit start", "visit_ended": "visit end"}[kind]


def register(main: click.Group) -> None:
    main.add_command(notify)
