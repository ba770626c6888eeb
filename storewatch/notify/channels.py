"""The notification channels table: where a channel sends, and which events it wants.

Secrets (a webhook's HMAC key, an Apprise URL with its tokens) are kept in the app
database, whose file and side files are 0600 (storewatch.store.Database); everything that
shows a channel (`public`) masks them, and nothing here logs them. The SQL is
storewatch/store/notify_channels.py's.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from storewatch import contract
from storewatch.store import Database, Row
from storewatch.store import notify_channels as table
from storewatch.errors import Conflict, InvalidInput, NotFound
from storewatch.store.events import VERDICTS
from storewatch.notify.schedule import Schedule, ScheduleError, parse_schedule

KINDS = ("webhook", "apprise", "mqtt")
DEFAULT_VERDICTS = ("taken", "placed")
MAX_NAME = 64
MAX_URL = 2048
MAX_COOLDOWN_S = 7 * 86400
MIN_SECRET = 16  # characters: an HMAC key anyone could guess signs nothing


class ChannelError(InvalidInput):
    """Bad input for a channel, said for a person; nothing was stored. `field` names the input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class ChannelNameTaken(Conflict):
    """A channel already has this name (409: the input is fine, what is stored refuses it)."""

    def __init__(self, message: str, field: str | None = "name"):
        super().__init__(message)
        self.field = field


class ChannelNotFound(NotFound):
    pass


EDITABLE = ("name", "url", "secret", "verdicts", "devices", "rois", "cooldown_s", "enabled", "schedule", "health",
            "digest_at", "health_anytime")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    kind: str
    url: str
    secret: str | None
    verdicts: tuple[str, ...]
    devices: tuple[str, ...] | None  # None: every device
    rois: tuple[int, ...] | None  # None: every ROI
    cooldown_s: float
    enabled: bool
    schedule: Schedule | None = None  # None: at any time
    health: bool = False  # also the appliance's health alerts (storewatch/notify/health.py)
    digest_at: str | None = None  # "HH:MM" in the appliance's time zone: a daily digest then (notify/digest.py)
    health_anytime: bool = False  # health alerts also outside the schedule (else they wait for its next window)

    @classmethod
    def from_row(cls, row: Row) -> Channel:
        devices, rois = json.loads(row["devices"] or "null"), json.loads(row["rois"] or "null")
        return cls(row["id"], row["name"], row["kind"], row["url"], row["secret"], tuple(json.loads(row["verdicts"])),
                   None if devices is None else tuple(devices), None if rois is None else tuple(rois),
                   float(row["cooldown_s"]), bool(row["enabled"]),
                   parse_schedule(row["schedule"]) if row.get("schedule") else None, bool(row.get("health")),
                   row.get("digest_at"), bool(row.get("health_anytime")))

    def public(self) -> dict[str, Any]:
        """The channel as the CLI shows it: URL and secret masked."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "url": mask_url(self.url, self.kind),
                "secret": mask_secret(self.secret), "verdicts": list(self.verdicts),
                "devices": None if self.devices is None else list(self.devices),
                "rois": None if self.rois is None else list(self.rois),
                "cooldown_s": self.cooldown_s, "enabled": self.enabled,
                "schedule": None if self.schedule is None else self.schedule.text(), "health": self.health,
                "digest_at": self.digest_at, "health_anytime": self.health_anytime}


def mask_secret(secret: str | None) -> str | None:
    """The first 3 characters and an ellipsis: enough to tell two secrets apart."""
    return None if not secret else f"{secret[:3]}…"


def mask_url(url: str, kind: str) -> str:
    """Scheme and host only: Apprise URLs carry tokens anywhere (user, host, path, query)."""
    parts = urlsplit(url)
    if kind in ("webhook", "mqtt"):  # mqtt: the user and password are left out
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        rest = "/…" if (parts.path.strip("/") or parts.query) else ""
        return f"{parts.scheme}://{host}{port}{rest}"
    return f"{parts.scheme}://…"


def _check_url(kind: str, url: str) -> str:
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise ChannelError(f"the URL must be 1 to {MAX_URL} characters", "url")
    if kind == "webhook":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChannelError("a webhook URL starts with http:// or https:// and names a host, "
                               "for example http://192.168.1.20:8123/hook", "url")
        return url
    if kind == "mqtt":
        from storewatch.notify.mqtt import parse_url

        try:
            parse_url(url)
        except ValueError as exc:
            raise ChannelError(str(exc), "url") from None
        return url
    from storewatch.notify.apprise_channel import understands

    if not understands(url):  # Apprise's reason may quote the URL's tokens, so say only this
        raise ChannelError(f"Apprise does not understand this URL (a {urlsplit(url).scheme or 'missing'}:// "
                           "service); see https://github.com/caronc/apprise/wiki for the URL of each service", "url")
    return url


def _check_verdicts(verdicts: list[str] | None) -> list[str]:
    chosen = list(DEFAULT_VERDICTS) if verdicts is None else [v.strip() for v in verdicts if v.strip()]
    wrong = [v for v in chosen if v not in VERDICTS]
    if wrong or not chosen:
        raise ChannelError(f"verdicts are some of {', '.join(VERDICTS)} (given: {', '.join(wrong) or 'none'})", "verdicts")
    return sorted(set(chosen), key=VERDICTS.index)


def check_digest_at(value: Any) -> str | None:
    """A digest time as stored: "HH:MM" (00:00 to 23:59), or None for no digest ("" and "off" too)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off", "none")):
        return None
    if not isinstance(value, str) or not _HHMM.fullmatch(value.strip().zfill(5)):
        raise ChannelError("the digest time is HH:MM, 00:00 to 23:59, in the appliance's time zone "
                           "(for example 21:00), or off", "digest_at")
    return value.strip().zfill(5)


