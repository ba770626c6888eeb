"""Metrics: the admin JSON, the Prometheus text and the history equal what the test did."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest

from storewatch import contract
from storewatch.upkeep import metrics
from storewatch.appliance import Appliance
from storewatch.server.metrics_text import render
from support.frames import capture_ts, make_jpeg
from support.servers import start_live_server

SAMPLE_LINE = re.compile(r'^storewatch_[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+(Inf)?$')


def meta(device_id: str, seq: int) -> str:
    return json.dumps({"device_id": device_id, "capture_ts": capture_ts(), "seq": seq,
                       "width": 64, "height": 48, "jpeg_quality": 85})


def post(url: str, token: str, device_id: str, seq: int, image: bytes) -> httpx.Response:
    return httpx.post(f"{url}{contract.INGEST_FRAME_PATH}", headers={"Authorization": f"Bearer {token}"},
                      files={"meta": (None, meta(device_id, seq), "application/json"),
                             "image": ("f.jpg", image, "image/jpeg")}, timeout=30)


def admin_token(data_dir) -> str:
    opened = Appliance(data_dir)
    try:
        return opened.admins.create_token()
    finally:
        opened.close()


LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def sample_key(key: str) -> str:
    """`name{labels}` with its labels in name order: the exposition's label order means nothing."""
    name, brace, labels = key.partition("{")
    if not brace:
        return key
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(LABEL.findall(labels))) + "}"


class Exposition(dict):
    """{'name{labels}': value}, looked up whatever the order of the labels in the key."""

    def __getitem__(self, key: str) -> float:
        return super().__getitem__(sample_key(key))


def parse_exposition(text: str) -> Exposition:
    """Asserts every line is well formed and every family typed once."""
    values, typed = Exposition(), set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in typed, f"{name} typed twice"
            typed.add(name)
        elif line.startswith("# HELP "):
            continue
        else:
            assert SAMPLE_LINE.match(line), line
            key, _, value = line.rpartition(" ")
            values[sample_key(key)] = float(value)
    return values


@pytest.mark.slow  # stops and restarts storewatch run
def test_figures_equal_what_was_done_and_survive_a_restart(data_dir):
    server = start_live_server(data_dir)
    try:
        with server.admin_client() as admin:
            body = admin.post("/api/v1/admin/devices", json={"name": "cam one"}).json()
            device_id, token = body["device_id"], body["token"]
            images = [make_jpeg(64, 48, seed=n) for n in range(3)]
            for seq, image in enumerate(images):
                assert post(server.url, token, device_id, seq, image).status_code == 201
            assert post(server.url, token, device_id, 0, images[0]).status_code == 200
            assert post(server.url, token, device_id, 9, b"not a jpeg").status_code == 415
            assert post(server.url, token, device_id, 0, images[1]).status_code == 409
            assert post(server.url, "wrong", device_id, 10, images[0]).status_code == 401
            beat = {"device_id": device_id, "ts": "2026-11-24T05:47:30Z", "spool_frames": 7, "spool_bytes": 7000,
                    "dropped_frames": 2, "mode": "baseline"}
            assert httpx.post(f"{server.url}{contract.HEARTBEAT_PATH}", json=beat,
                              headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert httpx.get(f"{server.url}{contract.DEVICE_CONFIG_PATH}", params={"device_id": device_id},
                             headers={"Authorization": f"Bearer {token}"}).status_code == 200

            figures = admin.get("/api/v1/admin/metrics").json()

        ingest = figures["ingest"]
        assert (ingest["accepted"], ingest["duplicate"]) == (3, 1)
        assert ingest["rejected"] == {"not_a_jpeg": 1, "seq_conflict": 1, "unauthorized": 1}
        assert ingest["bytes"] == sum(len(i) for i in images)
        assert sum(figures["queue"]["by_state"].values()) == 3
        assert figures["disk"]["staging_frames"] == 3
        assert figures["disk"]["staging_bytes"] == sum(len(i) for i in images)
        assert 0 < figures["disk"]["free_bytes"] <= figures["disk"]["total_bytes"]
        assert figures["disk"]["database_bytes"] > 0
        [shown] = figures["devices"]
        assert shown["id"] == device_id and shown["mode"] == "baseline"
        assert (shown["spool_frames"], shown["spool_bytes"], shown["dropped_frames"]) == (7, 7000, 2)
        assert shown["last_seen_age_s"] < 60 and shown["last_config_fetch_age_s"] < 60

        token_for_metrics = admin_token(data_dir)
        text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token_for_metrics}"})
        assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain; version=0.0.4")
        values = parse_exposition(text.text)
        assert values['storewatch_ingest_frames_total{result="accepted"}'] == 3
        assert values['storewatch_ingest_frames_total{result="duplicate"}'] == 1
        assert values['storewatch_ingest_frames_total{result="rejected",reason="not_a_jpeg"}'] == 1
        assert values[f'storewatch_device_spool_frames{{device="{device_id}"}}'] == 7
        assert values[f'storewatch_device_dropped_frames{{device="{device_id}"}}'] == 2
        assert values['storewatch_disk_used_bytes{part="staging"}'] == sum(len(i) for i in images)
    finally:
        assert server.stop() == 0

    server = start_live_server(data_dir)  # counters come back from the database
    try:
        with server.admin_client() as admin:
            again = admin.get("/api/v1/admin/metrics").json()["ingest"]
        assert again == ingest
    finally:
        server.stop()


