"""seq: strictly increasing across restarts and SIGKILLs, one disk write per block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storewatch.camera.seq import SEQ_FILE, SeqAllocator

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys
from pathlib import Path
from storewatch.camera.seq import SeqAllocator
seqs = SeqAllocator(Path(sys.argv[1]), block=int(sys.argv[2]))
while True:
    print(seqs.next(), flush=True)
"""


def test_first_start_counts_from_the_given_initial_value(tmp_path):
    seqs = SeqAllocator(tmp_path, block=10, initial=0)
    assert [seqs.next() for _ in range(3)] == [0, 1, 2]
    assert seqs.last_issued == 2
    assert (tmp_path / SEQ_FILE).read_text() == "10\n"


def test_first_start_without_state_starts_at_the_clock_in_ms(tmp_path):
    before = int(time.time() * 1000)
    first = SeqAllocator(tmp_path).next()
    assert before <= first <= int(time.time() * 1000)


def test_restart_continues_after_the_reserved_mark(tmp_path):
    seqs = SeqAllocator(tmp_path, block=10, initial=0)
    issued = [seqs.next() for _ in range(25)]
    assert issued == list(range(25))
    assert SeqAllocator(tmp_path, block=10).next() == 30


def test_disk_is_written_once_per_block_not_per_frame(tmp_path, monkeypatch):
    from storewatch.camera import seq as seq_module

    writes = []
    real = seq_module.atomic_write
    monkeypatch.setattr(seq_module, "atomic_write", lambda path, data: (writes.append(data), real(path, data)))
    seqs = SeqAllocator(tmp_path, block=100, initial=0)
    for _ in range(250):
        seqs.next()
    assert writes == [b"100\n", b"200\n", b"300\n"]


def test_a_damaged_state_file_falls_back_to_the_clock(tmp_path):
    (tmp_path / SEQ_FILE).write_text("")
    assert SeqAllocator(tmp_path).next() >= int(time.time() * 1000) - 1000


def test_no_temp_file_is_left_behind(tmp_path):
    SeqAllocator(tmp_path, block=2, initial=0).next()
    assert sorted(p.name for p in tmp_path.iterdir()) == [SEQ_FILE]


@pytest.mark.timeout(60)
def test_seq_never_repeats_or_goes_back_across_sigkills(tmp_path):
    seen: list[int] = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for run in range(6):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), "50"],
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout is not None
        wanted = 30 + run * 37  # kill at different points inside and across blocks
        lines = [child.stdout.readline() for _ in range(wanted)]
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        seen.extend(int(line) for line in lines)
    assert all(after > before for before, after in zip(seen, seen[1:]))
    assert len(seen) == len(set(seen)) == sum(30 + run * 37 for run in range(6))


# --- resuming from the appliance's last_seq (issue 12 A7) ---------------------------------------


def test_a_fresh_counter_resumes_above_the_appliances_last_seq_and_keeps_it(tmp_path):
    seqs = SeqAllocator(tmp_path, block=10, initial=0)
    assert seqs.fresh
    assert seqs.resume_after(41) is True
    assert seqs.next() == 42
    assert SeqAllocator(tmp_path, block=10).next() > 42  # the move is on disk: never issued again


def test_resume_never_moves_the_counter_back(tmp_path):
    seqs = SeqAllocator(tmp_path, block=10, initial=100)
    assert seqs.resume_after(5) is False and seqs.resume_after(99) is False
    assert seqs.next() == 100
    assert not SeqAllocator(tmp_path, block=10).fresh
