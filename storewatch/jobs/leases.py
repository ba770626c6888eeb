"""The lease rules: who holds a running job, and when its worker has surely let it go.

A job is claimed with a lease (lease_until, lease_owner = host:pid:token of the worker).
The holder renews it while the job runs; a job whose lease lapsed, or whose holder is no
longer running, is taken back: the attempt counts as failed and the job is due at once.
Both the processor (meeting such a job at its device's head) and the reconciler (looking
over all running jobs) decide this here, and take it back here.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

from storewatch import contract
from storewatch.jobs.queue import JobQueue
from storewatch.store import Row

LAPSED = "its worker stopped mid-job (lease lapsed)"


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str | None, mine: str) -> bool:
    """True when the lease holder is surely not running: an old worker of this process,
    or a process of this host that no longer exists."""
    if not owner:
        return True
    if owner == mine:
        return True  # we hold the device gate, so no thread of ours runs it
    host, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # a stopped worker of this process (only one runs at a time)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def lapsed(job: Row, now: datetime) -> bool:
    return job["lease_until"] is None or contract.parse_timestamp(job["lease_until"]) <= now


def abandoned(job: Row, now: datetime, mine: str, gate_held: bool) -> bool:
    """True when a running job's worker has surely let it go: its lease lapsed, or its holder is gone.

    `gate_held`: the caller holds the job's device gate, so a lease of its own (`mine`) is no
    thread's any more; without the gate, a lease of ours may be a thread's that has just claimed it.
    """
    if lapsed(job, now):
        return True
    if job["lease_owner"] == mine:
        return gate_held
    return owner_is_gone(job["lease_owner"], mine)


def take_back(queue: JobQueue, job_id: int, now: datetime) -> str:
    """An abandoned job counts as a failed attempt, due at once (or dead, out of attempts)."""
    return queue.expire(job_id, now, LAPSED)
