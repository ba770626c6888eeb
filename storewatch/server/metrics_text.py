"""GET /metrics: the figures of `metrics.collect` in the Prometheus text exposition format,
written by prometheus_client from a collector made for each scrape.

Needs an admin API token as `Authorization: Bearer …`, unless the `metrics_open` setting
lets anyone on the LAN scrape it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import anyio.to_thread
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
                                    Metric)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storewatch.upkeep import metrics
from storewatch.appliance import Appliance
from storewatch.server.errors import ApiError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Sample = tuple[dict[str, str], float]
_FAMILIES = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily}


def _family(kind: str, name: str, help_text: str, samples: Iterable[Sample]) -> Metric:
    """One family; samples' label sets may differ (ingest adds `reason` to rejections only),
    so they go in through `add_sample` rather than fixed label names."""
    family = _FAMILIES[kind](f"storewatch_{name}", help_text, labels=())
    # A counter family drops `_total` from its name and its exposition adds it back.
    sample_name = family.name + ("_total" if kind == "counter" else "")
    for labels, value in samples:
        if value is not None:
            family.add_sample(sample_name, {key: str(v) for key, v in labels.items()}, value)
    return family


def _one(kind: str, name: str, help_text: str, value: float | None) -> Metric:
    return _family(kind, name, help_text, [({}, value)])


class _Figures(Collector):
    """The figures of one `metrics.collect`, as metric families for one scrape."""

    def __init__(self, collected: dict[str, Any]) -> None:
        self.collected = collected

    def collect(self) -> Iterator[Metric]:
        c = self.collected
        yield from _ingest(c["ingest"])
        yield from _queue(c["queue"], c["jobs"])
        yield from _events(c["events"])
        yield from _disk(c["disk"])
        yield from _retention(c["retention"])
        yield from _devices(c["devices"])


def render(collected: dict[str, Any]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(collected))
    return generate_latest(registry).decode("utf-8")


def _ingest(ingest: dict[str, Any]) -> Iterator[Metric]:
    samples: list[Sample] = [({"result": "accepted"}, ingest["accepted"]),
                             ({"result": "duplicate"}, ingest["duplicate"])]
    samples += [({"result": "rejected", "reason": code}, n) for code, n in ingest["rejected"].items()]
    yield _family("counter", "ingest_frames_total", "Frames posted to ingest, by result and rejection reason.",
                  samples)
    yield _one("counter", "ingest_bytes_total", "JPEG bytes stored by ingest.", ingest["bytes"])


def _queue(queue: dict[str, Any], jobs: dict[str, Any]) -> Iterator[Metric]:
    yield _family("gauge", "queue_jobs", "Analysis jobs by state.",
                  [({"state": state}, n) for state, n in queue["by_state"].items()])
    yield _one("gauge", "queue_depth", "Jobs waiting or running (queued, running, failed).", queue["depth"])
    yield _one("gauge", "queue_oldest_queued_age_seconds", "Age of the oldest job not yet done (0 when none).",
               queue["oldest_queued_age_s"] or 0)
    yield _job_durations(jobs)


def _job_durations(jobs: dict[str, Any]) -> Metric:
    buckets, cumulative = [], 0
    for bound, n in sorted(((b, n) for b, n in jobs["duration_ms_buckets"].items()),
                           key=lambda item: float("inf") if item[0] == "inf" else float(item[0])):
        cumulative += n
        buckets.append(("+Inf" if bound == "inf" else repr(float(bound) / 1000), cumulative))
    if buckets and buckets[-1][0] != "+Inf":
        buckets.append(("+Inf", jobs["duration_ms_count"]))
    family = HistogramMetricFamily("storewatch_job_duration_seconds", "Time the worker spent on one frame.")
    for le, value in buckets:
        family.add_sample(family.name + "_bucket", {"le": le}, value)
    # The count is the stored one, not the last bucket's (there are no buckets before the first job).
    family.add_sample(family.name + "_sum", {}, jobs["duration_ms_sum"] / 1000)
    family.add_sample(family.name + "_count", {}, jobs["duration_ms_count"])
    return family


def _events(events: dict[str, Any]) -> Iterator[Metric]:
    yield _family("counter", "events_total", "Interaction events detected, by decision.",
                  [({"decision": d}, n) for d, n in sorted(events["by_decision"].items())])
    yield _one("counter", "lighting_changes_total", "Lighting changes detected.", events["lighting_changes"])


def _disk(disk: dict[str, Any]) -> Iterator[Metric]:
    yield _one("gauge", "disk_total_bytes", "Size of the data disk.", disk["total_bytes"])
    yield _one("gauge", "disk_free_bytes", "Free space on the data disk.", disk["free_bytes"])
    yield _one("gauge", "disk_reserve_bytes", "Free space below which ingest answers 507.", disk["reserve_bytes"])
    yield _family("gauge", "disk_used_bytes", "Bytes used by staging frames, event images and the databases.",
                  [({"part": part}, disk[f"{part}_bytes"]) for part in ("staging", "events", "database")])
    yield _one("gauge", "staging_frames", "Frames in staging.", disk["staging_frames"])
    yield _family("counter", "storage_unavailable_total",
                  "Requests answered 503 because the data disk refused writes, by reason.",
                  [({"reason": reason}, n) for reason, n in disk["storage_unavailable"].items()])


def _retention(retention: dict[str, Any]) -> Iterator[Metric]:
    yield _family("counter", "retention_deleted_total", "Things retention deleted, by kind.",
                  [({"what": what}, n) for what, n in retention["deleted"].items()])
    yield _one("counter", "retention_freed_bytes_total", "Bytes retention freed.", retention["bytes_freed"])


def _devices(devices: list[dict[str, Any]]) -> Iterator[Metric]:
    def per(field: str) -> list[Sample]:
        return [({"device": d["id"]}, d[field]) for d in devices if isinstance(d.get(field), (int, float))]

    yield _family("gauge", "device_last_seen_age_seconds", "Seconds since the device was last heard from.",
                  per("last_seen_age_s"))
    yield _family("gauge", "device_last_config_fetch_age_seconds",
                  "Seconds since the device last fetched its config.", per("last_config_fetch_age_s"))
    yield _family("gauge", "device_mode", "The capture mode the appliance wants (1 for the current one).",
                  [({"device": d["id"], "mode": mode}, int(d["mode"] == mode)) for d in devices
                   for mode in ("baseline", "burst")])
    yield _family("gauge", "device_spool_frames", "Frames waiting in the device's offline spool (heartbeat).",
                  per("spool_frames"))
    yield _family("gauge", "device_spool_bytes", "Bytes in the device's offline spool (heartbeat).",
                  per("spool_bytes"))
    yield _family("gauge", "device_dropped_frames", "Frames the device dropped (heartbeat, since its start).",
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
