"""Every error path of the device and admin API, through a real app on a real database.

Each case is a real request that provokes one error of one route; every answer must have
the one error shape and the status and code of the table in server/errors.py. The route
list is read from the app, so a new route without its cases fails here.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import httpx
from starlette.routing import Route

from storewatch import contract
from storewatch import errors as domain
from storewatch.appliance import Appliance
from storewatch.server import errors as server_errors
from support import ADMIN_PASSWORD
from support.frames import capture_ts, make_jpeg
from support.servers import app_client

ADMIN = "/api/v1/admin"
SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]
JPEG_A, JPEG_B = make_jpeg(64, 48, seed=1), make_jpeg(64, 48, seed=2)
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


@dataclass
class World:
    """One appliance with what the cases refer to: devices, ROIs, a frame, a job, a token."""

    appliance: Appliance
    app: Any  # the Starlette app the client asks (its state is flipped by some cases)
    client: httpx.Client
    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)
    roi_id: int = 0
    job_id: int = 0

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def device(self, device_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[device_id]}"}


def frame(device_id: str, seq: int, jpeg: bytes = JPEG_A, **meta: Any) -> dict[str, Any]:
    fields = {"device_id": device_id, "capture_ts": capture_ts(), "seq": seq, "width": 64, "height": 48,
              "jpeg_quality": 85, **meta}
    return {"files": {"meta": (None, json.dumps(fields), "application/json"),
                      "image": ("f.jpg", jpeg, "image/jpeg")}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("api-errors") / "data"
    appliance = Appliance(data_dir)
    appliance.settings.CACHE_SECONDS = 0.0  # each request reads the settings table: damage shows at once
    try:
        with app_client(appliance) as served, served.client() as client:
            made = World(appliance, served.app, client, appliance.admins.create_token("api errors test"))
            for name in ("cam", "other", "off", "quiet"):
                device_id, made.tokens[name] = appliance.devices.add(name, name)
            appliance.devices.set_enabled("off", False)
            appliance.settings.update({"max_body_bytes": 10 * 1024 * 1024})  # stored rows to damage
            appliance.rois.update_defaults({"quiet_seconds": 3})
            made.roi_id = appliance.rois.add("cam", "left", SQUARE)["id"]
            appliance.rois.add("cam", "right", [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9]],
                                          thresholds={"end_threshold": 0.05})
            stored = client.post(contract.INGEST_FRAME_PATH, headers=made.device("cam"), **frame("cam", 1))
            assert stored.status_code == 201, stored.text
            made.job_id = appliance.db.scalar("SELECT id FROM jobs WHERE capture_id = ?",
                                              (stored.json()["capture_id"],))
            from storewatch.store.events import TouchedRoi, Visit
            event_id = appliance.events.record_visit(Visit("cam", 1_790_000_000.0, 1_790_000_003.0, 1, (
                TouchedRoi(made.roi_id, 1_790_000_000.0, 1_790_000_003.0, 0.3, "changed", 0.2, [0.2, 0.2, 0.3, 0.3],
                           "taken"),)), [])
            assert event_id == EVENT_ID
            with appliance.db.write() as conn:  # the worker has analysed "other" up to seq 100
                conn.execute("INSERT INTO analysis_state (device_id, last_applied_seq, updated_at)"
                             " VALUES ('other', 100, ?)", (capture_ts(),))
            yield made
    finally:
        appliance.close()


# --- damage and state, each undone after its case --------------------------------------------


@contextlib.contextmanager
def damaged(world: World, table: str, column: str, key: str, value: Any) -> Iterator[None]:
    """The column of the row whose first key column equals `value`, made unreadable JSON."""
    db = world.appliance.db
    old = db.scalar(f"SELECT {column} FROM {table} WHERE {key} = ?", (value,))
    assert old is not None, (table, column, value)
    with db.write() as conn:
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", ('{"cut off', value))
    try:
        yield
    finally:
        with db.write() as conn:
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (old, value))


def damaged_roi(column: str) -> Callable[[World], Any]:
    return lambda w: damaged(w, "rois", column, "id", w.roi_id)


@contextlib.contextmanager
def stopping(world: World) -> Iterator[None]:
    world.app.state.stopping = True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        world.app.state.stopping = False  # type: ignore[attr-defined]


# --- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # the route's path as the app declares it
    path: str  # the path sent; {roi}, {job} are filled from the world
    status: int
    code: str
    auth: str = "admin"  # admin, none, or a device id whose token is sent
    request: Callable[[World], dict[str, Any]] = lambda w: {}
    state: Callable[[World], Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {self.code}"


DEVICE, DEVICE_ROUTE = f"{ADMIN}/devices/cam", f"{ADMIN}/devices/{{device_id}}"
ROIS, ROIS_ROUTE = f"{DEVICE}/rois", f"{DEVICE_ROUTE}/rois"
ROI, ROI_ROUTE = f"{ROIS}/{{roi}}", f"{ROIS_ROUTE}/{{roi_id:int}}"
EVENT_ROUTE = f"{ADMIN}/events/{{event_id:int}}"
EVENT_ID = 1  # the world's one visit, the first event of its database
FRAME, BEAT, CONFIG = contract.INGEST_FRAME_PATH, contract.HEARTBEAT_PATH, contract.DEVICE_CONFIG_PATH
NOTIFY = f"{ADMIN}/notify/channels"
CHANNEL_ROUTE = f"{NOTIFY}/{{channel_id}}"


@contextlib.contextmanager
def a_channel(world: World) -> Iterator[None]:
    """A webhook channel called "taken" for the duration of a case."""
    from storewatch.notify.channels import ChannelStore

    store = ChannelStore(world.appliance.db)
    store.add("taken", "webhook", "http://127.0.0.1:9/hook")
    try:
        yield
    finally:
        store.remove("taken")


LINKS = "/api/v1/notify/images"
LINK_ROUTE = f"{LINKS}/{{event_id:int}}/{{kind}}"


def signed(world: World, kind: str, **when: float) -> dict[str, str]:
    """The query of a picture link the world's appliance signed for its event."""
    from urllib.parse import parse_qsl, urlsplit

    from storewatch.notify.image_links import ImageLinks

    return dict(parse_qsl(urlsplit(ImageLinks(world.appliance.key).url("", EVENT_ID, kind, **when)).query))


