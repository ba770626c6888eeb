"""HMAC nonces: one use each inside the window, also across a restart, saved with the request's writes."""

from __future__ import annotations

import time

import pytest

from storewatch.appliance import Appliance
from storewatch.store import Database
from storewatch.store.nonces import SeenNonces, TooManyNonces



@pytest.fixture
def now() -> float:
    """The real time at the test's start: pruning goes by the real clock, so a time taken at
    import would be out of the window by the time a long suite reaches these tests."""
    return time.time()


def saved(db: Database) -> set[tuple[str, str]]:
    return {(row["device_id"], row["nonce"]) for row in db.query("SELECT device_id, nonce FROM hmac_nonces")}


def test_a_nonce_is_good_once_per_device(appliance: Appliance, now: float) -> None:
    nonces = SeenNonces(appliance.db)
    assert not nonces.seen("cam-1", "n" * 16, now)
    assert nonces.remember("cam-1", "n" * 16, now)
    assert nonces.seen("cam-1", "n" * 16, now + 1)
    assert not nonces.remember("cam-1", "n" * 16, now + 1)
    assert nonces.remember("cam-2", "n" * 16, now + 1)  # another device's nonce space


def test_nonces_are_saved_by_the_next_write_and_known_after_a_restart(appliance: Appliance, now: float) -> None:
    nonces = SeenNonces(appliance.db)
    nonces.remember("cam-1", "a" * 16, now)
    assert saved(appliance.db) == set()  # no write of its own
    with nonces.transaction() as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('x', '1')")
    assert saved(appliance.db) == {("cam-1", "a" * 16)}
    restarted = SeenNonces(Database(appliance.db.path))
    assert restarted.seen("cam-1", "a" * 16, now + 10)
    assert not restarted.remember("cam-1", "a" * 16, now + 10)


def test_a_rolled_back_transaction_keeps_its_nonces_for_the_next(appliance: Appliance, now: float) -> None:
    nonces = SeenNonces(appliance.db)
    nonces.remember("cam-1", "b" * 16, now)
    with pytest.raises(RuntimeError), nonces.transaction():
        raise RuntimeError("the request's own write failed")
    assert saved(appliance.db) == set()
    with nonces.transaction():
        pass
    assert saved(appliance.db) == {("cam-1", "b" * 16)}


def test_nonces_are_forgotten_and_pruned_once_out_of_the_window(appliance: Appliance, now: float) -> None:
    clock = [now]
    nonces = SeenNonces(appliance.db, window_s=300, clock=lambda: clock[0])
    nonces.remember("cam-1", "c" * 16, now)
    with nonces.transaction():
        pass
    later = now + 2 * 300 + 1
    assert not nonces.seen("cam-1", "c" * 16, later)
    assert not SeenNonces(appliance.db).seen("cam-1", "c" * 16, later)  # nor loaded after a restart
    clock[0] = later
    with nonces.transaction():
        pass
    assert saved(appliance.db) == set()


def test_a_full_memory_refuses_rather_than_forgets(appliance: Appliance, now: float) -> None:
    nonces = SeenNonces(appliance.db, capacity=2)
    nonces.remember("cam-1", "d" * 16, now)
    nonces.remember("cam-1", "e" * 16, now)
    with pytest.raises(TooManyNonces):
        nonces.remember("cam-1", "f" * 16, now)
    assert nonces.seen("cam-1", "d" * 16, now)


def test_an_ingest_batch_saves_the_nonces_in_its_own_transaction(appliance: Appliance, now: float) -> None:
    from support.frames import make_jpeg

    device_id, _ = appliance.devices.add("cam")
    appliance.devices.nonces.remember(device_id, "g" * 16, now)
    meta = {"device_id": device_id, "capture_ts": "2026-11-24T05:47:30.120Z", "seq": 1, "width": 64,
            "height": 48, "jpeg_quality": 85}
    appliance.captures.store(meta, make_jpeg())
    assert saved(appliance.db) == {(device_id, "g" * 16)}
