"""The lease rules (storewatch/jobs/leases.py): when a running job's worker has surely let it go."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

from storewatch import contract
from storewatch.jobs import leases

NOW = contract.utc_now()
MINE = leases.new_owner()


def running(owner: str | None, lease_in_s: float | None) -> dict:
    until = None if lease_in_s is None else contract.format_timestamp(NOW + timedelta(seconds=lease_in_s))
    return {"lease_owner": owner, "lease_until": until}


def a_finished_process_owner() -> str:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    return f"{socket.gethostname()}:{int(child.stdout)}:deadbeef"


def test_a_lapsed_or_missing_lease_is_abandoned_whoever_holds_it() -> None:
    for owner in (MINE, "other-host:1:abc", None):
        assert leases.abandoned(running(owner, -1), NOW, MINE, gate_held=False)
        assert leases.abandoned(running(owner, 0), NOW, MINE, gate_held=False)
        assert leases.abandoned(running(owner, None), NOW, MINE, gate_held=False)


def test_a_live_lease_of_our_own_is_abandoned_only_when_we_hold_the_devices_gate() -> None:
    assert leases.abandoned(running(MINE, 30), NOW, MINE, gate_held=True)  # no thread of ours runs it
    assert not leases.abandoned(running(MINE, 30), NOW, MINE, gate_held=False)  # a thread may just have claimed it


def test_a_live_lease_of_another_worker_is_abandoned_only_when_that_worker_is_gone() -> None:
    here = socket.gethostname()
    assert not leases.abandoned(running("other-host:1:abc", 30), NOW, MINE, gate_held=True)  # cannot tell: wait
    assert not leases.abandoned(running(f"{here}:1:abc", 30), NOW, MINE, gate_held=True)  # pid 1 runs
    assert leases.abandoned(running(a_finished_process_owner(), 30), NOW, MINE, gate_held=False)
    assert leases.abandoned(running(f"{here}:{os.getpid()}:0ld0wner", 30), NOW, MINE, gate_held=False)
