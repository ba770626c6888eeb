"""The appliance's state on disk, opened once per process and shared by every part.

`Appliance` is the facade every part goes through: its stores (devices, captures, rois,
events, scores, jobs, admins, counters), its settings and the system's enqueue are wired
here once; nobody builds a store of their own at a call site.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from storewatch.credentials import load_or_create_key
from storewatch.errors import load_stored_json
from storewatch.jobs.queue import JobQueue
from storewatch.settings import APPLIANCE_SETTINGS, validate_values
from storewatch.store import Database, settings as settings_table
from storewatch.store.admins import Admins
from storewatch.store.captures import CaptureStore, Enqueue
from storewatch.store.counters import Counters
from storewatch.store.devices import DeviceRegistry
from storewatch.store.events import EventStore
from storewatch.store.images import ImageStore
from storewatch.store.rois import RoiStore
from storewatch.store.scores import ScoreStore

DATABASE_FILE = "storewatch.db"
HUEY_FILE = "huey.db"  # Huey's own file: stdlib sqlite3 must never open the app database
KEY_FILE = "appliance.key"


class ApplianceSettings:
    """Appliance-wide settings from the `settings` table over the registry's defaults.

    Ingest reads several settings per frame, so they are cached briefly: a change made
    in this process applies at once, one made by another (the CLI) within CACHE_SECONDS.
    """

    CACHE_SECONDS = 2.0

    def __init__(self, db: Database):
        self.db = db
        self._cache: tuple[float, dict[str, Any]] = (float("-inf"), {})

    def get(self, name: str) -> Any:
        loaded_at, stored = self._cache
        if time.monotonic() - loaded_at > self.CACHE_SECONDS:
            stored = settings_table.read_all(self.db)
            self._cache = (time.monotonic(), stored)
        if name not in stored:
            return APPLIANCE_SETTINGS[name].default
        return load_stored_json(stored[name], f"settings.{name}")

    def all(self) -> dict[str, Any]:
        return {name: self.get(name) for name in APPLIANCE_SETTINGS}

    def update(self, values: dict[str, Any]) -> dict[str, Any]:
        clean = validate_values(values, APPLIANCE_SETTINGS)
        with self.db.write() as conn:
            for name, value in clean.items():
                settings_table.put(conn, name, value)
        self._cache = (float("-inf"), {})
        return self.all()


class Appliance:
    """One appliance's data directory: its database, key, pictures, stores and settings.

    `enqueue` is the system's enqueue (new and retried jobs to the worker's queue): the
    process that runs a broker connects it once (`appliance.enqueue.connect(...)`), and
    every other part only calls it.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.data_dir / DATABASE_FILE)
        self.key = load_or_create_key(self.data_dir / KEY_FILE)
        self.images = ImageStore(self.data_dir)
        self.settings = ApplianceSettings(self.db)
        self.enqueue = Enqueue()
        self.devices = DeviceRegistry(self.db, self.key)
        self.captures = CaptureStore(self.db, self.images, self.enqueue, nonces=self.devices.nonces)
        self.rois = RoiStore(self.db, self.devices)
        self.events = EventStore(self.db, self.images)
        self.scores = ScoreStore(self.db)
        self.jobs = JobQueue(self.db, lambda: self.settings.get("job_max_attempts"))
        self.admins = Admins(self.db)
        self.counters = Counters(self.db)

    @property
    def huey_path(self) -> Path:
        return self.data_dir / HUEY_FILE

    def close(self) -> None:
        self.counters.flush()
        self.db.close()