REPLAYS, SUGGESTIONS = f"{ADMIN}/replays", f"{ADMIN}/suggestions"


def replay_span(**changes: Any) -> dict[str, Any]:
    return {"device_id": "cam", "since": 1_790_000_000, "until": 1_790_003_600, **changes}


@contextlib.contextmanager
def a_running_replay(world: World) -> Iterator[None]:
    """A replay of "cam" in hand, as the runner holds it while one runs (a real one needs kept
    frames; tests/test_admin_replay.py runs those), for the duration of a case."""
    from storewatch.server.replay_runner import ReplayRequest, ReplayRun

    runner = world.app.state.replays  # type: ignore[attr-defined]
    was = runner._last
    runner._last = ReplayRun(ReplayRequest("replay", "cam", 1_790_000_000.0, 1_790_003_600.0, {}, None))
    try:
        yield
    finally:
        runner._last = was


def beat(device_id: str = "cam", **fields: Any) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"json": {"device_id": device_id, "ts": capture_ts(), **fields}}


def body(value: Any) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"json": value}


def raw(data: bytes, content_type: str = "application/json") -> Callable[[World], dict[str, Any]]:
    return lambda w: {"content": data, "headers": {"Content-Type": content_type}}


CASES = [
    # the device contract: its codes are fixed by CONTRACT.md
    Case("POST", FRAME, FRAME, 401, "unauthorized", auth="none", request=lambda w: frame("cam", 2)),
    Case("POST", FRAME, FRAME, 403, "wrong_device", auth="other", request=lambda w: frame("cam", 2)),
    Case("POST", FRAME, FRAME, 403, "device_disabled", auth="off", request=lambda w: frame("off", 1)),
    Case("POST", FRAME, FRAME, 400, "not_multipart", auth="cam", request=raw(b"{}")),
    Case("POST", FRAME, FRAME, 400, "meta_missing", auth="cam",
         request=lambda w: {"files": {"image": ("f.jpg", JPEG_A, "image/jpeg")}}),
    Case("POST", FRAME, FRAME, 400, "image_missing", auth="cam",
         request=lambda w: {"files": {"meta": (None, "{}", "application/json")}}),
    Case("POST", FRAME, FRAME, 400, "bad_json", auth="cam",
         request=lambda w: {"files": {"meta": (None, "{nope", "application/json"),
                                      "image": ("f.jpg", JPEG_A, "image/jpeg")}}),
    Case("POST", FRAME, FRAME, 422, "validation_failed", auth="cam", request=lambda w: frame("cam", -1)),
    Case("POST", FRAME, FRAME, 422, "validation_failed", auth="cam", request=lambda w: frame("cam", 2, width=65)),
    Case("POST", FRAME, FRAME, 422, "validation_failed", auth="cam",
         request=lambda w: frame("cam", 2, capture_ts="2000-01-01T00:00:00Z")),
    Case("POST", FRAME, FRAME, 415, "not_a_jpeg", auth="cam", request=lambda w: frame("cam", 2, b"not a jpeg")),
    Case("POST", FRAME, FRAME, 409, "seq_conflict", auth="cam", request=lambda w: frame("cam", 1, JPEG_B)),
    Case("POST", FRAME, FRAME, 409, "seq_too_old", auth="other", request=lambda w: frame("other", 50)),
    Case("POST", FRAME, FRAME, 413, "payload_too_large", auth="cam",
         request=raw(b"x" * (11 * 1024 * 1024), "multipart/form-data; boundary=x")),
    Case("POST", FRAME, FRAME, 503, "shutting_down", auth="cam", request=lambda w: frame("cam", 2), state=stopping),
    Case("POST", FRAME, FRAME, 500, "stored_data_damaged", auth="cam", request=lambda w: frame("cam", 2),
         state=lambda w: damaged(w, "settings", "value", "key", "max_body_bytes")),
    Case("POST", BEAT, BEAT, 401, "unauthorized", auth="none", request=beat()),
    Case("POST", BEAT, BEAT, 403, "wrong_device", auth="other", request=beat()),
    Case("POST", BEAT, BEAT, 400, "bad_json", auth="cam", request=raw(b"[1, 2")),
    Case("POST", BEAT, BEAT, 422, "validation_failed", auth="cam", request=beat(uptime_s="long")),
    Case("POST", BEAT, BEAT, 503, "shutting_down", auth="cam", request=beat(), state=stopping),
    Case("GET", CONFIG, CONFIG, 401, "unauthorized", auth="none", request=lambda w: {"params": {"device_id": "cam"}}),
    Case("GET", CONFIG, CONFIG, 403, "wrong_device", auth="other", request=lambda w: {"params": {"device_id": "cam"}}),
    Case("GET", CONFIG, CONFIG, 422, "validation_failed", auth="cam"),
    Case("GET", CONFIG, CONFIG, 503, "shutting_down", auth="cam", state=stopping,
         request=lambda w: {"params": {"device_id": "cam"}}),
    Case("GET", CONFIG, CONFIG, 500, "stored_data_damaged", auth="cam",
         request=lambda w: {"params": {"device_id": "cam"}},
         state=lambda w: damaged(w, "device_settings", "values_json", "device_id", "cam")),
    Case("GET", CONFIG, CONFIG, 500, "stored_data_damaged", auth="cam",
         request=lambda w: {"params": {"device_id": "cam"}}, state=damaged_roi("polygon")),
    # admin: sign-in
    Case("POST", f"{ADMIN}/login", f"{ADMIN}/login", 422, "validation_failed", auth="none", request=body({})),
    Case("POST", f"{ADMIN}/login", f"{ADMIN}/login", 400, "bad_json", auth="none", request=raw(b"{")),
    Case("POST", f"{ADMIN}/login", f"{ADMIN}/login", 401, "bad_password", auth="none",
         request=body({"password": "not the password"})),
    # without credentials it answers "not logged in" (200); a wrong token is still refused
    Case("GET", f"{ADMIN}/session", f"{ADMIN}/session", 401, "unauthorized", auth="none",
         request=lambda w: {"headers": {"Authorization": "Bearer not-a-token"}}),
    Case("POST", f"{ADMIN}/password", f"{ADMIN}/password", 422, "validation_failed", request=body({"new": "x"})),
    Case("POST", f"{ADMIN}/password", f"{ADMIN}/password", 422, "validation_failed",
         request=body({"current": ADMIN_PASSWORD, "new": "short"})),
    Case("POST", f"{ADMIN}/password", f"{ADMIN}/password", 403, "bad_password",
         request=body({"current": "not the password", "new": "a long enough new one"})),
    # admin: devices
    Case("GET", f"{ADMIN}/devices", f"{ADMIN}/devices", 401, "unauthorized", auth="none"),
    Case("GET", f"{ADMIN}/devices", f"{ADMIN}/devices", 500, "stored_data_damaged",
         state=lambda w: damaged(w, "devices", "health", "id", "quiet")),
    Case("POST", f"{ADMIN}/devices", f"{ADMIN}/devices", 400, "bad_json", request=raw(b"[")),
    Case("POST", f"{ADMIN}/devices", f"{ADMIN}/devices", 422, "validation_failed", request=body({})),
    Case("POST", f"{ADMIN}/devices", f"{ADMIN}/devices", 422, "validation_failed", request=body({"name": "  "})),
    Case("POST", f"{ADMIN}/devices", f"{ADMIN}/devices", 422, "validation_failed",
         request=body({"name": "x", "auth_scheme": "basic"})),
    Case("GET", DEVICE_ROUTE, f"{ADMIN}/devices/nope", 404, "device_not_found"),
    Case("GET", DEVICE_ROUTE, DEVICE, 500, "stored_data_damaged",
         state=lambda w: damaged(w, "devices", "health", "id", "cam")),
    Case("GET", DEVICE_ROUTE, DEVICE, 500, "stored_data_damaged",
         state=lambda w: damaged(w, "device_settings", "values_json", "device_id", "cam")),
    Case("PATCH", DEVICE_ROUTE, f"{ADMIN}/devices/nope", 404, "device_not_found", request=body({"enabled": True})),
    Case("PATCH", DEVICE_ROUTE, DEVICE, 422, "validation_failed", request=body({"enabled": "yes"})),
    Case("PATCH", DEVICE_ROUTE, DEVICE, 422, "validation_failed", request=body({"auth_scheme": "basic"})),
    Case("PATCH", DEVICE_ROUTE, DEVICE, 422, "validation_failed", request=body({"settings": [1]})),
    Case("PATCH", DEVICE_ROUTE, DEVICE, 422, "validation_failed", request=body({"settings": {"nope": 1}})),
    Case("PATCH", DEVICE_ROUTE, DEVICE, 422, "validation_failed", request=body({"settings": {"jpeg_quality": 0}})),
    Case("PATCH", DEVICE_ROUTE, DEVICE, 500, "stored_data_damaged", request=body({"settings": {"jpeg_quality": 70}}),
         state=lambda w: damaged(w, "device_settings", "values_json", "device_id", "cam")),
    Case("POST", f"{DEVICE_ROUTE}/rotate-token", f"{ADMIN}/devices/nope/rotate-token", 404, "device_not_found"),
    Case("POST", f"{DEVICE_ROUTE}/burst", f"{ADMIN}/devices/nope/burst", 404, "device_not_found"),
    Case("POST", f"{DEVICE_ROUTE}/burst", f"{DEVICE}/burst", 500, "stored_data_damaged",
         state=lambda w: damaged(w, "device_settings", "values_json", "device_id", "cam")),
    # admin: settings
    Case("GET", f"{ADMIN}/settings", f"{ADMIN}/settings", 500, "stored_data_damaged",
         state=lambda w: damaged(w, "settings", "value", "key", "max_body_bytes")),
    Case("PATCH", f"{ADMIN}/settings", f"{ADMIN}/settings", 422, "validation_failed", request=body({"nope": 1})),
    Case("PATCH", f"{ADMIN}/settings", f"{ADMIN}/settings", 422, "validation_failed",
         request=body({"job_max_attempts": 0})),
    # admin: ROIs and thresholds
    Case("GET", ROIS_ROUTE, f"{ADMIN}/devices/nope/rois", 404, "device_not_found"),
    Case("GET", ROIS_ROUTE, ROIS, 500, "stored_data_damaged", state=damaged_roi("polygon")),
    Case("POST", ROIS_ROUTE, f"{ADMIN}/devices/nope/rois", 404, "device_not_found",
         request=body({"name": "x", "polygon": SQUARE})),
    Case("POST", ROIS_ROUTE, ROIS, 422, "validation_failed", request=body({"name": "x", "polygon": [[0, 0]]})),
    Case("POST", ROIS_ROUTE, ROIS, 422, "validation_failed",
         request=body({"name": "x", "polygon": SQUARE, "enabled": "yes"})),
    Case("POST", ROIS_ROUTE, ROIS, 409, "roi_name_taken", request=body({"name": "left", "polygon": SQUARE})),
    Case("GET", ROI_ROUTE, f"{ROIS}/999999", 404, "roi_not_found"),
    Case("GET", ROI_ROUTE, f"{ADMIN}/devices/nope/rois/1", 404, "device_not_found"),
    Case("GET", ROI_ROUTE, ROI, 500, "stored_data_damaged", state=damaged_roi("thresholds")),
    Case("PATCH", ROI_ROUTE, f"{ROIS}/999999", 404, "roi_not_found", request=body({"enabled": False})),
    Case("PATCH", ROI_ROUTE, ROI, 422, "validation_failed", request=body({"colour": "red"})),
    Case("PATCH", ROI_ROUTE, ROI, 422, "validation_failed", request=body({"thresholds": {"start_threshold": 7}})),
    Case("PATCH", ROI_ROUTE, ROI, 409, "roi_name_taken", request=body({"name": "right"})),
    Case("DELETE", ROI_ROUTE, f"{ROIS}/999999", 404, "roi_not_found"),
    Case("GET", f"{DEVICE_ROUTE}/scores", f"{ADMIN}/devices/nope/scores", 404, "device_not_found"),
    Case("GET", f"{DEVICE_ROUTE}/scores", f"{DEVICE}/scores", 422, "validation_failed",
         request=lambda w: {"params": {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}}),
    Case("GET", f"{DEVICE_ROUTE}/scores", f"{DEVICE}/scores", 422, "validation_failed",
         request=lambda w: {"params": {"since": "soon"}}),
    Case("GET", f"{DEVICE_ROUTE}/latest-frame", f"{ADMIN}/devices/nope/latest-frame", 404, "device_not_found"),
    Case("GET", f"{DEVICE_ROUTE}/latest-frame", f"{ADMIN}/devices/quiet/latest-frame", 404, "no_frame"),
    Case("GET", f"{DEVICE_ROUTE}/latest-frame", f"{ADMIN}/devices/cam/latest-frame", 422, "validation_failed",
         request=lambda w: {"params": {"width": "5000"}}),
    Case("GET", f"{ADMIN}/thresholds", f"{ADMIN}/thresholds", 500, "stored_data_damaged",
         state=lambda w: damaged(w, "settings", "value", "key", "analysis_thresholds")),
    Case("PATCH", f"{ADMIN}/thresholds", f"{ADMIN}/thresholds", 422, "validation_failed",
         request=body({"start_threshold": 5})),
    Case("PATCH", f"{ADMIN}/thresholds", f"{ADMIN}/thresholds", 422, "validation_failed",
         request=body({"defaults": [1]})),
    Case("PATCH", f"{ADMIN}/thresholds", f"{ADMIN}/thresholds", 422, "validation_failed",  # ROI "right" would break
         request=body({"start_threshold": 0.04})),
    # admin: events
    Case("GET", f"{ADMIN}/events", f"{ADMIN}/events", 422, "validation_failed",
         request=lambda w: {"params": {"verdict": "stolen"}}),
    Case("GET", f"{ADMIN}/events", f"{ADMIN}/events", 422, "validation_failed",
         request=lambda w: {"params": {"limit": "-1"}}),
    Case("GET", f"{ADMIN}/events", f"{ADMIN}/events", 422, "validation_failed",
         request=lambda w: {"params": {"reviewed": "maybe"}}),
    Case("GET", EVENT_ROUTE, f"{ADMIN}/events/999999", 404, "event_not_found"),
    Case("GET", EVENT_ROUTE, f"{ADMIN}/events/{EVENT_ID}", 500, "stored_data_damaged",
         state=lambda w: damaged(w, "events", "box", "id", EVENT_ID)),
    Case("GET", f"{ADMIN}/events", f"{ADMIN}/events", 500, "stored_data_damaged",
         state=lambda w: damaged(w, "event_rois", "box", "event_id", EVENT_ID)),
    Case("PATCH", EVENT_ROUTE, f"{ADMIN}/events/999999", 404, "event_not_found", request=body({"false_alarm": True})),
    Case("PATCH", EVENT_ROUTE, f"{ADMIN}/events/999999", 422, "validation_failed", request=body({"false_alarm": 1})),
    Case("PATCH", EVENT_ROUTE, f"{ADMIN}/events/999999", 422, "validation_failed",
         request=body({"false_alarm": True, "reason": "x" * 201})),
    Case("POST", f"{ADMIN}/events/review-all", f"{ADMIN}/events/review-all", 422, "validation_failed",
         request=body({"until_id": "all"})),
    Case("POST", f"{ADMIN}/events/review-all", f"{ADMIN}/events/review-all", 422, "validation_failed",
         request=body({"until_id": 5, "verdict": "stolen"})),
    Case("GET", f"{EVENT_ROUTE}/images/{{kind}}", f"{ADMIN}/events/999999/images/before", 404, "event_not_found"),
    # admin: queue and metrics
    Case("GET", f"{ADMIN}/queue", f"{ADMIN}/queue", 401, "unauthorized", auth="none"),
    Case("POST", f"{ADMIN}/queue/retry", f"{ADMIN}/queue/retry", 422, "validation_failed",
         request=body({"job_ids": []})),
    Case("POST", f"{ADMIN}/queue/retry", f"{ADMIN}/queue/retry", 404, "job_not_found",
         request=body({"job_ids": [999999]})),
    Case("POST", f"{ADMIN}/queue/retry", f"{ADMIN}/queue/retry", 409, "job_not_retryable",
         request=lambda w: {"json": {"job_ids": [w.job_id]}}),
    Case("GET", f"{ADMIN}/metrics", f"{ADMIN}/metrics", 401, "unauthorized", auth="none"),
    Case("GET", f"{ADMIN}/metrics/history", f"{ADMIN}/metrics/history", 422, "validation_failed",
         request=lambda w: {"params": {"since": "nan"}}),
    Case("GET", "/metrics", "/metrics", 401, "unauthorized", auth="none"),
    # admin: notification channels
    Case("GET", NOTIFY, NOTIFY, 401, "unauthorized", auth="none"),
    Case("POST", NOTIFY, NOTIFY, 400, "bad_json", request=raw(b"[")),
    Case("POST", NOTIFY, NOTIFY, 422, "validation_failed", request=body({})),
    Case("POST", NOTIFY, NOTIFY, 422, "validation_failed",
         request=body({"name": "x", "kind": "fax", "url": "http://127.0.0.1:9/hook"})),
    Case("POST", NOTIFY, NOTIFY, 422, "validation_failed",
         request=body({"name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/hook", "rois": "all"})),
    Case("POST", NOTIFY, NOTIFY, 409, "channel_name_taken", state=a_channel,
         request=body({"name": "taken", "kind": "webhook", "url": "http://127.0.0.1:9/hook"})),
    Case("PATCH", CHANNEL_ROUTE, f"{NOTIFY}/999999", 404, "channel_not_found", request=body({"enabled": True})),
    Case("PATCH", CHANNEL_ROUTE, f"{NOTIFY}/999999", 422, "validation_failed", request=body({"kind": "mqtt"})),
    Case("PATCH", CHANNEL_ROUTE, f"{NOTIFY}/999999", 400, "bad_json", request=raw(b"{")),
    Case("DELETE", CHANNEL_ROUTE, f"{NOTIFY}/999999", 404, "channel_not_found"),
    Case("DELETE", CHANNEL_ROUTE, f"{NOTIFY}/not-a-number", 404, "channel_not_found"),
    Case("POST", f"{CHANNEL_ROUTE}/test", f"{NOTIFY}/999999/test", 404, "channel_not_found"),
    Case("GET", f"{ADMIN}/notify/outbox", f"{ADMIN}/notify/outbox", 422, "validation_failed",
         request=lambda w: {"params": {"state": "lost"}}),
    Case("GET", f"{ADMIN}/notify/outbox", f"{ADMIN}/notify/outbox", 422, "validation_failed",
         request=lambda w: {"params": {"limit": "1e9"}}),
    # a notification's signed picture link (no login: storewatch/notify/image_links.py)
    Case("GET", LINK_ROUTE, f"{LINKS}/{EVENT_ID}/post", 403, "link_invalid", auth="none",
         request=lambda w: {"params": {"expires": "4102444800", "sig": "0" * 32}}),
    Case("GET", LINK_ROUTE, f"{LINKS}/{EVENT_ID}/pre", 403, "link_expired", auth="none",
         request=lambda w: {"params": signed(w, "pre", now=1_000_000.0, ttl=60)}),
    Case("GET", LINK_ROUTE, f"{LINKS}/{EVENT_ID}/diff", 404, "event_not_found", auth="none",  # signed; none made
         request=lambda w: {"params": signed(w, "diff")}),
    # admin: what-if replays ("cam" has no frames kept for replay: the world runs no worker)
    Case("GET", f"{DEVICE_ROUTE}/replay-range", f"{ADMIN}/devices/nope/replay-range", 404, "device_not_found"),
    Case("GET", REPLAYS, REPLAYS, 401, "unauthorized", auth="none"),
    Case("POST", REPLAYS, REPLAYS, 400, "bad_json", request=raw(b"{")),
    Case("POST", REPLAYS, REPLAYS, 422, "validation_failed", request=body({})),
    Case("POST", REPLAYS, REPLAYS, 422, "validation_failed", request=body(replay_span(since=20, until=10))),
    Case("POST", REPLAYS, REPLAYS, 422, "validation_failed",
         request=body(replay_span(overrides={"how_much": 0.1}))),
    Case("POST", REPLAYS, REPLAYS, 404, "device_not_found", request=body(replay_span(device_id="nope"))),
    Case("POST", REPLAYS, REPLAYS, 404, "roi_not_found", request=body(replay_span(roi_id=999999))),
    Case("POST", REPLAYS, REPLAYS, 409, "no_frames_kept", request=body(replay_span())),
    Case("POST", REPLAYS, REPLAYS, 409, "replay_running", request=body(replay_span()), state=a_running_replay),
    Case("POST", SUGGESTIONS, SUGGESTIONS, 422, "validation_failed",
         request=body(replay_span(overrides={}))),
    Case("POST", SUGGESTIONS, SUGGESTIONS, 409, "no_frames_kept", request=body(replay_span())),
    Case("GET", f"{REPLAYS}/{{replay_id}}", f"{REPLAYS}/nope", 404, "replay_not_found"),
    Case("DELETE", f"{REPLAYS}/{{replay_id}}", f"{REPLAYS}/nope", 404, "replay_not_found"),
]
# Routes with no error of their own to provoke (the SPA's files answer 404 through HTTPException).
NO_ERROR_PATHS = {("POST", f"{ADMIN}/logout"), ("GET", "/api/v1/openapi.json")}
# Domain errors no API request can cause: only `storewatch device add --id` names a device id.
CLI_ONLY = {domain.DeviceIdTaken}


