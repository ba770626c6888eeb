"""Events: visits the analysis detected (with their pictures) and lighting changes.

A visit is one event with a row per touched ROI in `event_rois`; the event row keeps the
headline ROI's fields (the most significant verdict) in its old columns, for old clients.
Writing is idempotent: a visit is keyed by (device, start capture), so running a job
again updates the same row and rewrites the same files. Pictures live under
data_dir/events/, apart from staging, so cleaning staging never breaks an event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import apsw

from storewatch import contract
from storewatch.analysis.verdict import VERDICTS  # noqa: F401  (re-exported: the API and CLI take it from here)
from storewatch.store import Database, Row
from storewatch.errors import NotFound, load_stored_json
from storewatch.store.images import ImageStore

INTERACTION = "interaction_detected"
LIGHTING = "lighting_change"
IMAGE_KINDS = ("pre", "peak", "post", "diff")
# Small pictures for the cards, cropped to what a card shows (storewatch/upkeep/thumbnails.py).
THUMB_KINDS = ("thumb_pre", "thumb_post", "thumb_diff")
REVIEWS = ("confirmed", "false_alarm")
MAX_REASON = 200
MAX_LIMIT = 500
# Most significant first: the headline ROI of a visit is the first of these, then the higher score.
_VERDICT_RANK = {"taken": 0, "placed": 1, "moved": 2, "unchanged": 3}
# Around the touched ROIs, what the admin card crops its pictures to: a share of the box's size.
VIEW_MARGIN = 0.08
MIN_VIEW_MARGIN = 0.02


class EventNotFound(NotFound):
    """No such event, or no such picture of it (any more)."""


@dataclass(frozen=True)
class TouchedRoi:
    """One ROI of a visit and its net result. `decision` is changed, unchanged or unknown."""

    roi_id: int
    start_epoch: float
    end_epoch: float
    peak_score: float
    decision: str
    decision_score: float | None
    box: list[float] | None
    verdict: str | None  # one of VERDICTS; None when no decision was made
    roi_name: str | None = None  # None: the ROI's current name


@dataclass(frozen=True)
class Visit:
    device_id: str
    start_epoch: float
    end_epoch: float
    start_capture_id: int
    rois: tuple[TouchedRoi, ...]


@dataclass(frozen=True)
class EventImage:
    kind: str
    capture_id: int | None
    data: bytes
    suffix: str = "jpg"
    region: list[float] | None = None  # the part of the frame it shows; None: all of it


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


def significance(roi: Row) -> tuple:
    """Sort key, most significant first: verdict (taken > placed > moved > unchanged), then score."""
    score = roi["decision_score"]
    return (_VERDICT_RANK.get(roi["verdict"], len(_VERDICT_RANK)), -(score if score is not None else -1.0),
            -(roi["peak_score"] or 0.0), roi["roi_id"] if roi["roi_id"] is not None else 2**62)


def visit_decision(decisions: Iterable[str | None]) -> str:
    """changed when any ROI's stock changed (taken or placed), unchanged when any was decided."""
    found = set(decisions)
    return "changed" if "changed" in found else "unchanged" if "unchanged" in found else "unknown"


def view_box(polygons: Iterable[list[list[float]]]) -> list[float] | None:
    """The union of the polygons' bounding boxes with a small margin, normalized, or None."""
    points = [point for polygon in polygons for point in polygon]
    if not points:
        return None
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    mx, my = max(MIN_VIEW_MARGIN, (x1 - x0) * VIEW_MARGIN), max(MIN_VIEW_MARGIN, (y1 - y0) * VIEW_MARGIN)
    return [round(min(max(v, 0.0), 1.0), 6) for v in (x0 - mx, y0 - my, x1 + mx, y1 + my)]


def _json_box(box: list[float] | None) -> str | None:
    return None if box is None else json.dumps([round(v, 6) for v in box])


