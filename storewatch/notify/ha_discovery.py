"""Topics of the MQTT channel and Home Assistant's MQTT discovery configs for them.

Home Assistant reads `<prefix>/<component>/<node_id>/<object_id>/config` (retained JSON) and
makes the entity without any configuration: per camera (a storewatch device) a `camera`
showing the last event's picture, and per shelf area (ROI) a `binary_sensor` "touched" and
a `sensor` "last verdict". Every entity is unavailable when the appliance's status topic
says "offline" (its last will), so Home Assistant sees the appliance go away.
Pure functions: no network, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DISCOVERY_PREFIX = "homeassistant"
ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
UNDECIDED = "undecided"  # the last verdict's state when the visit ended without a decision
MANUFACTURER = "storewatch"
MODEL = "shelf camera"


@dataclass(frozen=True)
class RoiInfo:
    roi_id: int
    name: str
    last_verdict: str | None = None  # None: no event yet


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    name: str
    rois: tuple[RoiInfo, ...] = field(default_factory=tuple)


def ha_id(text: str) -> str:
    """node_id and object_id allow only [a-zA-Z0-9_-]; device ids may hold dots."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


@dataclass(frozen=True)
class Topics:
    """Every topic under one base (default `storewatch`)."""

    base: str = "storewatch"
    prefix: str = DISCOVERY_PREFIX

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def test(self) -> str:
        return f"{self.base}/test"

    def events(self, device_id: str) -> str:
        return f"{self.base}/{device_id}/events"

    def picture(self, device_id: str) -> str:
        return f"{self.base}/{device_id}/last_event/picture"

    def last_verdict(self, device_id: str, roi_id: int) -> str:
        return f"{self.base}/{device_id}/roi/{roi_id}/last_verdict"

    def touched(self, device_id: str, roi_id: int) -> str:
        return f"{self.base}/{device_id}/roi/{roi_id}/touched"

    def config(self, component: str, device_id: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{ha_id(self.base)}_{ha_id(device_id)}/{ha_id(object_id)}/config"


def verdict_state(verdict: str | None) -> str:
    return verdict or UNDECIDED


def _device_block(device: DeviceInfo) -> dict[str, Any]:
    return {"identifiers": [f"storewatch_{ha_id(device.device_id)}"], "name": device.name or device.device_id,
            "manufacturer": MANUFACTURER, "model": MODEL}


def _common(topics: Topics, device: DeviceInfo, unique: str, name: str) -> dict[str, Any]:
    return {"name": name, "unique_id": f"{ha_id(topics.base)}_{ha_id(device.device_id)}_{unique}",
            "device": _device_block(device), "availability_topic": topics.status,
            "payload_available": ONLINE, "payload_not_available": OFFLINE,
            "origin": {"name": "storewatch"}}


def discovery_configs(topics: Topics, device: DeviceInfo) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) for one device's camera and each of its ROIs' two entities."""
    configs = [(topics.config("camera", device.device_id, "last_event"),
                {**_common(topics, device, "last_event", "Last event"), "topic": topics.picture(device.device_id)})]
    for roi in device.rois:
        area = roi.name or f"Area {roi.roi_id}"
        configs.append((topics.config("binary_sensor", device.device_id, f"roi_{roi.roi_id}_touched"),
                        {**_common(topics, device, f"roi_{roi.roi_id}_touched", f"{area} touched"),
                         "state_topic": topics.touched(device.device_id, roi.roi_id),
                         "payload_on": ON, "payload_off": OFF, "device_class": "occupancy"}))
        configs.append((topics.config("sensor", device.device_id, f"roi_{roi.roi_id}_last_verdict"),
                        {**_common(topics, device, f"roi_{roi.roi_id}_last_verdict", f"{area} last verdict"),
                         "state_topic": topics.last_verdict(device.device_id, roi.roi_id),
                         "icon": "mdi:package-variant"}))
    return configs
