"""The appliance's time zone: an IANA name (the `time_zone` setting), the system's by default.

The API keeps answering times in UTC (RFC 3339, the contract); this zone is only how times
are shown to people (the admin panel, the CLI, notifications) and how schedules are read.
"""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storewatch import contract

if TYPE_CHECKING:
    from storewatch.appliance import Appliance

_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-")


def check_zone(name: object) -> str:
    """`name` if it is an IANA time zone this system knows (Europe/Berlin, UTC); else ValueError."""
    if not isinstance(name, str) or not 0 < len(name) <= 64 or not set(name) <= _NAME_CHARS \
            or name.startswith("/") or ".." in name:
        raise ValueError(f"{str(name)[:64]!r} is not a time zone name (for example Europe/Berlin or UTC)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not a time zone this appliance knows (for example Europe/Berlin or UTC)") \
            from None
    return name


def system_zone_name(localtime: Path = Path("/etc/localtime"), timezone_file: Path = Path("/etc/timezone")) -> str:
    """TZ if it names a zone, else what /etc/localtime links to (or /etc/timezone says), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(timezone_file.read_text().strip())
    except OSError:
        pass
    for candidate in candidates:
        try:
            return check_zone(candidate)
        except ValueError:
            continue
    return "UTC"


def zone(name: str | None) -> tzinfo:
    """The zone of a stored setting; UTC if it has become unknown (a system without that tzdata)."""
    try:
        return ZoneInfo(check_zone(name))
    except ValueError:
        return ZoneInfo("UTC")


def local_text(moment: datetime, tz: tzinfo) -> str:
    """"2026-11-24 06:47:30 CET": how the CLI writes a time for a person."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def shop_time(appliance: Appliance, stored: str | None, missing: str = "never") -> str:
    """A stored UTC time as the CLI and doctor write times for a person: on the shop's clock (`time_zone`)."""
    if not stored:
        return missing
    return local_text(contract.parse_timestamp(stored), zone(appliance.settings.get("time_zone")))
