"""A channel's schedule: weekly windows in the appliance's time zone, over midnight, and words
for a person when the text is not a schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from storewatch.notify.schedule import ScheduleError, parse_schedule

OUTSIDE_HOURS = "mon-fri 18:00-08:00; sat,sun"


@pytest.mark.parametrize("moment, inside", [
    ("2026-12-02 12:00", False),  # Wednesday, open
    ("2026-12-02 18:00", True),   # Wednesday, closed from 18:00
    ("2026-12-03 07:59", True),   # Thursday morning: Wednesday's window over midnight
    ("2026-12-03 08:00", False),
    ("2026-12-05 07:00", True),   # Saturday morning: Friday's window, and Saturday is whole
    ("2026-12-06 23:59", True),   # Sunday
    ("2026-12-07 07:00", False),  # Monday morning: Sunday's window ended at midnight
])
def test_outside_opening_hours(moment: str, inside: bool) -> None:
    assert parse_schedule(OUTSIDE_HOURS).contains(datetime.fromisoformat(moment)) is inside


def test_written_forms_and_their_canonical_text() -> None:
    assert parse_schedule(OUTSIDE_HOURS).text() == "mon,tue,wed,thu,fri 18:00-08:00; sat,sun"
    assert parse_schedule("09:00-17:30").text() == "mon,tue,wed,thu,fri,sat,sun 09:00-17:30"
    assert parse_schedule("Friday-Monday").text() == "mon,fri,sat,sun"  # a range through the weekend
    assert parse_schedule("sun 00:00-24:00").contains(datetime(2026, 12, 6, 23, 59))


def test_the_time_zone_decides_the_day() -> None:
    schedule = parse_schedule("sat")
    friday_late_utc = datetime(2026, 12, 4, 23, 30, tzinfo=timezone.utc).timestamp()
    assert not schedule.contains_epoch(friday_late_utc, timezone.utc)
    assert schedule.contains_epoch(friday_late_utc, timezone(timedelta(hours=1)))  # already Saturday there


@pytest.mark.parametrize("text, says", [
    ("", "at least one window"),
    ("funday", "'funday' is not a day"),
    ("mon 25:00-26:00", "'25:00' is not a time of day"),
    ("mon 10:00", "HH:MM-HH:MM"),
    ("mon 10:00-10:00", "empty span"),
    ("mon tue wed", "give days, then an optional HH:MM-HH:MM"),
    ("; ".join(["mon"] * 15), "at most 14"),
])
def test_bad_schedules_are_refused_in_words(text: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_schedule(text)