def _send(world: World, case: Case) -> Any:
    request = case.request(world)
    headers = dict(request.pop("headers", {}))
    if case.auth == "admin":
        headers.update(world.admin())
    elif case.auth != "none":
        headers.update(world.device(case.auth))
    path = case.path.format(roi=world.roi_id, job=world.job_id)
    state = case.state(world) if case.state else contextlib.nullcontext()
    with state:
        return world.client.request(case.method, path, headers=headers, **request)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_error_has_the_shape_status_and_code(world: World, case: Case) -> None:
    answer = _send(world, case)
    assert answer.status_code == case.status, answer.text
    error = answer.json()["error"]
    assert set(answer.json()) == {"error"} and {"code", "message", "details"} <= set(error), answer.text
    assert error["code"] == case.code, answer.text
    assert isinstance(error["message"], str) and error["message"].strip()
    assert isinstance(error["details"], list)
    assert all(set(item) >= {"field", "message"} for item in error["details"]), error["details"]


def test_every_api_route_has_its_error_cases(world: World) -> None:
    routes = {(method, route.path) for route in world.app.routes  # type: ignore[attr-defined]
              if isinstance(route, Route) and not route.path.startswith(("/static", "/{"))
              for method in (route.methods or ()) if method != "HEAD"}
    covered = {(case.method, case.route) for case in CASES} | NO_ERROR_PATHS
    assert routes - covered == set(), "routes without error cases"
    assert covered - routes == set(), "cases for routes that do not exist"


