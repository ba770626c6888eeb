"""What the appliance is doing, in figures: one `collect()` for the admin API, /metrics and status.

Counters (ingest, retention, job durations) come from the persistent `counters` table, so
they survive restarts; gauges (queue, disk, devices) are read fresh each time. A sample
a minute goes to `metrics_samples` for the admin charts and is kept for a day.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storewatch import contract
from storewatch.store import metrics as samples_table, retention_runs
from storewatch.store.devices import effective_mode
from storewatch.store.jobs import DEAD, UNFINISHED
from storewatch.upkeep.retention import disk_reserve

if TYPE_CHECKING:
    from storewatch.appliance import Appliance

log = logging.getLogger("storewatch.upkeep.metrics")

HISTORY_KEEP = timedelta(hours=25)
HISTORY_MAX_ROWS = 2000
SAMPLE_INTERVAL_S = 60.0
HEALTH_FIELDS = ("spool_frames", "spool_bytes", "dropped_frames", "uptime_s", "cpu_temp_c",
                 "disk_free_bytes", "rssi", "last_error", "fw_version")


def collect(appliance: Appliance, now: datetime | None = None) -> dict[str, Any]:
    now = now or contract.utc_now()
    counters = appliance.counters.snapshot()
    return {
        "ts": contract.format_timestamp(now),
        "ingest": _ingest(counters),
        "queue": queue(appliance, now),
        "jobs": _jobs(appliance, counters, now),
        "events": _events(appliance),
        "disk": {**disk(appliance), "storage_unavailable": _storage_unavailable(counters)},
        "retention": _retention(appliance, counters),
        "devices": devices(appliance, now),
    }


def _ingest(counters: dict[str, dict[str, int]]) -> dict[str, Any]:
    frames = counters.get("ingest_frames", {})
    rejected = counters.get("ingest_rejected", {})
    return {"accepted": frames.get("accepted", 0), "duplicate": frames.get("duplicate", 0),
            "rejected": dict(sorted(rejected.items())), "rejected_total": sum(rejected.values()),
            "bytes": counters.get("ingest_bytes", {}).get("", 0)}


def _storage_unavailable(counters: dict[str, dict[str, int]]) -> dict[str, int]:
    """Requests refused with 503 because the data disk refused writes, by reason (read_only, io_error...)."""
    return dict(sorted(counters.get("storage_unavailable", {}).items()))


def queue(appliance: Appliance, now: datetime) -> dict[str, Any]:
    by_state = appliance.jobs.counts()
    return {"by_state": by_state, "depth": sum(by_state[s] for s in UNFINISHED),
            "oldest_queued_age_s": appliance.jobs.oldest_queued_age_s(now)}


def _jobs(appliance: Appliance, counters: dict[str, dict[str, int]], now: datetime) -> dict[str, Any]:
    """Durations: the worker's histogram counters (all time) and quantiles of the last hour."""
    histogram = counters.get("job_duration_ms", {})
    since = contract.format_timestamp(now - timedelta(hours=1))
    recent = samples_table.recent_durations_ms(appliance.db, since)
    return {
        "duration_ms_count": histogram.get("count", 0),
        "duration_ms_sum": histogram.get("sum", 0),
        "duration_ms_buckets": {k[3:]: v for k, v in histogram.items() if k.startswith("le_")},
        "recent": {"count": len(recent), "p50_ms": _quantile(recent, 0.5), "p95_ms": _quantile(recent, 0.95),
                   "max_ms": recent[-1] if recent else None},
        "outcomes": dict(sorted(counters.get("jobs", {}).items())),
    }


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _events(appliance: Appliance) -> dict[str, Any]:
    rows = appliance.events.counts()
    by_decision: dict[str, int] = {}
    lighting = 0
    for row in rows:
        if row["type"] == "lighting_change":
            lighting += row["n"]
        else:
            by_decision[row["decision"]] = by_decision.get(row["decision"], 0) + row["n"]
    return {"by_decision": by_decision, "interactions": sum(by_decision.values()), "lighting_changes": lighting}