class EventStore:
    def __init__(self, db: Database, images: ImageStore):
        self.db = db
        self.images = images

    # --- writing (inside the job's transaction) -------------------------------------------

    def record_visit(self, visit: Visit, pictures: list[EventImage]) -> int:
        """Upsert the visit's event, its touched ROIs and its pictures; returns the event id.

        The visit replaces the ROI rows of an earlier write of it (a job run again).
        """
        with self.db.write() as conn:
            existing = self._visit_row(conn, visit)
            start, end = visit.start_epoch, visit.end_epoch
            if existing is None:
                event_id = conn.execute(
                    "INSERT INTO events (device_id, type, start_ts, start_capture_id, created_at, visit)"
                    " VALUES (?, ?, ?, ?, ?, 1) RETURNING id",
                    (visit.device_id, INTERACTION, epoch_to_ts(start), visit.start_capture_id,
                     contract.format_timestamp(contract.utc_now()))).fetchone()["id"]
            else:
                event_id = existing["id"]
                conn.execute("DELETE FROM event_rois WHERE event_id = ?", (event_id,))
            self._write_rois(conn, event_id, visit)
            self._write_headline(conn, event_id, start, end)
            self._write_pictures(conn, visit.device_id, event_id, pictures)
        return event_id

    def _visit_row(self, conn: apsw.Connection, visit: Visit) -> Row | None:
        """The event written before for this visit, if any.

        Per-ROI events of older versions that began on the same capture are that visit's
        earlier write: they are folded into the oldest of them, which becomes the visit (their
        old per-ROI key would refuse a headline ROI that another of them holds)."""
        rows = conn.execute("SELECT id, start_ts, end_ts, visit FROM events WHERE device_id = ? AND type = ?"
                            " AND start_capture_id = ? ORDER BY visit DESC, id",
                            (visit.device_id, INTERACTION, visit.start_capture_id)).fetchall()
        if not rows:
            return None
        keep, others = rows[0], [row["id"] for row in rows[1:]]
        if others:  # their pictures' files are left to reconcile (files without rows)
            marks = ",".join("?" * len(others))
            conn.execute(f"UPDATE event_rois SET event_id = ? WHERE event_id IN ({marks})", (keep["id"], *others))
            conn.execute(f"DELETE FROM events WHERE id IN ({marks})", others)
        if not keep["visit"]:
            conn.execute("UPDATE events SET visit = 1 WHERE id = ?", (keep["id"],))
        return keep

    def _write_rois(self, conn: apsw.Connection, event_id: int, visit: Visit) -> None:
        for roi in visit.rois:
            name = roi.roi_name
            if name is None:
                found = conn.execute("SELECT name FROM rois WHERE id = ?", (roi.roi_id,)).fetchone()
                name = found["name"] if found else None
            conn.execute(
                "INSERT INTO event_rois (event_id, roi_id, roi_name, verdict, decision, decision_score, box,"
                " peak_score, start_ts, end_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (event_id, roi_id) DO UPDATE SET roi_name = excluded.roi_name,"
                " verdict = excluded.verdict, decision = excluded.decision,"
                " decision_score = excluded.decision_score, box = excluded.box, peak_score = excluded.peak_score,"
                " start_ts = excluded.start_ts, end_ts = excluded.end_ts",
                (event_id, roi.roi_id, name, roi.verdict, roi.decision,
                 None if roi.decision_score is None else round(roi.decision_score, 6), _json_box(roi.box),
                 round(roi.peak_score, 6), epoch_to_ts(roi.start_epoch), epoch_to_ts(roi.end_epoch)))

    def _write_headline(self, conn: apsw.Connection, event_id: int, start: float, end: float) -> None:
        """The event row's ROI columns from its most significant ROI; the view box from all."""
        rois = sorted(conn.execute("SELECT * FROM event_rois WHERE event_id = ?", (event_id,)).fetchall(),
                      key=significance)
        head = rois[0]
        ids = [roi["roi_id"] for roi in rois if roi["roi_id"] is not None]
        polygons = [load_stored_json(row["polygon"], "rois.polygon", f"ROI {row['id']}") for row in conn.execute(
            f"SELECT id, polygon FROM rois WHERE id IN ({','.join('?' * len(ids))})", ids)] if ids else []
        box = view_box(polygons)
        conn.execute(
            "UPDATE events SET roi_id = ?, roi_name = ?, start_ts = ?, end_ts = ?, duration_s = ?, peak_score = ?,"
            " decision = ?, decision_score = ?, box = ?, verdict = ?, view_box = ? WHERE id = ?",
            (head["roi_id"], head["roi_name"], epoch_to_ts(start), epoch_to_ts(end), round(end - start, 3),
             head["peak_score"], visit_decision(roi["decision"] for roi in rois), head["decision_score"],
             head["box"], head["verdict"], None if box is None else json.dumps(box), event_id))

    def _write_pictures(self, conn: apsw.Connection, device_id: str, event_id: int,
                        pictures: list[EventImage]) -> None:
        for picture in pictures:
            path = self.images.event_path(device_id, event_id, picture.kind, picture.suffix)
            self.images.write(path, picture.data)
            conn.execute(
                "INSERT INTO event_images (event_id, kind, capture_id, path, size_bytes, region)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, kind) DO UPDATE SET"
                " capture_id = excluded.capture_id, path = excluded.path, size_bytes = excluded.size_bytes,"
                " region = excluded.region",
                (event_id, picture.kind, picture.capture_id, path, len(picture.data), _json_box(picture.region)))

    def record_lighting(self, device_id: str, epoch: float, capture_id: int) -> None:
        now = contract.format_timestamp(contract.utc_now())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO events (device_id, roi_id, type, start_ts, start_capture_id, created_at)"
                " VALUES (?, NULL, ?, ?, ?, ?) ON CONFLICT (device_id, type, start_capture_id)"
                " WHERE type = 'lighting_change' AND roi_id IS NULL DO NOTHING",
                (device_id, LIGHTING, epoch_to_ts(epoch), capture_id, now))

    def settle_lighting(self, device_id: str, start_epoch: float, end_epoch: float, start_capture_id: int | None,
                        pictures: list[EventImage]) -> int:
        """The lighting change that began at `start_epoch` is over: its end and its Before/After.

        Finds its event by start capture or start time (made if missing); returns its id."""
        start_ts = epoch_to_ts(start_epoch)
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT id FROM events WHERE device_id = ? AND type = ? AND roi_id IS NULL"
                " AND (start_capture_id = ? OR start_ts = ?) ORDER BY start_capture_id = ? DESC, id LIMIT 1",
                (device_id, LIGHTING, start_capture_id, start_ts, start_capture_id)).fetchone()
            event_id = row["id"] if row is not None else conn.execute(
                "INSERT INTO events (device_id, roi_id, type, start_ts, start_capture_id, created_at)"
                " VALUES (?, NULL, ?, ?, ?, ?) RETURNING id",
                (device_id, LIGHTING, start_ts, start_capture_id,
                 contract.format_timestamp(contract.utc_now()))).fetchone()["id"]
            conn.execute("UPDATE events SET end_ts = ?, duration_s = ? WHERE id = ?",
                         (epoch_to_ts(end_epoch), round(max(0.0, end_epoch - start_epoch), 3), event_id))
            self._write_pictures(conn, device_id, event_id, pictures)
        return event_id

    # --- reading --------------------------------------------------------------------------

    _SELECT = "SELECT e.*, d.name AS device_name FROM events e LEFT JOIN devices d ON d.id = e.device_id"

    def list(self, *, limit: int = 100, **filters: Any) -> list[Row]:
        """Newest first; the filters are those of `_where`."""
        where, params = _where(**filters)
        limit = max(1, min(int(limit), MAX_LIMIT))
        return self.db.query(f"{self._SELECT} {where} ORDER BY e.id DESC LIMIT ?", (*params, limit))

    def newest_id(self, **filters: Any) -> int | None:
        where, params = _where(**filters)
        return self.db.scalar(f"SELECT MAX(e.id) FROM events e {where}", params)

    def review(self, event_id: int, *, reviewed: bool | None = None, false_alarm: bool | None = None,
               reason: str | None = None) -> tuple[Row, bool]:
        """Set the owner's review; returns (event, whether its false-alarm mark changed).

        A false alarm is reviewed; unreviewing clears the mark and its reason. `reason` goes
        with a false alarm only (checked by the caller)."""
        now = contract.format_timestamp(contract.utc_now())
        with self.db.write() as conn:
            before = self.get(event_id)
            mark = bool(before["false_alarm"]) if false_alarm is None else false_alarm
            done = (before["reviewed_at"] is not None or false_alarm is not None) if reviewed is None else reviewed
            if not done:
                mark = False
            if mark:
                kept = before["false_alarm_reason"] if before["false_alarm"] else None
                note = kept if reason is None else (reason.strip() or None)
            else:
                note = None
            conn.execute("UPDATE events SET false_alarm = ?, review = ?, reviewed_at = ?, false_alarm_reason = ?"
                         " WHERE id = ?",
                         (int(mark), ("false_alarm" if mark else "confirmed") if done else None,
                          (before["reviewed_at"] or now) if done else None, note, event_id))
        return self.get(event_id), bool(before["false_alarm"]) != mark

    def review_all(self, until_id: int, **filters: Any) -> int:
        """Mark every unreviewed event matching the filters, up to `until_id`, reviewed (confirmed)."""
        where, params = _where(**filters, unreviewed_to=until_id)
        now = contract.format_timestamp(contract.utc_now())
        with self.db.write() as conn:
            return len(conn.execute(
                f"UPDATE events AS e SET reviewed_at = ?, review = 'confirmed' {where} RETURNING id",
                (now, *params)).fetchall())

    def between(self, since: str, until: str | None = None, device_id: str | None = None) -> list[Row]:
        """Every event starting at or after `since` and before `until` (RFC 3339), oldest first."""
        return self.db.query(
            f"{self._SELECT} WHERE julianday(e.start_ts) >= julianday(?)"
            " AND (? IS NULL OR julianday(e.start_ts) < julianday(?)) AND (? IS NULL OR e.device_id = ?)"
            " ORDER BY e.start_ts, e.id", (since, until, until, device_id, device_id))

    def get(self, event_id: int) -> Row:
        row = self.db.query_one(f"{self._SELECT} WHERE e.id = ?", (event_id,))
        if row is None:
            raise EventNotFound(f"no event {event_id}")
        return row

    def pictures(self, event_ids: list[int]) -> dict[int, dict[str, Row]]:
        found: dict[int, dict[str, Row]] = {}
        for row in self._rows_of("event_images", event_ids):
            found.setdefault(row["event_id"], {})[row["kind"]] = row
        return found

    def touched_rois(self, event_ids: list[int]) -> dict[int, list[Row]]:
        """Each event's ROI rows, most significant first."""
        found: dict[int, list[Row]] = {}
        for row in self._rows_of("event_rois", event_ids):
            found.setdefault(row["event_id"], []).append(row)
        return {event_id: sorted(rows, key=significance) for event_id, rows in found.items()}

    def _rows_of(self, table: str, event_ids: list[int]) -> list[Row]:
        rows: list[Row] = []
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start:start + 500]
            rows += self.db.query(f"SELECT * FROM {table} WHERE event_id IN ({','.join('?' * len(chunk))})", chunk)
        return rows

    def picture_files(self, event_ids: list[int]) -> dict[int, list[Row]]:
        """Each event's pictures (event_id, kind, path), in kind order (the export's)."""
        found: dict[int, list[Row]] = {}
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for image in self.db.query(
                    f"SELECT event_id, kind, path FROM event_images WHERE event_id IN ({marks}) ORDER BY kind",
                    chunk):
                found.setdefault(image["event_id"], []).append(image)
        return found

    def counts(self) -> list[Row]:
        """How many events of each type and decision ('none' for no decision)."""
        return self.db.query("SELECT type, COALESCE(decision, 'none') AS decision, COUNT(*) AS n"
                             " FROM events GROUP BY type, decision")

    # --- the pictures' upkeep (retention, the disk audit) ----------------------------------

    def pictures_bytes(self) -> int:
        return int(self.db.scalar("SELECT COALESCE(SUM(size_bytes), 0) FROM event_images"))

    def picture_rows(self) -> list[Row]:
        """(id, path) of every stored picture."""
        return self.db.query("SELECT id, path FROM event_images")

    @staticmethod
    def delete_picture_row(conn: apsw.Connection, image_id: int) -> None:
        """Drop one picture's row, inside the caller's transaction (its file is the caller's)."""
        conn.execute("DELETE FROM event_images WHERE id = ?", (image_id,))

    def with_pictures_before(self, cutoff: str, after_id: int, limit: int) -> list[int]:
        """Ids after `after_id` of the events that started (or were made) before `cutoff` and
        still keep their pictures, in id order."""
        return [row["id"] for row in self.db.query(
            "SELECT id FROM events WHERE images_expired = 0 AND id > ?"
            " AND COALESCE(julianday(start_ts), julianday(created_at)) < julianday(?)"
            " ORDER BY id LIMIT ?", (after_id, cutoff, limit))]

    def expire_pictures(self, event_ids: list[int], dry_run: bool = False) -> list[str]:
        """Drop these events' picture rows and mark them images_expired (the events stay);
        returns the pictures' paths, whose files the caller deletes. A dry run only reads them."""
        marks = ",".join("?" * len(event_ids))
        if dry_run:
            return [r["path"] for r in self.db.query(
                f"SELECT path FROM event_images WHERE event_id IN ({marks})", event_ids)]
        with self.db.write() as conn:
            paths = [r["path"] for r in self.db.query(
                f"SELECT path FROM event_images WHERE event_id IN ({marks})", event_ids)]
            conn.execute(f"DELETE FROM event_images WHERE event_id IN ({marks})", event_ids)
            conn.execute(f"UPDATE events SET images_expired = 1 WHERE id IN ({marks})", event_ids)
        return paths

    def picture_path(self, event_id: int, kind: str) -> str:
        """The stored relative path of one picture; the kind must be one of IMAGE_KINDS or THUMB_KINDS."""
        if kind not in IMAGE_KINDS + THUMB_KINDS:
            raise EventNotFound(f"no picture kind {kind!r}; kinds are {', '.join(IMAGE_KINDS + THUMB_KINDS)}")
        event = self.get(event_id)
        row = self.db.query_one("SELECT path FROM event_images WHERE event_id = ? AND kind = ?", (event_id, kind))
        if row is None or event["images_expired"]:
            raise EventNotFound(f"event {event_id} has no {kind} picture (any more)")
        return row["path"]

    def set_false_alarm(self, event_id: int, false_alarm: bool) -> tuple[Row, bool]:
        """Mark or unmark (a mark is a review); returns (event, whether it changed)."""
        return self.review(event_id, false_alarm=false_alarm)

    def public(self, row: Row, pictures: dict[str, Row] | None = None, rois: list[Row] | None = None,
               url_prefix: str = "/api/v1/admin/events") -> dict[str, Any]:
        pictures = pictures or {}
        expired = bool(row["images_expired"])
        if not rois and row["type"] == INTERACTION:
            rois = [row]  # written before visits had ROI rows: the event is its one ROI
        return {
            "id": row["id"], "device_id": row["device_id"], "device_name": row.get("device_name"),
            "roi_id": row["roi_id"], "roi_name": row["roi_name"],
            "type": row["type"], "start_ts": row["start_ts"], "end_ts": row["end_ts"],
            "duration_s": row["duration_s"], "peak_score": row["peak_score"], "decision": row["decision"],
            "verdict": row["verdict"], "decision_score": row["decision_score"],
            "box": _stored(row["box"], "events.box", row["id"]),
            "rois": [public_roi(roi) for roi in rois or []],
            "view_box": _stored(row.get("view_box"), "events.view_box", row["id"]),
            "false_alarm": bool(row["false_alarm"]), "images_expired": expired,
            "reviewed": row.get("reviewed_at") is not None, "reviewed_at": row.get("reviewed_at"),
            "review": row.get("review"), "false_alarm_reason": row.get("false_alarm_reason"),
            "start_capture_id": row["start_capture_id"], "created_at": row["created_at"],
            "images": {kind: (f"{url_prefix}/{row['id']}/images/{kind}"
                              if kind in pictures and not expired else None) for kind in IMAGE_KINDS},
            "thumbnails": {kind.removeprefix("thumb_"): f"{url_prefix}/{row['id']}/images/{kind}"
                           for kind in THUMB_KINDS if kind in pictures and not expired},
            "thumbnail_region": _thumb_region(pictures),
        }

    def public_many(self, rows: list[Row]) -> list[dict[str, Any]]:
        ids = [row["id"] for row in rows]
        pictures, rois = self.pictures(ids), self.touched_rois(ids)
        return [self.public(row, pictures.get(row["id"]), rois.get(row["id"])) for row in rows]