def _checked(name: Any, kind: str, url: Any, secret: Any, verdicts: Any, cooldown_s: Any, schedule: Any,
             health: Any, digest_at: Any = None, health_anytime: Any = False) -> dict[str, Any]:
    """A channel's fields as stored, or ChannelError naming the first wrong one: the one rule
    for the CLI's `notify add` and the admin panel's add and edit."""
    if not isinstance(name, str) or not (name := name.strip()) or len(name) > MAX_NAME or not name.isprintable():
        raise ChannelError(f"a channel name is 1 to {MAX_NAME} printable characters", "name")
    if not isinstance(url, str):
        raise ChannelError("the URL is text", "url")
    url = _check_url(kind, url)
    if kind in ("apprise", "mqtt") and secret is not None:
        carries = "an Apprise URL carries its own tokens" if kind == "apprise" else "an MQTT URL its own password"
        raise ChannelError(f"--secret is for webhooks; {carries}", "secret")
    if kind == "webhook" and (not isinstance(secret, str) or len(secret) < MIN_SECRET or not secret.isprintable()):
        raise ChannelError(f"a webhook secret is at least {MIN_SECRET} printable characters", "secret")
    if not isinstance(health, bool):
        raise ChannelError("health is true or false", "health")
    if health and kind == "mqtt":  # its topics are per camera and area; an alert has neither
        raise ChannelError("health alerts go to webhook and Apprise channels, not MQTT", "health")
    if not isinstance(health_anytime, bool):
        raise ChannelError("health_anytime is true or false", "health_anytime")
    digest = check_digest_at(digest_at)
    if verdicts is not None and (not isinstance(verdicts, list) or not all(isinstance(v, str) for v in verdicts)):
        raise ChannelError("verdicts are a list of words", "verdicts")
    chosen = _check_verdicts(verdicts)
    if isinstance(cooldown_s, bool) or not isinstance(cooldown_s, (int, float)) or not 0 <= cooldown_s <= MAX_COOLDOWN_S:
        raise ChannelError(f"the cooldown is 0 to {MAX_COOLDOWN_S} seconds", "cooldown_s")
    if schedule is not None and not isinstance(schedule, str):
        raise ChannelError("the schedule is text", "schedule")
    try:
        written = None if schedule is None or not schedule.strip() else parse_schedule(schedule).text()
    except ScheduleError as exc:
        raise ChannelError(f"the schedule: {exc}", "schedule") from None
    return {"name": name, "url": url, "secret": secret, "verdicts": chosen, "cooldown_s": float(cooldown_s),
            "schedule": written, "health": health, "digest_at": digest, "health_anytime": health_anytime}


