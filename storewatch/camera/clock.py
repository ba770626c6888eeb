"""The device against the appliance's word: its clock, and the last seq the appliance holds.

The config answer carries `server_time` and `last_seq`, the heartbeat answer `server_time`.
This camera sets nothing from `server_time` (on a Pi the system keeps time, and changing
it is not a camera's business) but says so in the log when its clock is more than a
minute off, since every capture_ts it sends is then as wrong. The offset is measured
against the middle of the round trip, the best guess of when the appliance read its clock.
`last_seq` goes to the seq allocator, so a camera that lost its seq record never sends a
seq the appliance already has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from storewatch.camera.transport import Answer, DeviceHttp
from storewatch.contract import parse_timestamp

log = logging.getLogger("storewatch.camera")

MAX_OFFSET_S = 60.0


def clock_offset_s(server_time: str, sent: float, received: float) -> float:
    """How far this clock is ahead of the appliance's (negative: behind), in seconds."""
    return (sent + received) / 2 - parse_timestamp(server_time).timestamp()


class ClockWatch:
    """Warns once when the clock drifts more than `max_offset_s` off, and once when it is back."""

    def __init__(self, max_offset_s: float = MAX_OFFSET_S, wall: Callable[[], float] = time.time) -> None:
        self.max_offset_s = max_offset_s
        self.wall = wall
        self.offset_s: float | None = None  # the last measured offset
        self._off = False

    def observe(self, body: dict[str, Any], sent: float, received: float) -> None:
        server_time = body.get("server_time")
        if not isinstance(server_time, str):
            return  # an older appliance
        try:
            offset = clock_offset_s(server_time, sent, received)
        except ValueError:
            return
        self.offset_s = offset
        off = abs(offset) > self.max_offset_s
        if off and not self._off:
            log.warning("this camera's clock is %.0f s %s the appliance's: its capture times are wrong; "
                        "check its time sync (NTP)", abs(offset), "ahead of" if offset > 0 else "behind")
        elif self._off and not off:
            log.info("this camera's clock agrees with the appliance's again (%+.1f s)", offset)
        self._off = off


class WatchedHttp(DeviceHttp):
    """The control thread's calls; each answer's server_time and last_seq are looked at."""

    def __init__(self, *args: Any, clock: ClockWatch, on_last_seq: Callable[[int], Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.on_last_seq = on_last_seq

    def get_config(self, etag: str | None = None) -> Answer:
        sent = self.clock.wall()
        answer = super().get_config(etag)
        if answer.ok and answer.body is not None:
            self.clock.observe(answer.body, sent, self.clock.wall())
            last_seq = answer.body.get("last_seq")
            if isinstance(last_seq, int) and not isinstance(last_seq, bool):
                self.on_last_seq(last_seq)
        return answer

    def post_heartbeat(self, payload: dict[str, Any]) -> Answer:
        sent = self.clock.wall()
        answer = super().post_heartbeat(payload)
        if answer.ok and answer.body is not None:
            self.clock.observe(answer.body, sent, self.clock.wall())
        return answer
