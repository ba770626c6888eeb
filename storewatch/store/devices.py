"""Devices: registration, tokens, capture settings, capture mode and the config they fetch."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from storewatch import contract
from storewatch.credentials import derive_device_token, new_salt, token_hash
from storewatch.store import Database, Row
from storewatch.errors import DeviceIdTaken, DeviceInvalid, DeviceNotFound, load_stored_json
from storewatch.store.nonces import SeenNonces
from storewatch.settings import DEVICE_SETTINGS, validate_values

# last_config_fetch is this coarse: a camera polls every 10 s, and recording each poll was a
# commit (an SD card flush) three times per baseline frame.
CONFIG_FETCH_RECORD_S = 60.0


class DeviceRegistry:
    def __init__(self, db: Database, key: bytes):
        self.db = db
        self.key = key
        self.nonces = SeenNonces(db)  # HMAC replay memory; saved with each request's own writes

    # --- registration and tokens ---------------------------------------------------------

    def add(self, name: str, device_id: str | None = None, auth_scheme: str = "bearer") -> tuple[str, str]:
        """Register a device; returns (device_id, token). The token is shown only now."""
        if auth_scheme not in ("bearer", "hmac"):
            raise DeviceInvalid("auth scheme must be bearer or hmac")
        name = name.strip()
        if not name or len(name) > 200:
            raise DeviceInvalid("a device name must be 1 to 200 characters")
        with self.db.write() as conn:
            device_id = device_id or self._free_id(_slug(name))
            if not contract.valid_device_id(device_id):
                raise DeviceInvalid("a device id must match [A-Za-z0-9._-]{1,64}")
            if device_id in (".", ".."):  # the id is a folder name under staging/ and events/
                raise DeviceInvalid("a device id cannot be . or ..")
            if self.db.query_one("SELECT 1 FROM devices WHERE id = ?", (device_id,)):
                raise DeviceIdTaken(f"device {device_id} already exists")
            salt = new_salt()
            token = derive_device_token(self.key, device_id, salt)
            conn.execute(
                "INSERT INTO devices (id, name, token_hash, token_salt, auth_scheme, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (device_id, name, token_hash(token), salt, auth_scheme, _now()),
            )
            conn.execute("INSERT INTO device_settings (device_id) VALUES (?)", (device_id,))
        return device_id, token

    def _free_id(self, base: str) -> str:
        candidate, n = base, 1
        while self.db.query_one("SELECT 1 FROM devices WHERE id = ?", (candidate,)):
            n += 1
            candidate = f"{base[:60]}-{n}"
        return candidate

    def rotate_token(self, device_id: str) -> str:
        self.get(device_id)
        salt = new_salt()
        token = derive_device_token(self.key, device_id, salt)
        with self.db.write() as conn:
            conn.execute("UPDATE devices SET token_hash = ?, token_salt = ? WHERE id = ?",
                         (token_hash(token), salt, device_id))
        return token

    def token_of(self, device: Row) -> str:
        """The device's current token (the HMAC key), derived, never stored."""
        return derive_device_token(self.key, device["id"], device["token_salt"])

    def by_token(self, token: str) -> Row | None:
        return self.db.query_one("SELECT * FROM devices WHERE token_hash = ?", (token_hash(token),))

    # --- reads ---------------------------------------------------------------------------

    def get(self, device_id: str) -> Row:
        row = self.db.query_one("SELECT * FROM devices WHERE id = ?", (device_id,))
        if row is None:
            raise DeviceNotFound(f"no device {device_id!r}; `storewatch device list` shows them")
        return row

    def list(self) -> list[Row]:
        return self.db.query("SELECT * FROM devices ORDER BY id")

    def public(self, device: Row) -> dict[str, Any]:
        """A device as the CLI and the admin API show it (no secrets)."""
        fields = ("id", "name", "auth_scheme", "created_at", "last_seen", "last_config_fetch",
                  "last_seq", "reported_mode", "desired_mode", "mode_until", "fw_version")
        shown = {name: device[name] for name in fields}
        shown["enabled"] = bool(device["enabled"])
        shown["config_version"] = version_string(device)
        shown["mode"] = effective_mode(device, _utcnow())
        shown["health"] = load_stored_json(device["health"], "devices.health", device["id"])
        shown["settings"] = self.settings_of(device["id"])
        return shown

    def settings_of(self, device_id: str) -> dict[str, Any]:
        row = self.db.query_one("SELECT values_json FROM device_settings WHERE device_id = ?",
                                (device_id,))
        overrides = load_stored_json(row["values_json"], "device_settings.values_json", device_id) if row else {}
        return {name: overrides.get(name, s.default) for name, s in DEVICE_SETTINGS.items()}

    # --- changes that bump config_version ------------------------------------------------

    def set_enabled(self, device_id: str, enabled: bool) -> None:
        self._update(device_id, "enabled = ?", (int(enabled),))

    def set_auth_scheme(self, device_id: str, scheme: str) -> None:
        if scheme not in ("bearer", "hmac"):
            raise DeviceInvalid("auth scheme must be bearer or hmac")
        self._update(device_id, "auth_scheme = ?", (scheme,))

    def update_settings(self, device_id: str, values: dict[str, Any]) -> dict[str, Any]:
        clean = validate_values(values, DEVICE_SETTINGS)
        merged = {**self.settings_of(device_id), **clean}
        overrides = {k: v for k, v in merged.items() if v != DEVICE_SETTINGS[k].default}
        with self.db.write() as conn:
            self.get(device_id)
            conn.execute("UPDATE device_settings SET values_json = ? WHERE device_id = ?",
                         (json.dumps(overrides), device_id))
            self.bump_config_version(device_id)
        return merged

    def bump_config_version(self, device_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE devices SET config_version = config_version + 1 WHERE id = ?",
                         (device_id,))

    def request_burst(self, device_id: str, until: datetime, now: datetime) -> bool:
        """Ask for burst until `until` (extending, never shortening); True if the mode changed.

        Only the switch bumps config_version: extending a burst must not make the device
        refetch its config at every frame. The ingest answer carries the mode anyway.
        """
        with self.db.write() as conn:
            device = self.get(device_id)
            was_burst = effective_mode(device, now) == "burst"
            current_until = _parse(device["mode_until"])
            if was_burst and (current_until is None or current_until >= until):
                return False
            conn.execute(
                "UPDATE devices SET desired_mode = 'burst', mode_until = ?,"
                " config_version = config_version + ? WHERE id = ?",
                (contract.format_timestamp(until), 0 if was_burst else 1, device_id),
            )
            return not was_burst

    def _update(self, device_id: str, assignment: str, params: tuple) -> None:
        with self.db.write() as conn:
            self.get(device_id)
            conn.execute(f"UPDATE devices SET {assignment}, config_version = config_version + 1"
                         " WHERE id = ?", (*params, device_id))

    # --- what the device sees ------------------------------------------------------------

    def current_mode(self, device_id: str, now: datetime) -> tuple[str, str, Row]:
        """(mode, config_version, device); an expired burst falls back to baseline here."""
        device = self.get(device_id)
        if device["desired_mode"] == "burst" and effective_mode(device, now) == "baseline":
            with self.db.write() as conn:
                conn.execute(
                    "UPDATE devices SET desired_mode = 'baseline', mode_until = NULL,"
                    " config_version = config_version + 1 WHERE id = ? AND desired_mode = 'burst'",
                    (device_id,),
                )
            device = self.get(device_id)
        return effective_mode(device, now), version_string(device), device

    def config(self, device_id: str, now: datetime) -> contract.DeviceConfig:
        mode, version, device = self.current_mode(device_id, now)
        values = self.settings_of(device_id)
        rois = self.db.query("SELECT id, polygon FROM rois WHERE device_id = ? AND enabled = 1"
                             " ORDER BY id", (device_id,))
        return contract.DeviceConfig(
            device_id=device_id,
            config_version=version,
            mode=mode,
            mode_until=device["mode_until"] if mode == "burst" else None,
            baseline_interval_s=values["baseline_interval_s"],
            burst_interval_s=values["burst_interval_s"],
            burst_hold_s=values["burst_hold_s"],
            jpeg_quality=values["jpeg_quality"],
            width=values["width"],
            height=values["height"],
            config_poll_interval_s=values["config_poll_interval_s"],
            heartbeat_interval_s=values["heartbeat_interval_s"],
            server_time=contract.format_timestamp(now),
            last_seq=device["last_seq"],
            motion_trigger={
                "enabled": values["motion_trigger_enabled"],
                "threshold": values["motion_threshold"],
                "rois": [{"id": r["id"], "polygon": load_stored_json(r["polygon"], "rois.polygon", f"ROI {r['id']}")}
                         for r in rois],
            },
        )

    def record_config_fetch(self, device_id: str) -> None:
        """Note the poll, at most once per CONFIG_FETCH_RECORD_S: a camera polls every 10 s, and
        each write is a flush of the SD card. A poll within it changes no row, so its
        transaction commits nothing (and writes nothing) unless nonces wait to be saved.
        The record itself commits unflushed (`record_heartbeat`)."""
        now = contract.utc_now()
        stamp = contract.format_timestamp(now)
        cutoff = contract.format_timestamp(now - timedelta(seconds=CONFIG_FETCH_RECORD_S))
        with self.nonces.transaction(flush=False) as conn:
            conn.execute("UPDATE devices SET last_config_fetch = ?, last_seen = ? WHERE id = ?"
                         " AND (last_config_fetch IS NULL OR last_config_fetch <= ?)",
                         (stamp, stamp, device_id, cutoff))

    def record_heartbeat(self, device_id: str, beat: dict[str, Any]) -> None:
        """The device's last word on its health. Commits without a flush of its own (one SD card
        flush fewer per heartbeat): other processes see it at once, and all a power cut can
        take back is the last heartbeats, which the device sends again within a minute. The
        HMAC nonces saved with it make it flush (see SeenNonces.transaction)."""
        health = {k: v for k, v in beat.items() if k != "device_id"}
        health["received_at"] = _now()
        with self.nonces.transaction(flush=False) as conn:
            conn.execute(
                "UPDATE devices SET last_seen = ?, health = ?, reported_mode = COALESCE(?, reported_mode),"
                " fw_version = COALESCE(?, fw_version) WHERE id = ?",
                (_now(), json.dumps(health), beat.get("mode"), beat.get("fw_version"), device_id),
            )


def effective_mode(device: Row, now: datetime) -> str:
    if device["desired_mode"] != "burst":
        return "baseline"
    until = _parse(device["mode_until"])
    return "burst" if until is None or until > now else "baseline"


def version_string(device: Row) -> str:
    return f"c{device['config_version']}"


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._").lower()[:64]
    return slug or "device"


def _parse(value: str | None) -> datetime | None:
    return contract.parse_timestamp(value) if value else None


def _utcnow() -> datetime:
    return contract.utc_now()


def _now() -> str:
    return contract.format_timestamp(contract.utc_now())
