"""When a channel wants to hear: weekly time windows in the appliance's time zone.

Written as `mon-fri 18:00-08:00; sat,sun` (days, then an optional HH:MM-HH:MM; windows
separated by `;`). A window that ends before it starts runs over midnight and belongs to the
day it starts on, so `fri 18:00-08:00` covers Friday evening to Saturday 08:00. Days alone
mean the whole day; a time alone means every day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")
MAX_WINDOWS = 14
EXAMPLE = "mon-fri 18:00-08:00; sat,sun"


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start_min: int
    end_min: int  # <= start_min: runs over midnight into the next day

    def contains(self, moment: datetime) -> bool:
        minute = moment.hour * 60 + moment.minute
        today, yesterday = moment.weekday(), (moment.weekday() - 1) % 7
        if self.start_min < self.end_min:
            return today in self.days and self.start_min <= minute < self.end_min
        return (today in self.days and minute >= self.start_min) or (yesterday in self.days and minute < self.end_min)

    def text(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        if (self.start_min, self.end_min) == (0, 24 * 60):
            return days
        return f"{days} {_hhmm(self.start_min)}-{_hhmm(self.end_min)}"


@dataclass(frozen=True)
class Schedule:
    windows: tuple[Window, ...]

    def contains(self, moment: datetime) -> bool:
        return any(window.contains(moment) for window in self.windows)

    def contains_epoch(self, epoch: float, zone: tzinfo | None = None) -> bool:
        """`zone`: the appliance's time zone; None is the system's."""
        return self.contains(datetime.fromtimestamp(epoch, zone) if zone else datetime.fromtimestamp(epoch))

    def next_start(self, epoch: float, zone: tzinfo | None = None, horizon_s: float = 8 * 86400) -> float | None:
        """`epoch` if it is inside the schedule, else the first minute after it that is (None
        within `horizon_s`: a schedule always opens within a week). Steps by minutes in
        `zone`, so a daylight-saving change is read as the clock on the wall shows it."""
        if self.contains_epoch(epoch, zone):
            return epoch
        minute = (int(epoch) // 60 + 1) * 60
        for _ in range(int(horizon_s // 60)):
            if self.contains_epoch(minute, zone):
                return float(minute)
            minute += 60
        return None

    def text(self) -> str:
        return "; ".join(window.text() for window in self.windows)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str) -> int:
    found = _TIME.fullmatch(text)
    if not found or int(found[1]) * 60 + int(found[2]) > 24 * 60:
        raise ScheduleError(f"{text!r} is not a time of day: give HH:MM, from 00:00 to 24:00")
    return int(found[1]) * 60 + int(found[2])


def _day(name: str) -> int:
    name = name.strip()
    if name in DAYS:
        return DAYS.index(name)
    if name in _FULL:
        return _FULL.index(name)
    raise ValueError(name)


def _days(text: str) -> frozenset[int]:
    chosen: set[int] = set()
    for part in text.lower().split(","):
        ends = part.strip().split("-")
        try:
            if len(ends) > 2:
                raise ValueError(part)
            first, last = _day(ends[0]), _day(ends[-1])
        except ValueError:
            raise ScheduleError(f"{part.strip()!r} is not a day or a range of days such as mon-fri") from None
        chosen.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
    return frozenset(chosen)


def _window(text: str) -> Window:
    words = text.split()
    if len(words) > 2 or not words:
        raise ScheduleError(f"{text!r}: give days, then an optional HH:MM-HH:MM, as in {EXAMPLE!r}")
    span = words[-1] if re.match(r"\d", words[-1]) else None
    days = frozenset(range(7)) if span is not None and len(words) == 1 else _days(words[0])
    if span is None:
        return Window(days, 0, 24 * 60)
    start, sep, end = span.partition("-")
    if not sep:
        raise ScheduleError(f"{span!r}: give a span of time as HH:MM-HH:MM")
    start_min, end_min = _minutes(start), _minutes(end)
    if start_min == end_min:
        raise ScheduleError(f"{span!r} is an empty span of time")
    return Window(days, start_min, end_min)


def parse_schedule(text: str) -> Schedule:
    """A schedule from its written form; ScheduleError (a sentence for a person) if it is not one."""
    parts = [part.strip() for part in text.split(";") if part.strip()]
    if not parts:
        raise ScheduleError(f"give at least one window, as in {EXAMPLE!r}")
    if len(parts) > MAX_WINDOWS:
        raise ScheduleError(f"at most {MAX_WINDOWS} windows")
    return Schedule(tuple(_window(part) for part in parts))