def test_metrics_text_needs_an_admin_token_unless_metrics_open(app):
    assert app.get("/metrics").status_code == 401
    wrong = app.get("/metrics", headers={"Authorization": "Bearer swa_nope"})
    assert wrong.status_code == 401 and set(wrong.json()) == {"error"}
    with app.admin_client() as admin:
        assert app.get("/metrics", cookies=admin.cookies).status_code == 401
        assert admin.patch("/api/v1/admin/settings", json={"metrics_open": True}).status_code == 200
    opened = app.get("/metrics")
    assert opened.status_code == 200 and parse_exposition(opened.text)["storewatch_queue_depth"] == 0


def test_admin_metrics_need_an_admin(app):
    for path in ("/api/v1/admin/metrics", "/api/v1/admin/metrics/history"):
        assert app.get(path).status_code == 401


def test_history_has_a_sample_from_the_start_and_filters_by_since(live_server):
    with live_server.admin_client() as admin:
        samples = admin.get("/api/v1/admin/metrics/history").json()["samples"]
        assert len(samples) >= 1
        first = samples[0]
        for key in ("ts", "ingest_accepted_total", "ingest_rejected_total", "queue_depth", "disk_free_bytes",
                    "staging_bytes", "events_total"):
            assert key in first
        later = contract.format_timestamp(contract.parse_timestamp(samples[-1]["ts"]) + timedelta(seconds=1))
        assert admin.get("/api/v1/admin/metrics/history", params={"since": later}).json() == {"samples": []}
        bad = admin.get("/api/v1/admin/metrics/history", params={"since": "yesterday"})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "since"


def test_history_keeps_a_day_and_a_bit(appliance):
    now = contract.utc_now()
    for hours in (30, 20, 1):
        metrics.record_sample(appliance, now - timedelta(hours=hours))
    metrics.record_sample(appliance, now)
    kept = metrics.history(appliance, now - timedelta(days=2))
    assert len(kept) == 3  # the 30-hour-old one was pruned
    assert len(metrics.history(appliance, now - timedelta(hours=2))) == 2


def test_events_jobs_and_retention_are_counted(appliance):
    appliance.devices.add("cam", "cam-1")
    with appliance.db.write() as conn:
        for decision in ("changed", "changed", "unchanged"):
            conn.execute("INSERT INTO events (device_id, type, start_ts, decision, created_at)"
                         " VALUES ('cam-1', 'interaction_detected', '2026-01-01T00:00:00Z', ?, 'x')", (decision,))
        conn.execute("INSERT INTO events (device_id, type, start_ts, created_at, start_capture_id)"
                     " VALUES ('cam-1', 'lighting_change', '2026-01-01T00:00:00Z', 'x', 5)")
    for label, amount in (("sum", 300), ("count", 3), ("le_50", 1), ("le_250", 2)):
        appliance.counters.add("job_duration_ms", label, amount)
    appliance.counters.add("retention_deleted", "staging_expired", 4)
    collected = metrics.collect(appliance)
    assert collected["events"] == {"by_decision": {"changed": 2, "unchanged": 1}, "interactions": 3,
                                   "lighting_changes": 1}
    values = parse_exposition(render(collected))
    assert values['storewatch_events_total{decision="changed"}'] == 2
    assert values["storewatch_lighting_changes_total"] == 1
    assert values['storewatch_job_duration_seconds_bucket{le="0.05"}'] == 1
    assert values['storewatch_job_duration_seconds_bucket{le="0.25"}'] == 3
    assert values['storewatch_job_duration_seconds_bucket{le="+Inf"}'] == 3
    assert values["storewatch_job_duration_seconds_sum"] == pytest.approx(0.3)
    assert values['storewatch_retention_deleted_total{what="staging_expired"}'] == 4


def test_label_values_are_escaped(appliance):
    appliance.counters.add("ingest_rejected", 'we"ird\\code\n')
    text = render(metrics.collect(appliance))
    assert 'reason="we\\"ird\\\\code\\n"' in text
    parse_exposition(text)


def test_every_family_keeps_its_name_and_type(appliance):
    """The names and types scrapers and dashboards know (prometheus_client writes the text)."""
    text = render(metrics.collect(appliance))
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    counters = {"ingest_frames_total", "ingest_bytes_total", "events_total", "lighting_changes_total",
                "storage_unavailable_total", "retention_deleted_total", "retention_freed_bytes_total"}
    gauges = {"queue_jobs", "queue_depth", "queue_oldest_queued_age_seconds", "disk_total_bytes",
              "disk_free_bytes", "disk_reserve_bytes", "disk_used_bytes", "staging_frames",
              "device_last_seen_age_seconds", "device_last_config_fetch_age_seconds", "device_mode",
              "device_spool_frames", "device_spool_bytes", "device_dropped_frames"}
    expected = {f"storewatch_{n}": "counter" for n in counters} | {f"storewatch_{n}": "gauge" for n in gauges}
    assert types == expected | {"storewatch_job_duration_seconds": "histogram"}
    values = parse_exposition(text)
    assert values["storewatch_ingest_frames_total{result=\"accepted\"}"] == 0
    assert values["storewatch_job_duration_seconds_count"] == 0  # no buckets before the first job
