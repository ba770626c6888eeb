"""MQTT channel (paho-mqtt 2.x): events, per-ROI states, availability and Home Assistant discovery.

URL: `mqtt://[user[:password]@]host[:port][/base]` (`mqtts://` for TLS; ports 1883 / 8883;
base topic `storewatch`). Inside `storewatch run` each MQTT channel keeps one long-lived
connection (paho's network thread; it reconnects by itself with capped backoff). On every
connect it says `<base>/status` = online (retained; its last will says offline), publishes
the discovery configs of every camera and shelf area and their states (retained).

An event is published on `<base>/<device>/events` (JSON: the events API's shape and its
`delivery_id`, QoS 1, not retained) after its retained states (the ROIs' last verdict,
touched ON, the camera's last picture); it counts as delivered when the broker's PUBACK for
it has come. A broker that is down fails the attempt at once, so the outbox retries it
later; nothing here waits on the network longer than PUBLISH_TIMEOUT_S, and only on the
sender's thread. "Touched" follows the visit: ON when it starts (an outbox row the worker
queues as the analysis sees the visit begin), OFF with its event when it ends (or with a
"visit ended" row when this channel does not want that event). An area the link did not
turn ON (it joined the visit later, or the start was not sent) goes ON with the event and
OFF TOUCH_HOLD_S later, so Home Assistant still sees the touch. An ON whose end never
comes (a visit the analysis dropped) goes OFF after TOUCH_MAX_S; every area is OFF on each
connect. The day's digest (notify/digest.py) goes to `<base>/digest` (JSON, retained).

The password is in the channel's URL: shown masked (channels.mask_url), never logged (paho's
logger is left off; our words never hold the URL).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from storewatch.store import Database
from storewatch.store import notify_channels
from storewatch.notify.channels import Channel, ChannelStore
from storewatch.notify.ha_discovery import (OFF, OFFLINE, ON, ONLINE, DeviceInfo, RoiInfo, Topics,
                                            discovery_configs, verdict_state)
from storewatch.notify.message import Message
from storewatch.notify.redaction import REDACTOR
from storewatch.notify.result import SendResult

if TYPE_CHECKING:
    import paho.mqtt.client as paho

log = logging.getLogger("storewatch.notify")

SCHEMES = {"mqtt": 1883, "mqtts": 8883}
KEEPALIVE_S = 30  # a broker notices an appliance gone without a goodbye (power cut) within 1.5 times this
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
CONNECT_WAIT_S = 5.0  # a fresh connection's first send waits this long for it
PUBLISH_TIMEOUT_S = 10.0
TOUCH_HOLD_S = 5.0
TOUCH_MAX_S = 600.0  # an ON left by a visit whose end never came goes OFF after this (visits end by 300 s)
WATCH_S = 10.0  # how soon `storewatch run` connects a channel added (or lets go of one removed) while it runs
MAX_QUEUED = 200  # paho's own queue (unacknowledged messages it re-sends on reconnect), bounded
# Discovery and states sent on a connect go at QoS 0: they are not queued (hundreds of areas
# would fill MAX_QUEUED inside the connect callback, where no PUBACK can be read), and one
# lost with the connection is sent again on the next connect.
ANNOUNCE_QOS = 0


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    base: str


def parse_url(url: str) -> Broker:
    """The broker of an MQTT channel URL; ValueError in plain words (never quoting the URL)."""
    parts = urlsplit(url)
    example = "for example mqtt://user:password@192.168.1.20:1883"
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(f"an MQTT URL starts with mqtt:// or mqtts:// and names the broker, {example}")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValueError(f"the MQTT URL's port must be a number from 1 to 65535, {example}") from None
    base = parts.path.strip("/") or "storewatch"
    if any(c in base for c in "+#") or "//" in base or parts.query or parts.fragment:
        raise ValueError("the MQTT URL's path is the base topic (for example /storewatch): no +, #, ? or empty levels")
    return Broker(parts.hostname, port, parts.scheme == "mqtts", unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None, base)


def inventory(db: Database) -> list[DeviceInfo]:
    """Every camera with its shelf areas and each area's last verdict."""
    devices, roi_rows, last = notify_channels.mqtt_inventory(db)
    rois: dict[str, list[RoiInfo]] = {}
    for row in roi_rows:
        rois.setdefault(row["device_id"], []).append(RoiInfo(row["id"], row["name"], last.get(row["id"])))
    return [DeviceInfo(row["id"], row["name"], tuple(rois.get(row["id"], ()))) for row in devices]


