"""The jobs table's one definition of the job states (storewatch/store/jobs.py), held to the
CHECK of the migration that made the table (real SQLite file)."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

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


PACKAGE = Path(jobs.__file__).parents[1]
DEFINED_APART = {"store/jobs.py", "store/migrations.py"}  # the definition, and the table's CHECK (history)
SQL_STATE_LIST = re.compile(r"\bstate\s+(?:NOT\s+)?IN\s*\(([^)]*)\)", re.IGNORECASE)


def job_state_lists(tree: ast.AST) -> list[tuple[int, tuple[str, ...]]]:
    """Every literal of two or more job states: a tuple, list or set of strings, or an SQL IN list."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2:
            names = tuple(e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
            if len(names) == len(node.elts) and set(names) <= set(jobs.STATES):
                found.append((node.lineno, names))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in SQL_STATE_LIST.finditer(node.value):
                names = tuple(part.strip().strip("'\"") for part in match.group(1).split(","))
                if len(names) >= 2 and set(names) <= set(jobs.STATES):
                    found.append((node.lineno, names))
    return found


def test_the_scan_finds_a_job_state_list_in_each_spelling() -> None:
    source = ('A = ("queued", "running", "failed")\nB = ["done", "dead"]\n'
              'C = "UPDATE jobs SET enqueued_at = NULL WHERE state IN (\'queued\', \'failed\')"\n'
              'D = ("queued", "sending", "delivered", "dead")  # the outbox\'s: not job states\n')
    assert [line for line, _ in job_state_lists(ast.parse(source))] == [1, 2, 3]


def test_no_module_outside_store_jobs_spells_a_list_of_job_states() -> None:
    spelled = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in DEFINED_APART and (lists := job_state_lists(ast.parse(path.read_text()))):
            spelled[name] = lists
    assert spelled == {}, "name them through storewatch/store/jobs.py (UNFINISHED, DUE, sql_list...)"


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
