"""GET /metrics: the figures of `metrics.collect` in the Prometheus text exposition format.

Needs an admin API token as `Authorization: Bearer …`, unless the `metrics_open` setting
lets anyone on the LAN scrape it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storewatch import metrics
from storewatch.appliance import Appliance
from storewatch.server.errors import ApiError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Sample = tuple[dict[str, str], float]


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[Sample], suffix: str = "") -> None:
        samples = [(labels, value) for labels, value in samples if value is not None]
        full = f"storewatch_{name}"
        self.lines.append(f"# HELP {full} {help_text}")
        self.lines.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            self.lines.append(f"{full}{suffix}{_labels(labels)} {_number(value)}")

    def one(self, name: str, kind: str, help_text: str, value: float | None) -> None:
        self.family(name, kind, help_text, [({}, value)])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(str(value))}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def render(collected: dict[str, Any]) -> str:
    out = _Exposition()
    _ingest(out, collected["ingest"])
    _queue(out, collected["queue"], collected["jobs"])
    _events(out, collected["events"])
    _disk(out, collected["disk"])
    _retention(out, collected["retention"])
    _devices(out, collected["devices"])
    return out.text()


def _ingest(out: _Exposition, ingest: dict[str, Any]) -> None:
    samples: list[Sample] = [({"result": "accepted"}, ingest["accepted"]),
                             ({"result": "duplicate"}, ingest["duplicate"])]
    samples += [({"result": "rejected", "reason": code}, n) for code, n in ingest["rejected"].items()]
    out.family("ingest_frames_total", "counter", "Frames posted to ingest, by result and rejection reason.",
               samples)
    out.one("ingest_bytes_total", "counter", "JPEG bytes stored by ingest.", ingest["bytes"])


def _queue(out: _Exposition, queue: dict[str, Any], jobs: dict[str, Any]) -> None:
    out.family("queue_jobs", "gauge", "Analysis jobs by state.",
               [({"state": state}, n) for state, n in queue["by_state"].items()])
    out.one("queue_depth", "gauge", "Jobs waiting or running (queued, running, failed).", queue["depth"])
    out.one("queue_oldest_queued_age_seconds", "gauge", "Age of the oldest job not yet done (0 when none).",
            queue["oldest_queued_age_s"] or 0)
    buckets, cumulative = [], 0
    for bound, n in sorted(((b, n) for b, n in jobs["duration_ms_buckets"].items()),
                           key=lambda item: float("inf") if item[0] == "inf" else float(item[0])):
        cumulative += n
        le = "+Inf" if bound == "inf" else repr(float(bound) / 1000)
        buckets.append(({"le": le}, cumulative))
    if buckets and buckets[-1][0]["le"] != "+Inf":
        buckets.append(({"le": "+Inf"}, jobs["duration_ms_count"]))
    name = "storewatch_job_duration_seconds"
    out.lines += [f"# HELP {name} Time the worker spent on one frame.", f"# TYPE {name} histogram"]
    out.lines += [f"{name}_bucket{_labels(labels)} {value}" for labels, value in buckets]
    out.lines += [f"{name}_sum {_number(jobs['duration_ms_sum'] / 1000)}",
                  f"{name}_count {jobs['duration_ms_count']}"]


def _events(out: _Exposition, events: dict[str, Any]) -> None:
    out.family("events_total", "counter", "Interaction events detected, by decision.",
               [({"decision": d}, n) for d, n in sorted(events["by_decision"].items())])
    out.one("lighting_changes_total", "counter", "Lighting changes detected.", events["lighting_changes"])


def _disk(out: _Exposition, disk: dict[str, Any]) -> None:
    out.one("disk_total_bytes", "gauge", "Size of the data disk.", disk["total_bytes"])
    out.one("disk_free_bytes", "gauge", "Free space on the data disk.", disk["free_bytes"])
    out.one("disk_reserve_bytes", "gauge", "Free space below which ingest answers 507.", disk["reserve_bytes"])
    out.family("disk_used_bytes", "gauge", "Bytes used by staging frames, event images and the databases.",
               [({"part": part}, disk[f"{part}_bytes"]) for part in ("staging", "events", "database")])
    out.one("staging_frames", "gauge", "Frames in staging.", disk["staging_frames"])
    out.family("storage_unavailable_total", "counter",
               "Requests answered 503 because the data disk refused writes, by reason.",
               [({"reason": reason}, n) for reason, n in disk["storage_unavailable"].items()])


def _retention(out: _Exposition, retention: dict[str, Any]) -> None:
    out.family("retention_deleted_total", "counter", "Things retention deleted, by kind.",
               [({"what": what}, n) for what, n in retention["deleted"].items()])
    out.one("retention_freed_bytes_total", "counter", "Bytes retention freed.", retention["bytes_freed"])


def _devices(out: _Exposition, devices: list[dict[str, Any]]) -> None:
    def per(field: str) -> list[Sample]:
        return [({"device": d["id"]}, d[field]) for d in devices if isinstance(d.get(field), (int, float))]

    out.family("device_last_seen_age_seconds", "gauge", "Seconds since the device was last heard from.",
               per("last_seen_age_s"))
    out.family("device_last_config_fetch_age_seconds", "gauge", "Seconds since the device last fetched its config.",
               per("last_config_fetch_age_s"))
    out.family("device_mode", "gauge", "The capture mode the appliance wants (1 for the current one).",
               [({"device": d["id"], "mode": mode}, int(d["mode"] == mode)) for d in devices
                for mode in ("baseline", "burst")])
    out.family("device_spool_frames", "gauge", "Frames waiting in the device's offline spool (heartbeat).",
               per("spool_frames"))
    out.family("device_spool_bytes", "gauge", "Bytes in the device's offline spool (heartbeat).", per("spool_bytes"))
    out.family("device_dropped_frames", "gauge", "Frames the device dropped (heartbeat, since its start).",
               per("dropped_frames"))


def _check_access(request: Request, appliance: Appliance) -> None:
    if appliance.settings.get("metrics_open"):
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "/metrics needs an admin API token (`storewatch admin token`) as "
                       "Authorization: Bearer, or the metrics_open setting.",
                       headers={"WWW-Authenticate": "Bearer"})
    if not appliance.admins.check_token(token.strip()):
        raise ApiError(401, "unauthorized", "The admin API token is not valid; make one with "
                       "`storewatch admin token`.", headers={"WWW-Authenticate": "Bearer"})


def _scrape(request: Request) -> str:
    appliance: Appliance = request.app.state.appliance
    _check_access(request, appliance)
    return render(metrics.collect(appliance))


async def prometheus(request: Request) -> Response:
    text = await anyio.to_thread.run_sync(_scrape, request)
    return Response(text, media_type=CONTENT_TYPE)


ROUTES = [Route("/metrics", prometheus, methods=["GET"])]
