"""The admin panel's what-if replays, run one at a time beside the live appliance.

A replay (or a suggestion search) runs in a process of its own (spawned, so it shares no
interpreter lock with the server and the worker, and its memory goes back when it ends) at
a lower OS priority than the live analysis (replay/priority.py: nice +10), while a thread of
the server follows it: its progress through shared counters, its answer through a pipe.
Only the last run's answer is kept (the engine thins its score series); a cancel stops the
engine within a few frames. A second start while one runs is ReplayBusy (409).

(On a thread of the server's process instead, a nice-10 thread holding the interpreter lock
while the kernel left it waiting behind busier tasks stalled the live threads: in
scripts/bench-replay-panel under load the upload round trip went from p50 26 ms to 46 ms.)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from storewatch import replay as engine
from storewatch.appliance import Appliance
from storewatch.errors import DomainError, ReplayBusy, ReplayNotFound
from storewatch.replay.priority import REPLAY_NICE, lower_priority
from storewatch.store.events import epoch_to_ts

log = logging.getLogger("storewatch.replay")

KINDS = ("replay", "suggest")
RUNNING, DONE, CANCELLED, FAILED = "running", "done", "cancelled", "failed"


@dataclass(frozen=True)
class ReplayRequest:
    """What to re-run: checked by the route (server/admin_replay.py) before it starts."""

    kind: str
    device_id: str
    since: float
    until: float
    overrides: dict[str, float]
    roi_id: int | None


@dataclass
class ReplayRun:
    request: ReplayRequest
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    state: str = RUNNING
    frames_done: int = 0
    frames_total: int | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    pid: int | None = None  # the process it runs in
    nice: int | None = None  # that process's scheduling nice, as the OS has it
    cancel: threading.Event = field(default_factory=threading.Event)

    def public(self) -> dict[str, Any]:
        req = self.request
        shown: dict[str, Any] = {
            "id": self.id, "kind": req.kind, "device_id": req.device_id,
            "since": epoch_to_ts(req.since), "until": epoch_to_ts(req.until),
            "overrides": req.overrides, "roi_id": req.roi_id, "state": self.state,
            "frames_done": self.frames_done, "frames_total": self.frames_total,
            "cancel_requested": self.cancel.is_set(), "nice": self.nice,
            "started_at": epoch_to_ts(self.started_at),
            "finished_at": epoch_to_ts(self.finished_at) if self.finished_at else None,
            "error": self.error,
        }
        if self.state == DONE:
            shown["report" if req.kind == "replay" else "suggestion"] = self.result
        return shown


class ReplayRunner:
    """At most one run at a time; the last one (and only it) is kept for reading."""

    def __init__(self, appliance: Appliance, nice: int = REPLAY_NICE):
        self.appliance = appliance
        self.nice = nice
        self._lock = threading.Lock()
        self._last: ReplayRun | None = None
        self._thread: threading.Thread | None = None

    @property
    def last(self) -> ReplayRun | None:
        return self._last

    def check_free(self) -> None:
        """ReplayBusy while one runs: one runs at a time."""
        busy = self._last
        if busy is not None and busy.state == RUNNING:
            raise ReplayBusy(self._busy_words(busy))

    def start(self, request: ReplayRequest) -> ReplayRun:
        with self._lock:
            self.check_free()
            run = ReplayRun(request)
            self._last = run  # the report before it is let go: memory holds one
            self._thread = threading.Thread(target=self._run, args=(run,), name=f"replay-{run.id}", daemon=True)
            self._thread.start()
        return run

    def get(self, replay_id: str) -> ReplayRun:
        run = self._last
        if run is None or run.id != replay_id:
            raise ReplayNotFound(f"no replay {replay_id!r}: only the last replay is kept, and "
                                 f"{'there is none yet' if run is None else f'that is {run.id}'}")
        return run

    def cancel(self, replay_id: str) -> ReplayRun:
        run = self.get(replay_id)
        if run.state == RUNNING:
            run.cancel.set()
        return run

    def stop(self, timeout: float = 5.0) -> None:
        """At shutdown: cancel a running replay and give it `timeout` s to stop."""
        run, thread = self._last, self._thread
        if run is not None and run.state == RUNNING:
            run.cancel.set()
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def _busy_words(run: ReplayRun) -> str:
        done = (f"{run.frames_done} of {run.frames_total} frames" if run.frames_total
                else "starting")
        return (f"a {run.request.kind} of {run.request.device_id} is already running ({done}, id {run.id}); "
                "wait for it or cancel it first: one runs at a time")

    def _run(self, run: ReplayRun) -> None:
        """Follow the run's process: its counters, a cancel passed on, its one answer."""
        context = multiprocessing.get_context("spawn")
        counts = context.Array("q", [0, -1])
        cancel = context.Event()
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(self.appliance.data_dir, run.request, self.nice, counts,
                                                        cancel, send), name=f"replay-{run.id}", daemon=True)
        answer: tuple[str, Any] | None = None
        try:
            process.start()
            send.close()  # the child's end: EOF here once it has gone
            _lower(process.pid, self.nice)  # from here on; the child lowers itself too, as it starts
            run.pid, run.nice = process.pid, _nice_of(process.pid)
            answer = self._follow(run, process, counts, cancel, receive)
        except Exception:  # the loop boundary of this thread: the run says that it stopped
            log.exception("%s %s of %s failed", run.request.kind, run.id, run.request.device_id)
        finally:
            receive.close()
            if process.is_alive():
                process.terminate()
            process.join(5)
        state, value = answer or (FAILED, _UNEXPECTED)
        run.result = value if state == DONE else None
        run.error = value if state == FAILED else None
        run.finished_at = time.time()
        run.state = state  # last: a reader that sees it ended sees all of it

    @staticmethod
    def _follow(run: ReplayRun, process: Any, counts: Any, cancel: Any,
                receive: Connection) -> tuple[str, Any] | None:
        while True:
            if run.cancel.is_set():
                cancel.set()
            ready = receive.poll(0.1)
            run.frames_done, total = counts[0], counts[1]  # after the poll: the last ones come with the answer
            run.frames_total = total if total >= 0 else None
            if ready:
                try:
                    return receive.recv()
                except EOFError:  # it died without a word (killed, out of memory)
                    log.error("replay %s: its process ended (exit code %s) without an answer", run.id,
                              process.exitcode)
                    return None


