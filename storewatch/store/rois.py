"""Regions of interest: a device's shelf areas, their polygons and threshold overrides.

Polygons are normalized 0..1 (x right, y down) so they survive a change of capture size.
Each ROI may override any analysis threshold; the rest come from the global defaults,
stored in the settings table under `analysis_thresholds` and edited through this module.
Every change bumps the device's config_version (the device gets its ROIs in
motion_trigger) and reaches the analysis at the next frame, which restarts only the
changed ROI (the analysis compares each ROI's polygon and thresholds with its saved state).

An ROI busy without a break is *restless* (analysis/tracker.py): it starts no events until
calm again. The worker marks it (`set_restless`, in the frame's transaction) so the panel can
say so; a change that restarts the ROI's analysis clears the mark, since the restarted ROI
watches afresh and reports no calm.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection
from dataclasses import fields
from typing import Any

import apsw

from storewatch import contract
from storewatch.analysis.device_analyzer import RoiSpec
from storewatch.analysis.thresholds import BOUNDS, HELP, Thresholds
from storewatch.analysis.tracker import RESTLESS_CALM_SECONDS
from storewatch.store import Database, Row, settings
from storewatch.store.devices import DeviceRegistry
from storewatch.store.events import epoch_to_ts
from storewatch.errors import RoiInvalid, RoiNameTaken, RoiNotFound, load_stored_json

log = logging.getLogger("storewatch.store.rois")

MIN_POINTS, MAX_POINTS = 3, 64
MIN_AREA = 1e-4  # of the frame: a polygon smaller than this is a mistake, not an ROI
MAX_NAME = 100
THRESHOLDS_KEY = "analysis_thresholds"


RoiError = RoiInvalid  # the name the CLI and the tests know it by


# --- validation ------------------------------------------------------------------------


def validate_polygon(points: Any) -> list[list[float]]:
    """A list of 3..64 [x, y] pairs within 0..1 enclosing a real area."""
    if not isinstance(points, (list, tuple)) or not MIN_POINTS <= len(points) <= MAX_POINTS:
        raise RoiError(f"a polygon needs {MIN_POINTS} to {MAX_POINTS} points")
    clean = []
    for index, point in enumerate(points):
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise RoiError(f"point {index + 1} must be a pair [x, y]")
        pair = []
        for value in point:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise RoiError(f"point {index + 1} must hold two numbers")
            if not 0.0 <= value <= 1.0:
                raise RoiError(f"point {index + 1} is outside 0..1 (coordinates are fractions of the frame)")
            pair.append(float(value))
        clean.append(pair)
    if polygon_area(clean) < MIN_AREA:
        raise RoiError("the polygon encloses (almost) no area; are its points in a line or repeated?")
    return clean


def polygon_area(points: list[list[float]]) -> float:
    """Shoelace area, as a fraction of the frame."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2.0


def parse_polygon_text(text: str) -> list[list[float]]:
    """The CLI's form: "x,y x,y x,y …"."""
    points = []
    for word in text.split():
        x, sep, y = word.partition(",")
        try:
            points.append([float(x), float(y)])
        except ValueError:
            raise RoiError(f"{word!r} is not a point x,y (e.g. 0.1,0.2)") from None
        if not sep:
            raise RoiError(f"{word!r} is not a point x,y (e.g. 0.1,0.2)")
    return validate_polygon(points)


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise RoiError(f"an ROI name must be 1 to {MAX_NAME} characters")
    return name.strip()


def validate_overrides(overrides: Any, base: Thresholds) -> dict[str, Any]:
    """Threshold overrides checked against the analysis bounds; returns them normalized."""
    if not isinstance(overrides, dict):
        raise RoiError("thresholds must be an object {name: value}")
    try:
        effective = Thresholds.from_overrides(overrides, base)
    except ValueError as exc:
        raise RoiError(str(exc)) from None
    return {name: getattr(effective, name) for name in overrides}


def parse_threshold_words(words: list[str]) -> dict[str, Any]:
    """`name=value` words; `name=` (empty) or `name=default` drops the override (None)."""
    known = {f.name: f.type for f in fields(Thresholds)}
    values: dict[str, Any] = {}
    for word in words:
        name, sep, raw = word.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep:
            raise RoiError(f"{word!r} is not name=value")
        if name not in known:
            raise RoiError(f"unknown threshold {name!r}; known: {', '.join(sorted(known))}")
        if raw in ("", "default"):
            values[name] = None
            continue
        try:
            values[name] = int(raw) if name == "min_active_frames" and raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise RoiError(f"{name} must be a number, not {raw!r}") from None
    return values


