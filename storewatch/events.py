"""Events: interactions the analysis detected (with their pictures) and lighting changes.

Writing is idempotent: an interaction is keyed by (device, ROI, type, start capture), so
running a job again updates the same row and rewrites the same files. Pictures live
under data_dir/events/, apart from staging, so cleaning staging never breaks an event.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from storewatch import contract
from storewatch.analysis.verdict import VERDICTS
from storewatch.db import Database, Row
from storewatch.storage import ImageStore

INTERACTION = "interaction_detected"
LIGHTING = "lighting_change"
IMAGE_KINDS = ("pre", "peak", "post", "diff")
MAX_LIMIT = 500


class EventNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Interaction:
    device_id: str
    roi_id: int
    roi_name: str | None
    start_epoch: float
    end_epoch: float
    peak_score: float
    decision: str
    decision_score: float | None
    box: list[float] | None
    start_capture_id: int
    verdict: str | None = None  # one of VERDICTS (re-exported here); None when no decision was made


@dataclass(frozen=True)
class EventImage:
    kind: str
    capture_id: int | None
    data: bytes
    suffix: str = "jpg"


def epoch_to_ts(epoch: float) -> str:
    return contract.format_timestamp(datetime.fromtimestamp(epoch, timezone.utc))


# What a person may ask for: float() alone would let "inf", "1e300" or "-1" through.
_EPOCH_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)


def parse_moment(value: str) -> datetime:
    """An RFC 3339 time or epoch seconds (ASCII digits), in UTC, from 1970 to the year 9999.

    Raises ValueError with a sentence for a person for anything else."""
    try:
        if isinstance(value, str) and _EPOCH_SECONDS.fullmatch(value):
            moment = datetime.fromtimestamp(float(value), timezone.utc)
        else:
            moment = contract.parse_timestamp(value).astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        shown = value[:40] if isinstance(value, str) else value
        raise ValueError(f"{shown!r} is not a time: give RFC 3339 (2026-01-31T08:00:00Z) or epoch seconds,"
                         " between 1970 and the year 9999") from None
    return moment


def parse_time(value: str) -> str:
    """An RFC 3339 time or epoch seconds, as the stored text form (for comparisons)."""
    return contract.format_timestamp(parse_moment(value))


class EventStore:
    def __init__(self, db: Database, images: ImageStore):
        self.db = db
        self.images = images

    # --- writing (inside the job's transaction) -------------------------------------------

    def record_interaction(self, event: Interaction, pictures: list[EventImage]) -> int:
        """Upsert the event and its pictures; returns the event id."""
        now = contract.format_timestamp(contract.utc_now())
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO events (device_id, roi_id, roi_name, type, start_ts, end_ts, duration_s, peak_score,"
                " decision, decision_score, box, start_capture_id, created_at, verdict)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id, roi_id, type, start_capture_id) DO UPDATE SET"
                " roi_name = excluded.roi_name, start_ts = excluded.start_ts, end_ts = excluded.end_ts,"
                " duration_s = excluded.duration_s, peak_score = excluded.peak_score,"
                " decision = excluded.decision, decision_score = excluded.decision_score, box = excluded.box,"
                " verdict = excluded.verdict"
                " RETURNING id",
                (event.device_id, event.roi_id, event.roi_name, INTERACTION, epoch_to_ts(event.start_epoch),
                 epoch_to_ts(event.end_epoch), round(event.end_epoch - event.start_epoch, 3),
                 round(event.peak_score, 6), event.decision,
                 None if event.decision_score is None else round(event.decision_score, 6),
                 None if event.box is None else json.dumps([round(v, 6) for v in event.box]),
                 event.start_capture_id, now, event.verdict)).fetchone()
            event_id = row["id"]
            for picture in pictures:
                path = self.images.event_path(event.device_id, event_id, picture.kind, picture.suffix)
                self.images.write(path, picture.data)
                conn.execute(
                    "INSERT INTO event_images (event_id, kind, capture_id, path, size_bytes) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (event_id, kind) DO UPDATE SET capture_id = excluded.capture_id,"
                    " path = excluded.path, size_bytes = excluded.size_bytes",
                    (event_id, picture.kind, picture.capture_id, path, len(picture.data)))
        return event_id

    def record_lighting(self, device_id: str, epoch: float, capture_id: int) -> None:
        now = contract.format_timestamp(contract.utc_now())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO events (device_id, roi_id, type, start_ts, start_capture_id, created_at)"
                " VALUES (?, NULL, ?, ?, ?, ?) ON CONFLICT (device_id, type, start_capture_id)"
                " WHERE type = 'lighting_change' AND roi_id IS NULL DO NOTHING",
                (device_id, LIGHTING, epoch_to_ts(epoch), capture_id, now))

    # --- reading --------------------------------------------------------------------------

    def list(self, *, device_id: str | None = None, roi_id: int | None = None, decision: str | None = None,
             event_type: str | None = INTERACTION, since: str | None = None, until: str | None = None,
             limit: int = 100, before_id: int | None = None, verdict: str | None = None) -> list[Row]:
        """Newest first; `since`/`until` bound start_ts (stored text form, see parse_time)."""
        clauses, params = [], []
        for column, value in (("device_id", device_id), ("roi_id", roi_id), ("decision", decision),
                              ("verdict", verdict), ("type", event_type)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("start_ts >= ?")
            params.append(since)
        if until is not None:
            clauses.append("start_ts <= ?")
            params.append(until)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        limit = max(1, min(int(limit), MAX_LIMIT))
        return self.db.query(f"SELECT * FROM events {where} ORDER BY id DESC LIMIT ?", (*params, limit))

    def get(self, event_id: int) -> Row:
        row = self.db.query_one("SELECT * FROM events WHERE id = ?", (event_id,))
        if row is None:
            raise EventNotFound(f"no event {event_id}")
        return row

    def pictures(self, event_ids: list[int]) -> dict[int, dict[str, Row]]:
        found: dict[int, dict[str, Row]] = {}
        if not event_ids:
            return found
        marks = ",".join("?" * len(event_ids))
        for row in self.db.query(f"SELECT * FROM event_images WHERE event_id IN ({marks})", event_ids):
            found.setdefault(row["event_id"], {})[row["kind"]] = row
        return found

    def picture_path(self, event_id: int, kind: str) -> str:
        """The stored relative path of one picture; the kind must be one of IMAGE_KINDS."""
        if kind not in IMAGE_KINDS:
            raise EventNotFound(f"no picture kind {kind!r}; kinds are {', '.join(IMAGE_KINDS)}")
        event = self.get(event_id)
        row = self.db.query_one("SELECT path FROM event_images WHERE event_id = ? AND kind = ?", (event_id, kind))
        if row is None or event["images_expired"]:
            raise EventNotFound(f"event {event_id} has no {kind} picture (any more)")
        return row["path"]

    def set_false_alarm(self, event_id: int, false_alarm: bool) -> tuple[Row, bool]:
        """Mark or unmark; returns (event, whether it changed)."""
        with self.db.write() as conn:
            before = self.get(event_id)
            conn.execute("UPDATE events SET false_alarm = ? WHERE id = ?", (int(false_alarm), event_id))
        return self.get(event_id), bool(before["false_alarm"]) != false_alarm

    def public(self, row: Row, pictures: dict[str, Row] | None = None, url_prefix: str = "/api/v1/admin/events")\
            -> dict[str, Any]:
        pictures = pictures or {}
        expired = bool(row["images_expired"])
        return {
            "id": row["id"], "device_id": row["device_id"], "roi_id": row["roi_id"], "roi_name": row["roi_name"],
            "type": row["type"], "start_ts": row["start_ts"], "end_ts": row["end_ts"],
            "duration_s": row["duration_s"], "peak_score": row["peak_score"], "decision": row["decision"],
            "verdict": row["verdict"], "decision_score": row["decision_score"],
            "box": json.loads(row["box"]) if row["box"] else None,
            "false_alarm": bool(row["false_alarm"]), "images_expired": expired,
            "start_capture_id": row["start_capture_id"], "created_at": row["created_at"],
            "images": {kind: (f"{url_prefix}/{row['id']}/images/{kind}"
                              if kind in pictures and not expired else None) for kind in IMAGE_KINDS},
        }

    def public_many(self, rows: list[Row]) -> list[dict[str, Any]]:
        pictures = self.pictures([row["id"] for row in rows])
        return [self.public(row, pictures.get(row["id"])) for row in rows]