def _event_device(payload: dict[str, Any]) -> DeviceInfo:
    return DeviceInfo(payload["device_id"], payload.get("device_name") or payload["device_id"],
                      tuple(RoiInfo(roi["roi_id"], roi.get("roi_name") or "", roi.get("verdict"))
                            for roi in payload.get("rois", []) if roi.get("roi_id") is not None))


class Link:
    """One connection to a broker. With `announce`, it owns the availability topic (last will
    offline) and publishes discovery and states on every connect; without (a one-off test
    send from the CLI) it only publishes."""

    def __init__(self, broker: Broker, client_id: str, *, announce: bool,
                 devices: Callable[[], list[DeviceInfo]] | None = None, keepalive: int = KEEPALIVE_S) -> None:
        self.broker, self.announce, self._devices = broker, announce, devices
        self.topics = Topics(broker.base)
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._announced: set[tuple[str, int | None]] = set()  # (device, ROI) configs sent on this connection
        self._pictures: dict[str, bytes] = {}  # device -> last event picture, to publish again after a reconnect
        self._timers: dict[tuple[str, int], threading.Timer] = {}
        self._on: set[tuple[str, int]] = set()  # areas this link turned ON at a visit's start, not yet OFF
        self.last_error = "not connected yet"
        self._refusal = ""  # why the broker said no (a wrong password), kept over the disconnect that follows
        import paho.mqtt.client as paho  # a third of a second to import (more on a Pi): only when a channel uses it
        from paho.mqtt.enums import CallbackAPIVersion

        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311,
                             clean_session=True)
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set()
        if announce:
            client.will_set(self.topics.status, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(MAX_QUEUED)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        client.connect_async(broker.host, broker.port, keepalive=keepalive)
        client.loop_start()  # paho's thread connects, and reconnects with backoff, by itself

    # --- paho's thread ----------------------------------------------------------------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:  # paho drops the connection and tries again later
            self._refusal = f"the broker refused the connection: {reason}"
            self.last_error = self._refusal
            return
        self.last_error = self._refusal = ""
        with self._lock:
            self._announced.clear()
            self._on.clear()  # the announce below says OFF for every area
        if self.announce:
            try:
                self._announce_all()
            except Exception:  # a busy database must not stop the connection; the next event announces again
                log.exception("MQTT: announcing the cameras to Home Assistant failed")
        self._connected.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connected.clear()
        self.last_error = self._refusal or f"the connection to the broker was lost ({reason})"

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self.last_error = "could not connect to the broker"

    def _announce_all(self) -> None:
        self._publish(self.topics.status, ONLINE, retain=True)
        for device in self._devices() if self._devices else []:
            self._announce(device, touched_off=True)
        for device_id, picture in list(self._pictures.items()):
            self._publish(self.topics.picture(device_id), picture, retain=True, qos=ANNOUNCE_QOS)

    def _announce(self, device: DeviceInfo, touched_off: bool) -> None:
        for topic, config in discovery_configs(self.topics, device):
            self._publish(topic, json.dumps(config, sort_keys=True), retain=True, qos=ANNOUNCE_QOS)
        for roi in device.rois:
            if touched_off:
                self._publish(self.topics.touched(device.device_id, roi.roi_id), OFF, retain=True, qos=ANNOUNCE_QOS)
            if roi.last_verdict is not None or touched_off:
                self._publish(self.topics.last_verdict(device.device_id, roi.roi_id),
                              verdict_state(roi.last_verdict), retain=True, qos=ANNOUNCE_QOS)
        with self._lock:
            self._announced |= {(device.device_id, None)} | {(device.device_id, roi.roi_id) for roi in device.rois}

    def _publish(self, topic: str, payload: str | bytes, retain: bool = False, qos: int = 1) -> paho.MQTTMessageInfo:
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    # --- the sender's thread ----------------------------------------------------------------

    def connected(self, wait_s: float = 0.0) -> bool:
        return self._connected.wait(wait_s) if wait_s > 0 else self._connected.is_set()

    def deliver(self, message: Message, timeout: float = PUBLISH_TIMEOUT_S, wait_s: float = 0.0) -> SendResult:
        if not self.connected(wait_s):  # not published at all: paho would queue it and the outbox re-send it too
            return SendResult(False, f"not connected to the MQTT broker: {self.last_error or 'connecting'}")
        payload = message.payload
        kind = payload.get("type")
        if kind == "test":
            info = self._publish(self.topics.test, json.dumps(payload, sort_keys=True))
        elif kind == "digest":
            info = self._publish(f"{self.broker.base}/digest", json.dumps(payload, sort_keys=True), retain=True)
        elif kind in ("visit_started", "visit_ended"):
            info = self._publish_visit(payload["device_id"], payload["roi_ids"], kind == "visit_started")
        else:
            info = self._publish_event(message)
        return self._acknowledged(info, timeout)

    def _publish_event(self, message: Message) -> paho.MQTTMessageInfo:
        payload = message.payload
        device = _event_device(payload)
        with self._lock:
            known = {(device.device_id, None)} | {(device.device_id, roi.roi_id) for roi in device.rois}
            fresh = not known <= self._announced
        if self.announce and fresh:  # a camera or area added since the connect: its entities first
            self._announce(device, touched_off=False)
        for roi in device.rois:
            self._publish(self.topics.last_verdict(device.device_id, roi.roi_id), verdict_state(roi.last_verdict),
                          retain=True)
            key = (device.device_id, roi.roi_id)
            with self._lock:
                was_on = key in self._on
            if was_on:  # ON since the visit started: it has ended
                self._cancel(key)
                self._publish(self.topics.touched(*key), OFF, retain=True)
            else:  # its start was not seen here: ON now, OFF shortly, so the touch still shows
                self._publish(self.topics.touched(*key), ON, retain=True)
                self._release_later(device.device_id, roi.roi_id)
        if message.picture:
            self._pictures[device.device_id] = message.picture
            self._publish(self.topics.picture(device.device_id), message.picture, retain=True)
        body = json.dumps({**payload, "delivery_id": message.delivery_id}, sort_keys=True)
        return self._publish(self.topics.events(device.device_id), body)  # after its states: ordered on one link

    def _publish_visit(self, device_id: str, roi_ids: list[int], started: bool) -> paho.MQTTMessageInfo:
        """A visit's areas ON at its start (OFF by itself after TOUCH_MAX_S if no end comes), or OFF at its end."""
        info = None
        for roi_id in roi_ids:
            key = (device_id, int(roi_id))
            if started:
                info = self._publish(self.topics.touched(*key), ON, retain=True)
                with self._lock:
                    self._on.add(key)
                self._release_later(*key, after_s=TOUCH_MAX_S)
            else:
                self._cancel(key)
                info = self._publish(self.topics.touched(*key), OFF, retain=True)
        if info is None:
            raise ValueError("a visit without areas")
        return info  # ordered on one link: its PUBACK comes after the ones before it

    def _cancel(self, key: tuple[str, int]) -> None:
        with self._lock:
            self._on.discard(key)
            timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _release_later(self, device_id: str, roi_id: int, after_s: float | None = None) -> None:
        key = (device_id, roi_id)
        with self._lock:
            if key in self._timers:
                self._timers[key].cancel()
            timer = threading.Timer(TOUCH_HOLD_S if after_s is None else after_s, self._release, key)
            timer.daemon = True
            self._timers[key] = timer
        timer.start()

    def _release(self, device_id: str, roi_id: int) -> None:
        with self._lock:
            self._timers.pop((device_id, roi_id), None)
            self._on.discard((device_id, roi_id))
        if self.connected():  # not connected: the next connect sets every area OFF
            self._publish(self.topics.touched(device_id, roi_id), OFF, retain=True)

    def _acknowledged(self, info: paho.MQTTMessageInfo, timeout: float) -> SendResult:
        try:
            info.wait_for_publish(timeout)
        except ValueError:
            return SendResult(False, "too many messages wait for the MQTT broker")
        except RuntimeError:
            return SendResult(False, "the connection to the MQTT broker was lost while sending")
        if not info.is_published():
            return SendResult(False, f"the MQTT broker did not confirm the message within {timeout:g} s")
        return SendResult(True, "the MQTT broker took the message")

    def close(self, timeout: float = 2.0) -> None:
        """Goodbye: areas OFF, status offline (retained: the will only fires when the link dies)."""
        with self._lock:
            pending = list(set(self._timers) | self._on)
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._on.clear()
        if self.connected():
            infos = [self._publish(self.topics.touched(d, r), OFF, retain=True) for d, r in pending]
            if self.announce:
                infos.append(self._publish(self.topics.status, OFFLINE, retain=True))
            for info in infos:
                try:
                    info.wait_for_publish(timeout)
                except (ValueError, RuntimeError):
                    break
        self._client.disconnect()
        self._client.loop_stop()


class LinkPool:
    """The long-lived links of `storewatch run`, one per enabled MQTT channel (keyed by id and
    URL). A watcher follows the channels table: a channel added while running is announced
    within WATCH_S, one removed says offline and lets go of its connection."""

    def __init__(self) -> None:
        self.db: Database | None = None
        self._links: dict[tuple[int, str], Link] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def serving(self) -> bool:
        return self.db is not None

    def serve(self, db: Database, channels: list[Channel]) -> None:
        """Connect every MQTT channel now, so Home Assistant sees the appliance before any event."""
        self.db = db
        self._sync(channels)
        self._stopping.clear()
        self._watcher = threading.Thread(target=self._watch, args=(db,), name="mqtt-channels", daemon=True)
        self._watcher.start()

    def _watch(self, db: Database) -> None:
        while not self._stopping.wait(WATCH_S):
            try:
                self._sync(ChannelStore(db).list())
            except Exception:  # loop boundary: a busy database must not end the watcher
                log.exception("MQTT: following the channels table failed")

    def _sync(self, channels: list[Channel]) -> None:
        wanted = {(c.id, c.url): c for c in channels if c.kind == "mqtt" and c.enabled}
        with self._lock:
            gone = [self._links.pop(key) for key in list(self._links) if key not in wanted]
        for link in gone:
            link.close()
        for channel in wanted.values():
            try:
                self.link_for(channel)
            except ValueError as exc:
                log.warning("MQTT channel %s cannot connect: %s", channel.name, exc)

    def link_for(self, channel: Channel) -> Link:
        key = (channel.id, channel.url)
        with self._lock:
            link = self._links.get(key)
            if link is None:
                REDACTOR.remember(channel.url, channel.secret)
                db = self.db
                link = Link(parse_url(channel.url), f"storewatch-{channel.id}-{socket.gethostname()}"[:64],
                            announce=True, devices=(lambda: inventory(db)) if db is not None else None)
                self._links[key] = link
            return link

    def close_all(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(WATCH_S + 5)
            self._watcher = None
        with self._lock:
            links, self._links, self.db = list(self._links.values()), {}, None
        for link in links:
            link.close()


LINKS = LinkPool()


def send(channel: Channel, message: Message, timeout: float = PUBLISH_TIMEOUT_S) -> SendResult:
    try:
        broker = parse_url(channel.url)
    except ValueError as exc:
        return SendResult(False, str(exc))
    if LINKS.serving:
        link = LINKS.link_for(channel)
        return link.deliver(message, timeout, wait_s=CONNECT_WAIT_S if link.last_error == "not connected yet" else 0)
    # outside `storewatch run` (notify test): a one-off link that leaves the availability topic alone
    link = Link(broker, f"storewatch-test-{uuid.uuid4().hex[:12]}", announce=False)
    try:
        return link.deliver(message, timeout, wait_s=CONNECT_WAIT_S)
    finally:
        link.close()