class ChannelStore:
    def __init__(self, db: Database):
        self.db = db

    def add(self, name: str, kind: str, url: str, *, secret: str | None = None, verdicts: list[str] | None = None,
            devices: list[str] | None = None, rois: list[int] | None = None, cooldown_s: float = 0.0,
            enabled: bool = True, schedule: str | None = None, health: bool = False, digest_at: str | None = None,
            health_anytime: bool = False) -> tuple[Channel, str | None]:
        """A new channel, and the webhook secret when one was made for it (shown once)."""
        if kind not in KINDS:
            raise ChannelError(f"the kind is one of {', '.join(KINDS)}", "kind")
        made = secrets.token_urlsafe(24) if kind == "webhook" and secret is None else None
        values = _checked(name, kind, url, made or secret, verdicts, cooldown_s, schedule, health, digest_at,
                          health_anytime)
        with self.db.write() as conn:
            self._check_targets(conn, devices, rois)
            self._check_name_free(conn, values["name"])
            channel_id = table.insert(conn, kind, {**values, "devices": devices, "rois": rois, "enabled": enabled},
                                      contract.format_timestamp(contract.utc_now()))
        return self.get(channel_id), made

    def update(self, channel_id: int, changes: dict[str, Any]) -> Channel:
        """Change the given fields (EDITABLE) of a channel, checked by the same rules as `add`;
        a field left out keeps its value (so a secret is replaced only when one is given)."""
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise ChannelError(f"{', '.join(unknown)} cannot be changed (a channel's kind stays; add a new "
                               "channel for another kind)", unknown[0])
        with self.db.write() as conn:
            old = self.get(channel_id)
            merged = {"name": old.name, "url": old.url, "secret": old.secret, "verdicts": list(old.verdicts),
                      "devices": None if old.devices is None else list(old.devices),
                      "rois": None if old.rois is None else list(old.rois), "cooldown_s": old.cooldown_s,
                      "enabled": old.enabled, "schedule": None if old.schedule is None else old.schedule.text(),
                      "health": old.health, "digest_at": old.digest_at, "health_anytime": old.health_anytime,
                      **changes}
            values = _checked(merged["name"], old.kind, merged["url"], merged["secret"], merged["verdicts"],
                              merged["cooldown_s"], merged["schedule"], merged["health"], merged["digest_at"],
                              merged["health_anytime"])
            if "devices" in changes or "rois" in changes:
                self._check_targets(conn, merged["devices"] if "devices" in changes else None,
                                    merged["rois"] if "rois" in changes else None)
            if values["name"] != old.name:
                self._check_name_free(conn, values["name"])
            table.update(conn, channel_id, {**values, "devices": merged["devices"], "rois": merged["rois"],
                                            "enabled": bool(merged["enabled"])})
        return self.get(channel_id)

    @staticmethod
    def _check_name_free(conn: Any, name: str) -> None:
        if table.name_taken(conn, name):
            raise ChannelNameTaken(f"there is already a channel called {name!r}", "name")

    @staticmethod
    def _check_targets(conn: Any, devices: list[str] | None, rois: list[int] | None) -> None:
        for label, name, wanted in (("device", "devices", devices), ("ROI", "rois", rois)):
            if wanted is None:
                continue
            if not wanted:
                raise ChannelError(f"give at least one {label}, or leave the option out for every {label}",
                                   f"{label.lower()}s")
            known = table.known_ids(conn, name, wanted)
            missing = [str(item) for item in wanted if item not in known]
            if missing:
                raise ChannelError(f"no {label} {', '.join(missing)} (see `storewatch {label.lower()} list`)",
                                   f"{label.lower()}s")

    def get(self, channel_id: int) -> Channel:
        row = table.by_id(self.db, channel_id)
        if row is None:
            raise ChannelNotFound(f"no channel {channel_id}")
        return Channel.from_row(row)

    def named(self, name: str) -> Channel:
        row = table.by_name(self.db, name)
        if row is None:
            raise ChannelNotFound(f"no channel called {name!r} (see `storewatch notify list`)")
        return Channel.from_row(row)

    def list(self, conn: Any = None) -> list[Channel]:
        return [Channel.from_row(row) for row in table.every(self.db, conn)]

    def remove(self, name: str) -> Channel:
        """Delete the channel with its outbox (queued deliveries are dropped with it)."""
        with self.db.write() as conn:
            channel = self.named(name)
            table.delete(conn, channel.id)
        return channel

    def remove_id(self, channel_id: int) -> Channel:
        with self.db.write() as conn:
            channel = self.get(channel_id)
            table.delete(conn, channel.id)
        return channel