def disk(appliance: Appliance) -> dict[str, Any]:
    usage = appliance.images.usage()
    settings = appliance.settings
    reserve = disk_reserve(appliance, usage)
    return {
        "total_bytes": usage.total, "free_bytes": usage.free, "reserve_bytes": reserve,
        "below_reserve": usage.free < reserve,
        "staging_bytes": appliance.captures.total_bytes(),
        "staging_frames": appliance.captures.count(),
        "staging_max_bytes": settings.get("staging_max_bytes"),
        "events_bytes": appliance.events.pictures_bytes(),
        "database_bytes": database_bytes(appliance.data_dir),
    }


def database_bytes(data_dir: Path) -> int:
    total = 0
    for name in ("storewatch.db", "huey.db"):
        for suffix in ("", "-wal", "-shm"):
            try:
                total += (Path(data_dir) / f"{name}{suffix}").stat().st_size
            except FileNotFoundError:
                continue
    return total


def _retention(appliance: Appliance, counters: dict[str, dict[str, int]]) -> dict[str, Any]:
    last = retention_runs.last_finished(appliance.db)
    return {"deleted": dict(sorted(counters.get("retention_deleted", {}).items())),
            "bytes_freed": counters.get("retention_bytes_freed", {}).get("", 0),
            "last_run": last}


def devices(appliance: Appliance, now: datetime) -> list[dict[str, Any]]:
    shown = []
    for device in appliance.devices.list():
        health = json.loads(device["health"] or "{}")
        shown.append({
            "id": device["id"], "name": device["name"], "enabled": bool(device["enabled"]),
            "mode": effective_mode(device, now), "reported_mode": device["reported_mode"],
            "last_seen": device["last_seen"], "last_seen_age_s": _age(device["last_seen"], now),
            "last_config_fetch": device["last_config_fetch"],
            "last_config_fetch_age_s": _age(device["last_config_fetch"], now),
            "last_seq": device["last_seq"],
            **{name: health.get(name) for name in HEALTH_FIELDS},
        })
    return shown


def _age(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    return round(max(0.0, (now - contract.parse_timestamp(stamp)).total_seconds()), 3)


# --- the history for the admin charts ------------------------------------------------------


def sample(collected: dict[str, Any]) -> dict[str, Any]:
    """The flat figures one history point keeps."""
    ingest, queue_, disk_ = collected["ingest"], collected["queue"], collected["disk"]
    return {
        "ts": collected["ts"],
        "ingest_accepted_total": ingest["accepted"], "ingest_duplicate_total": ingest["duplicate"],
        "ingest_rejected_total": ingest["rejected_total"], "ingest_bytes_total": ingest["bytes"],
        "queue_depth": queue_["depth"], "queue_dead": queue_["by_state"][DEAD],
        "oldest_queued_age_s": queue_["oldest_queued_age_s"],
        "job_duration_ms_count": collected["jobs"]["duration_ms_count"],
        "job_duration_ms_sum": collected["jobs"]["duration_ms_sum"],
        "events_total": collected["events"]["interactions"],
        "lighting_changes_total": collected["events"]["lighting_changes"],
        "disk_total_bytes": disk_["total_bytes"], "disk_free_bytes": disk_["free_bytes"],
        "staging_bytes": disk_["staging_bytes"], "events_bytes": disk_["events_bytes"],
        "database_bytes": disk_["database_bytes"],
        "retention_bytes_freed_total": collected["retention"]["bytes_freed"],
    }


def record_sample(appliance: Appliance, now: datetime | None = None) -> dict[str, Any]:
    """Store one history point and drop the ones older than HISTORY_KEEP."""
    now = now or contract.utc_now()
    point = sample(collect(appliance, now))
    cutoff = contract.format_timestamp(now - HISTORY_KEEP)
    samples_table.record_sample(appliance.db, point, cutoff)
    return point


def history(appliance: Appliance, since: datetime) -> list[dict[str, Any]]:
    return samples_table.samples(appliance.db, contract.format_timestamp(since), HISTORY_MAX_ROWS)


def sampler_service(appliance: Appliance, interval_s: float = SAMPLE_INTERVAL_S):
    from storewatch.ops.periodic import PeriodicService

    return PeriodicService("metrics-sampler", interval_s, lambda _round: record_sample(appliance))