def _where(*, device_id: str | None = None, roi_id: int | None = None, decision: str | None = None,
           event_type: str | None = INTERACTION, since: str | None = None, until: str | None = None,
           before_id: int | None = None, after_id: int | None = None, verdict: str | None = None,
           reviewed: bool | None = None, unreviewed_to: int | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause of a listing: `since`/`until` bound start_ts (stored text form, see
    parse_time); `roi_id` and `verdict` match an event when any of its touched ROIs does."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("device_id", device_id), ("decision", decision), ("type", event_type)):
        if value is not None:
            clauses.append(f"e.{column} = ?")
            params.append(value)
    for column, value in (("roi_id", roi_id), ("verdict", verdict)):
        if value is not None:  # the event's own column too: an event written without ROI rows
            clauses.append(f"(e.{column} = ? OR EXISTS (SELECT 1 FROM event_rois r"
                           f" WHERE r.event_id = e.id AND r.{column} = ?))")
            params += [value, value]
    for clause, value in (("e.start_ts >= ?", since), ("e.start_ts <= ?", until), ("e.id < ?", before_id),
                          ("e.id > ?", after_id), ("e.reviewed_at IS NULL AND e.id <= ?", unreviewed_to)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if reviewed is not None:
        clauses.append("e.reviewed_at IS NOT NULL" if reviewed else "e.reviewed_at IS NULL")
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _thumb_region(pictures: dict[str, Row]) -> list[float] | None:
    for kind in THUMB_KINDS:
        if kind in pictures:
            region = pictures[kind].get("region")
            region = _stored(region, "event_images.region", pictures[kind]["event_id"])
            return region or [0.0, 0.0, 1.0, 1.0]
    return None


def _stored(text: str | None, where: str, event_id: int | None) -> Any:
    """A JSON column of an event as stored, None when empty; damage is said, not a 422."""
    return load_stored_json(text, where, f"event {event_id}") if text else None


def public_roi(roi: Row) -> dict[str, Any]:
    """One touched ROI as the API shows it (`score` is its decision's score)."""
    return {"roi_id": roi["roi_id"], "roi_name": roi["roi_name"], "verdict": roi["verdict"],
            "decision": roi["decision"], "box": _stored(roi["box"], "event_rois.box", roi.get("event_id", roi.get("id"))),
            "score": roi["decision_score"], "start_ts": roi["start_ts"], "end_ts": roi["end_ts"]}
