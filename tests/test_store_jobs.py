"""The jobs table's one definition of the job states (storewatch/store/jobs.py), held to the
CHECK of the migration that made the table (real SQLite file)."""

from __future__ import annotations

import io
import re

import apsw
import pytest
from PIL import Image

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.store import jobs


def test_the_states_are_the_ones_the_tables_check_allows(appliance: Appliance) -> None:
    table = appliance.db.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'")
    check = re.search(r"CHECK \(state IN \(([^)]*)\)\)", table)
    assert check is not None, table
    assert tuple(name.strip().strip("'") for name in check.group(1).split(",")) == jobs.STATES


def test_the_groups_of_states_are_made_of_states() -> None:
    for group in (jobs.UNFINISHED, jobs.DUE, jobs.FINISHED, jobs.RETRYABLE):
        assert set(group) <= set(jobs.STATES)
    assert set(jobs.UNFINISHED) | set(jobs.FINISHED) == set(jobs.STATES)
    assert not set(jobs.UNFINISHED) & set(jobs.FINISHED)


def test_sql_list_renders_states_and_refuses_anything_else() -> None:
    assert jobs.sql_list(jobs.DUE) == "('queued', 'failed')"
    for bad in ((), ("queued", "x'); DROP TABLE jobs; --"), ("sending",)):
        with pytest.raises(ValueError):
            jobs.sql_list(bad)


def a_stored_frames_job(appliance: Appliance) -> int:
    device_id = appliance.devices.add("cam", "cam")[0]
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(picture, format="JPEG", quality=85)
    meta = {"device_id": device_id, "seq": 1, "capture_ts": contract.format_timestamp(contract.utc_now()),
            "width": 64, "height": 48, "jpeg_quality": 85}
    return appliance.captures.store(meta, picture.getvalue()).job_id


def test_a_state_outside_the_definition_is_refused_by_the_table(appliance: Appliance) -> None:
    job_id = a_stored_frames_job(appliance)
    with pytest.raises(apsw.ConstraintError, match="CHECK"), appliance.db.write() as conn:
        conn.execute("UPDATE jobs SET state = 'sending' WHERE id = ?", (job_id,))
    assert appliance.jobs.get(job_id)["state"] == jobs.QUEUED
