"""Verdicts in the event store: old events read with one, new ones keep theirs, the filter."""

from __future__ import annotations

import json
from pathlib import Path

import apsw
import pytest
from click.testing import CliRunner

from storewatch.appliance import DATABASE_FILE, Appliance
from storewatch.cli import main
from storewatch.store.events import TouchedRoi, Visit
from support.schema import database_at

VERDICT_MIGRATION = 7  # the migration that added events.verdict


def old_database(data_dir: Path) -> None:
    """A file as storewatch left it before verdicts, with an event of each decision and a lighting change."""
    conn = database_at(data_dir / DATABASE_FILE, VERDICT_MIGRATION - 1)
    with conn:
        conn.execute("INSERT INTO devices (id, name, token_hash, token_salt, created_at)"
                     " VALUES ('cam', 'Cam', 'h', 's', '2026-01-01T00:00:00.000Z')")
        for n, decision in enumerate(("changed", "unchanged", "unknown")):
            conn.execute("INSERT INTO events (device_id, roi_name, type, start_ts, decision, start_capture_id,"
                         " created_at) VALUES ('cam', 'top shelf', 'interaction_detected', ?, ?, ?, 'x')",
                         (f"2026-01-01T00:00:0{n}.000Z", decision, n))
        conn.execute("INSERT INTO events (device_id, type, start_ts, start_capture_id, created_at)"
                     " VALUES ('cam', 'lighting_change', '2026-01-01T00:00:09.000Z', 9, 'x')")
    conn.close()


def interaction(roi_id: int, seq: int, verdict: str) -> Visit:
    decision = "changed" if verdict in ("taken", "placed") else "unchanged"
    roi = TouchedRoi(roi_id, 1000.0 + seq, 1002.0 + seq, 0.3, decision, 0.1, [0.1, 0.2, 0.3, 0.4], verdict)
    return Visit("cam", 1000.0 + seq, 1002.0 + seq, seq, (roi,))


def test_old_events_read_with_their_decision_mapped_to_a_verdict(data_dir: Path) -> None:
    old_database(data_dir)
    opened = Appliance(data_dir)
    try:
        store = opened.events
        shown = {e["decision"]: e["verdict"] for e in store.public_many(store.list())}
        assert shown == {"changed": "taken", "unchanged": "unchanged", "unknown": None}
        [lighting] = store.public_many(store.list(event_type="lighting_change"))
        assert lighting["verdict"] is None
        assert [e["decision"] for e in store.public_many(store.list(verdict="taken"))] == ["changed"]
    finally:
        opened.close()


def test_the_database_refuses_a_verdict_that_is_not_one_of_the_four(data_dir: Path) -> None:
    opened = Appliance(data_dir)
    try:
        roi_id = add_roi(opened)
        store = opened.events
        with pytest.raises(apsw.ConstraintError):
            store.record_visit(interaction(roi_id, 1, "stolen"), [])
        assert store.list() == []
    finally:
        opened.close()


def add_roi(opened: Appliance) -> int:
    opened.devices.add("Cam", "cam")
    roi = opened.rois.add("cam", "top shelf", [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])
    return roi["id"]


@pytest.fixture
def four_events(data_dir: Path) -> Path:
    opened = Appliance(data_dir)
    try:
        roi_id = add_roi(opened)
        store = opened.events
        for seq, verdict in enumerate(("taken", "placed", "moved", "unchanged")):
            store.record_visit(interaction(roi_id, seq, verdict), [])
        again = interaction(roi_id, 2, "moved")  # the same interaction analysed again keeps one row
        store.record_visit(again, [])
    finally:
        opened.close()
    return data_dir


@pytest.mark.parametrize("verdict, decision", [("taken", "changed"), ("placed", "changed"),
                                               ("moved", "unchanged"), ("unchanged", "unchanged")])
def test_cli_events_list_filters_by_verdict(four_events: Path, verdict: str, decision: str) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(four_events), "events", "list", "--verdict", verdict,
                                       "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [event] = json.loads(result.output)
    assert (event["verdict"], event["decision"]) == (verdict, decision)


def test_cli_events_table_says_the_verdict(four_events: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(four_events), "events", "list"], catch_exceptions=False)
    assert result.exit_code == 0 and "VERDICT" in result.output
    assert [line.split()[-1] for line in result.output.splitlines()[1:]] == ["unchanged", "moved", "placed", "taken"]
