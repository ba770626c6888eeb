"""scripts/bench-sdwrites keeps working: its core at a tiny size reports sane byte counts.

One camera, two small frames against a real `storewatch run`: write_bytes from /proc is at
least the JPEG bytes stored (they are written), the floor (write + fsync of the same files)
is their page-rounded size, and where the per-file trace is available (root, tracefs) it
accounts for the measured write_bytes and finds the frames in staging/. No timings.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from support.scripts import load_script

pytestmark = pytest.mark.slow  # runs a benchmark script end to end: scripts/test --fast leaves it out

PAGE = 4096


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench-sdwrites")


@pytest.fixture(scope="module")
def tiny_run(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return bench.measure(tmp_path_factory.mktemp("sdwrites"), devices=1, frames=2, interval_s=1.0, reaches=0,
                         idle_s=1.0, size=(160, 120), log=lambda line: None)


@pytest.mark.timeout(120)
def test_the_steady_phase_counts_the_frames_and_at_least_their_bytes(tiny_run: dict) -> None:
    steady = tiny_run["phases"][0]
    assert steady["name"] == "steady" and steady["frames"] == 2, steady
    # Answers that were retried until they succeeded (a busy shared machine) are fine; refusals are not.
    refused = {k: v for k, v in steady["errors"].items() if str(k).isdigit() and 400 <= int(k) < 500 and int(k) != 429}
    assert refused == {}, steady["errors"]
    assert steady["jpeg_bytes"] > 0
    # The JPEGs are written, whole pages each; the floor is that much, plus on ext4 without a
    # journal (this VM) the inode, bitmap and folder blocks its fsyncs write, when nobody else
    # dirtied them first: up to ~6 pages per file.
    assert steady["write_bytes"] >= steady["jpeg_bytes"]
    assert steady["jpeg_bytes"] <= steady["floor_bytes"] <= steady["jpeg_bytes"] + 8 * PAGE * steady["frames"]
    assert steady["ratio"] == pytest.approx(steady["write_bytes"] / steady["jpeg_bytes"], abs=1e-3)
    assert tiny_run["idle_bytes_per_s"] is not None and tiny_run["idle_bytes_per_s"] >= 0


@pytest.mark.timeout(120)
def test_the_breakdown_accounts_for_write_bytes(bench: ModuleType, tiny_run: dict) -> None:
    steady = tiny_run["phases"][0]
    if not tiny_run["traced"]:
        pytest.skip("no per-file trace here (needs root and tracefs)")
    traced = steady["traced"]
    # The trace reads the same kernel counter's events: it sums to write_bytes, give or take
    # folios whose size it did not see added (counted as one page each).
    assert sum(traced.values()) == pytest.approx(steady["write_bytes"], rel=0.1)
    frames = traced["frame files (staging/)"]
    assert steady["jpeg_bytes"] <= frames <= steady["floor_bytes"] + PAGE * steady["frames"]
    assert traced.get("app DB WAL (storewatch.db-wal)", 0) > 0  # every frame commits its rows


def test_the_table_has_a_row_per_figure_and_a_column_per_phase(bench: ModuleType, tiny_run: dict) -> None:
    lines = bench.table(tiny_run)
    assert lines[0].startswith("| | steady")
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert any("write_bytes" in line for line in lines)


def test_dirtied_folios_are_summed_per_inode_and_phase_with_their_sizes(bench: ModuleType) -> None:
    trace = "\n".join([
        " python-1 [000] ..... 1.0: mm_filemap_add_to_page_cache: dev 254:0 ino 10 pfn=0x1 ofs=0 order=2",
        " python-1 [000] d..1. 1.1: writeback_dirty_folio: bdi 254:0: ino=16 index=0",  # before any phase
        " python-1 [000] ..... 1.2: tracing_mark_write: phase steady start",
        " python-1 [000] d..1. 1.3: writeback_dirty_folio: bdi 254:0: ino=16 index=0",  # 4 pages (order 2)
        " python-1 [000] d..1. 1.4: writeback_dirty_folio: bdi 254:0: ino=16 index=9",  # unseen: 1 page
        " python-1 [000] d..1. 1.5: writeback_dirty_folio: bdi 254:0: ino=17 index=0",
        " python-1 [000] ..... 1.6: tracing_mark_write: phase steady end",
        " python-1 [000] d..1. 1.7: writeback_dirty_folio: bdi 254:0: ino=17 index=0",  # after it
    ])
    per_phase, unsized = bench.dirtied_per_inode(trace)
    assert per_phase == {"steady": {16: 5 * bench.PAGE, 17: bench.PAGE}}
    assert unsized == {"steady": 2}
    kinds = bench.breakdown(per_phase["steady"], {16: "/x/data/storewatch.db-wal"}, metadata_inode=17)
    assert kinds == {"app DB WAL (storewatch.db-wal)": 5 * bench.PAGE, bench.METADATA: bench.PAGE}


def test_the_filesystem_of_the_data_directory_is_named(bench: ModuleType, tmp_path: Path) -> None:
    found = bench.filesystem(tmp_path)
    assert found["type"] != "?" and found["device"], found
    assert found["type"] in bench.describe_filesystem(found)
    if found["type"] == "ext4":  # /sys/fs/ext4 tells whether jbd2 writes the metadata
        assert found["journal"] in (True, False)


def test_a_filesystem_of_the_runs_own_gets_a_row_of_its_device_writes(bench: ModuleType, tiny_run: dict) -> None:
    assert all(p["device_bytes"] is None for p in tiny_run["phases"])  # a shared filesystem: not measured
    assert not any("device writes" in line for line in bench.table(tiny_run))
    measured = {**tiny_run, "phases": [{**p, "device_bytes": 2 * p["jpeg_bytes"]} for p in tiny_run["phases"]]}
    rows = [line for line in bench.table(measured) if "device writes" in line]
    assert len(rows) == 1 and "(2.00x)" in rows[0]