_UNEXPECTED = "The replay stopped on an unexpected error; see the appliance's log (journalctl -u storewatch)."


def _lower(pid: int, nice: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), nice))
    except OSError as exc:  # gone already, or not allowed: it lowers itself as well
        log.warning("could not lower the replay process's priority: %s", exc)


def _nice_of(pid: int) -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)
    except OSError:
        return None


def _own_group(nice: int) -> None:
    """Where the kernel groups tasks by session (sched_autogroup), a nice counts only inside
    its group, and a busy replay would make the server's whole group wait behind other
    sessions: the replay takes a session of its own, and that group the same nice."""
    try:
        os.setsid()
        Path("/proc/self/autogroup").write_text(f"{nice}\n")
    except OSError:  # no autogroups here (or not Linux): the nice alone does it
        pass


def _child(data_dir: Path, req: ReplayRequest, nice: int, counts: Any, cancel: Any, send: Connection) -> None:
    """In the replay's own process: the engine over the kept frames, its answer sent once."""
    _own_group(nice)
    lower_priority(nice)
    appliance = Appliance(data_dir)

    def progress(done: int, total: int) -> None:
        counts[0], counts[1] = done, total

    run_engine = engine.replay if req.kind == "replay" else engine.suggest
    args: dict[str, Any] = {"roi_id": req.roi_id, "progress": progress, "cancelled": cancel.is_set}
    if req.kind == "replay":
        args["overrides"] = req.overrides
    try:
        answer: tuple[str, Any] = (DONE, run_engine(appliance, req.device_id, req.since, req.until, **args).to_json())
    except engine.ReplayCancelled:
        answer = (CANCELLED, None)
    except DomainError as exc:  # e.g. the device was removed meanwhile: its words
        answer = (FAILED, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    except Exception:  # the loop boundary of this process
        logging.getLogger("storewatch.replay").exception("%s of %s failed", req.kind, req.device_id)
        answer = (FAILED, _UNEXPECTED)
    finally:
        appliance.close()
    send.send(answer)
    send.close()