def merge_overrides(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply `changes` to `current`; a None value removes that override."""
    merged = dict(current)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


# --- the store -------------------------------------------------------------------------


class RoiStore:
    def __init__(self, db: Database, devices: DeviceRegistry):
        self.db = db
        self.devices = devices

    # global defaults

    def default_overrides(self) -> dict[str, Any]:
        stored = settings.read(self.db, THRESHOLDS_KEY)
        return load_stored_json(stored, f"settings.{THRESHOLDS_KEY}") if stored is not None else {}

    def defaults(self) -> Thresholds:
        try:
            return Thresholds.from_overrides(self.default_overrides())
        except ValueError:  # stored by an older version with other bounds
            log.exception("stored threshold defaults are invalid; using the built-in ones")
            return Thresholds()

    def thresholds_public(self) -> dict[str, Any]:
        return {"defaults": self.defaults().to_dict(), "overrides": self.default_overrides(),
                "builtin": Thresholds().to_dict(),
                "bounds": {name: list(bounds) for name, bounds in BOUNDS.items()}, "help": HELP}

    def update_defaults(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change global defaults (None resets one to the built-in value); every ROI must stay valid."""
        merged = merge_overrides(self.default_overrides(), changes)
        base = Thresholds()
        clean = validate_overrides(merged, base)
        new_defaults = Thresholds.from_overrides(clean)
        old_defaults = self.defaults()
        with self.db.write() as conn:
            restarted = []
            for roi in self.db.query("SELECT * FROM rois ORDER BY id"):
                overrides = _stored(roi, "thresholds")  # damaged: not the request's fault, so outside the try
                try:
                    effective = Thresholds.from_overrides(overrides, new_defaults)
                except ValueError as exc:
                    raise RoiError(f"ROI {roi['name']!r} of {roi['device_id']} would become invalid: {exc}") from None
                if effective != self._effective(overrides, old_defaults):
                    restarted.append(roi["id"])
            settings.put(conn, THRESHOLDS_KEY, clean)
            for roi_id in restarted:  # their analysis restarts with the new thresholds
                set_restless(conn, roi_id, None)
        return self.thresholds_public()

    # reads

    def list(self, device_id: str) -> list[Row]:
        self.devices.get(device_id)
        return self.db.query("SELECT * FROM rois WHERE device_id = ? ORDER BY id", (device_id,))

    def get(self, device_id: str, roi_id: int) -> Row:
        row = self.db.query_one("SELECT * FROM rois WHERE device_id = ? AND id = ?", (device_id, roi_id))
        if row is None:
            self.devices.get(device_id)
            raise RoiNotFound(f"device {device_id} has no ROI {roi_id}; `storewatch roi list {device_id}`")
        return row

    def find(self, device_id: str, id_or_name: str) -> Row:
        """By id (digits) or by name, as the CLI takes it."""
        row = self.db.query_one("SELECT * FROM rois WHERE device_id = ? AND name = ?", (device_id, id_or_name))
        if row is None and id_or_name.isdigit():
            return self.get(device_id, int(id_or_name))
        if row is None:
            self.devices.get(device_id)
            raise RoiNotFound(f"device {device_id} has no ROI {id_or_name!r}; `storewatch roi list {device_id}`")
        return row

    def public(self, row: Row, defaults: Thresholds | None = None) -> dict[str, Any]:
        overrides = _stored(row, "thresholds")
        return {"id": row["id"], "device_id": row["device_id"], "name": row["name"],
                "polygon": _stored(row, "polygon"), "enabled": bool(row["enabled"]),
                "thresholds": overrides,
                "effective_thresholds": self._effective(overrides, defaults or self.defaults()).to_dict(),
                "restless_since": row["restless_since"],
                "created_at": row["created_at"], "updated_at": row["updated_at"]}

    def restless(self, device_id: str) -> list[dict[str, Any]]:
        """The device's restless ROIs: since when, and how long it must be calm to watch again."""
        rows = self.db.query("SELECT id, name, restless_since FROM rois WHERE device_id = ? AND enabled = 1"
                             " AND restless_since IS NOT NULL ORDER BY id", (device_id,))
        return [{"roi_id": row["id"], "name": row["name"], "since": row["restless_since"],
                 "calm_seconds": RESTLESS_CALM_SECONDS} for row in rows]

    def specs(self, device_id: str) -> tuple[list[RoiSpec], Thresholds]:
        """The enabled ROIs as the analysis takes them, and the device-wide thresholds."""
        defaults = self.defaults()
        rows = self.db.query("SELECT id, polygon, thresholds FROM rois WHERE device_id = ? AND enabled = 1"
                             " ORDER BY id", (device_id,))
        specs = [RoiSpec(row["id"], tuple(tuple(p) for p in _stored(row, "polygon")),
                         self._effective(_stored(row, "thresholds"), defaults)) for row in rows]
        return specs, defaults

    def _effective(self, overrides: dict[str, Any], defaults: Thresholds) -> Thresholds:
        try:
            return Thresholds.from_overrides(overrides, defaults)
        except ValueError:
            log.warning("ROI threshold overrides %s no longer fit the defaults; using the defaults", overrides)
            return defaults

    # changes

    def add(self, device_id: str, name: Any, polygon: Any, enabled: bool = True,
            thresholds: dict[str, Any] | None = None) -> Row:
        name, points = validate_name(name), validate_polygon(polygon)
        overrides = validate_overrides(thresholds or {}, self.defaults())
        now = _now()
        with self.db.write() as conn:
            self.devices.get(device_id)
            self._check_free_name(device_id, name)
            conn.execute("INSERT INTO rois (device_id, name, polygon, enabled, thresholds, created_at, updated_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (device_id, name, json.dumps(points), int(bool(enabled)), json.dumps(overrides), now, now))
            roi_id = conn.last_insert_rowid()
            self.devices.bump_config_version(device_id)
        return self.get(device_id, roi_id)

    def update(self, device_id: str, roi_id: int, *, name: Any = None, polygon: Any = None,
               enabled: bool | None = None, thresholds: dict[str, Any] | None = None) -> Row:
        """Change some fields; `thresholds` merges into the overrides (None values remove one)."""
        with self.db.write() as conn:
            row = self.get(device_id, roi_id)
            values = {"name": row["name"], "polygon": row["polygon"], "enabled": row["enabled"],
                      "thresholds": row["thresholds"]}
            if name is not None:
                values["name"] = validate_name(name)
                if values["name"] != row["name"]:
                    self._check_free_name(device_id, values["name"])
            if polygon is not None:
                values["polygon"] = json.dumps(validate_polygon(polygon))
            if enabled is not None:
                if not isinstance(enabled, bool):
                    raise RoiError("enabled must be true or false")
                values["enabled"] = int(enabled)
            if thresholds is not None:
                if not isinstance(thresholds, dict):
                    raise RoiError("thresholds must be an object {name: value or null}")
                merged = merge_overrides(_stored(row, "thresholds"), thresholds)
                values["thresholds"] = json.dumps(validate_overrides(merged, self.defaults()))
            if all(values[k] == row[k] for k in values):
                return row
            conn.execute("UPDATE rois SET name = ?, polygon = ?, enabled = ?, thresholds = ?, updated_at = ?"
                         " WHERE id = ?", (values["name"], values["polygon"], values["enabled"],
                                           values["thresholds"], _now(), roi_id))
            if self._restarts(row, values):
                set_restless(conn, roi_id, None)
            self.devices.bump_config_version(device_id)
        return self.get(device_id, roi_id)

    def remove(self, device_id: str, roi_id: int) -> None:
        with self.db.write() as conn:
            self.get(device_id, roi_id)
            conn.execute("DELETE FROM rois WHERE id = ?", (roi_id,))
            self.devices.bump_config_version(device_id)

    def _restarts(self, row: Row, values: dict[str, Any]) -> bool:
        """Does this change restart the ROI's analysis? A new polygon or effective thresholds do
        (analysis/device_analyzer.py `update_rois`), and so does leaving it out (disabled); a
        new name does not."""
        if values["polygon"] != row["polygon"] or values["enabled"] != row["enabled"]:
            return True
        defaults = self.defaults()
        return (self._effective(json.loads(values["thresholds"]), defaults)
                != self._effective(_stored(row, "thresholds"), defaults))

    def _check_free_name(self, device_id: str, name: str) -> None:
        if self.db.query_one("SELECT 1 FROM rois WHERE device_id = ? AND name = ?", (device_id, name)):
            raise RoiNameTaken(f"device {device_id} already has an ROI named {name!r}")


# --- the restless mark, written by the worker in the frame's transaction ----------------------


def set_restless(conn: apsw.Connection, roi_id: int, since_epoch: float | None) -> None:
    """Mark the ROI busy without a break since `since_epoch` (capture time); None: it watches again."""
    since = None if since_epoch is None else epoch_to_ts(since_epoch)
    conn.execute("UPDATE rois SET restless_since = ? WHERE id = ?", (since, roi_id))


def keep_restless(conn: apsw.Connection, device_id: str, roi_ids: Collection[int]) -> None:
    """Clear the mark of the device's ROIs not in `roi_ids`, the ones its analysis holds restless
    now: a restart (a new frame size, a checkpoint lost) ends restlessness without a calm."""
    marks = ", ".join("?" * len(roi_ids))
    conn.execute("UPDATE rois SET restless_since = NULL WHERE device_id = ? AND restless_since IS NOT NULL"
                 + (f" AND id NOT IN ({marks})" if roi_ids else ""), (device_id, *roi_ids))


def _stored(row: Row, column: str) -> Any:
    """An ROI's JSON column as stored; a damaged one is CorruptStoredValue, not bad input."""
    return load_stored_json(row[column], f"rois.{column}", f"ROI {row['id']}")


def _now() -> str:
    return contract.format_timestamp(contract.utc_now())