def _domain_classes() -> set[type[domain.DomainError]]:
    found, todo = set(), [domain.DomainError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def test_the_table_maps_every_domain_error_class_by_name() -> None:
    kinds = {domain.NotFound, domain.InvalidInput, domain.Conflict}
    missing = {cls.__name__ for cls in _domain_classes() - kinds if cls not in server_errors.ERROR_TABLE}
    assert missing == set(), "domain errors without a row of their own in server/errors.ERROR_TABLE"


def test_the_table_codes_are_snake_case_and_statuses_follow_the_kind() -> None:
    for cls, rule in server_errors.ERROR_TABLE.items():
        assert SNAKE.match(rule.code), (cls, rule.code)
        assert 400 <= rule.status <= 599, (cls, rule.status)
        expected = {domain.NotFound: 404, domain.InvalidInput: 422, domain.Conflict: 409,
                    domain.CorruptStoredValue: 500}
        for kind, status in expected.items():
            if issubclass(cls, kind):
                assert rule.status == status, (cls, rule.status, kind)


def test_every_domain_error_an_api_request_can_cause_is_walked() -> None:
    walked = {case.code for case in CASES}
    unwalked = {cls.__name__ for cls in _domain_classes() - CLI_ONLY
                if cls in server_errors.ERROR_TABLE and server_errors.ERROR_TABLE[cls].code not in walked}
    assert unwalked == set()


def test_a_damaged_column_names_what_is_damaged_and_is_not_the_callers_fault(world: World) -> None:
    with damaged(world, "devices", "health", "id", "cam"):
        answer = world.client.get(DEVICE, headers=world.admin())
    error = answer.json()["error"]
    assert answer.status_code == 500 and error["code"] == "stored_data_damaged"
    assert "devices.health" in error["message"] and "cam" in error["message"]
    assert world.client.get(DEVICE, headers=world.admin()).status_code == 200  # undone: readable again


def test_error_answers_change_nothing(world: World) -> None:
    before = _snapshot(world.appliance)
    for case in CASES:
        if case.code not in ("stored_data_damaged",):  # those cases write the damage themselves
            _send(world, case)
    assert _snapshot(world.appliance) == before


def _snapshot(appliance: Appliance) -> dict[str, Any]:
    db = appliance.db
    return {table: db.query(f"SELECT * FROM {table} ORDER BY 1") for table in
            ("devices", "device_settings", "rois", "captures", "jobs", "settings", "events")}


def test_every_error_a_case_provokes_is_documented_for_its_operation(world: World) -> None:
    paths = world.client.get("/api/v1/openapi.json").json()["paths"]
    undocumented = set()
    for case in CASES:
        operation = paths[re.sub(r":[a-z]+}", "}", case.route)][case.method.lower()]
        if case.status < 500 and str(case.status) not in operation["responses"]:  # any route can answer 500
            undocumented.add(f"{case.method} {case.route} {case.status}")
    assert undocumented == set()
