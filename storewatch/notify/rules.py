"""Which events a channel wants: pure functions over the channel and the event's touched ROIs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo

from storewatch.notify.channels import Channel


@dataclass(frozen=True)
class Touch:
    """One touched ROI of an event and its verdict (None: no decision)."""

    roi_id: int | None
    verdict: str | None


def picked_rois(channel: Channel, device_id: str, touches: Iterable[Touch], start_epoch: float,
                zone: tzinfo | None = None) -> list[Touch]:
    """The event's touched ROIs that this channel is about: its device, ROIs and verdicts, in
    its schedule (at the visit's start, in the appliance's time zone `zone`; None: the system's)."""
    if not channel.enabled or (channel.devices is not None and device_id not in channel.devices):
        return []
    if channel.schedule is not None and not channel.schedule.contains_epoch(start_epoch, zone):
        return []
    return [touch for touch in touches if touch.verdict in channel.verdicts
            and (channel.rois is None or touch.roi_id in channel.rois)]


def out_of_cooldown(channel: Channel, picked: Iterable[Touch], last_epochs: Mapping[int, float],
                    start_epoch: float) -> bool:
    """True when at least one picked ROI was not notified in the channel's cooldown before
    this visit began (a cooldown counts per ROI: a take on shelf 2 is news after one on shelf 1)."""
    for touch in picked:
        last = last_epochs.get(touch.roi_id) if touch.roi_id is not None else None
        if channel.cooldown_s <= 0 or last is None or start_epoch - last >= channel.cooldown_s:
            return True
    return False
