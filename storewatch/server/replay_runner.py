"""The admin panel's what-if replays, run one at a time beside the live appliance.

A replay (or a suggestion search) runs on a thread of its own at a lower OS priority than
the live analysis (replay/priority.py: nice +10 for that thread only), yields the interpreter between frames, keeps only the last run's answer in memory
(the engine thins its score series) and stops within a few frames once cancelled. A
second start while one runs is ReplayBusy (409).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
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
    native_id: int | None = None  # the OS thread
    nice: int | None = None  # its scheduling nice, as the OS has it
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
        run.nice = lower_priority(self.nice)  # CFS then gives it ~1/10 of a core the live threads want
        run.native_id = threading.get_native_id()
        req = run.request

        def progress(done: int, total: int) -> None:
            run.frames_done, run.frames_total = done, total
            time.sleep(0)  # let the live threads have the interpreter between frames

        run_engine = engine.replay if req.kind == "replay" else engine.suggest
        args: dict[str, Any] = {"roi_id": req.roi_id, "progress": progress, "cancelled": run.cancel.is_set}
        if req.kind == "replay":
            args["overrides"] = req.overrides
        result, error = None, None
        try:
            result, state = run_engine(self.appliance, req.device_id, req.since, req.until, **args).to_json(), DONE
        except engine.ReplayCancelled:
            state = CANCELLED
        except DomainError as exc:  # e.g. the device was removed meanwhile: its words
            error, state = f"{str(exc)[:1].upper()}{str(exc)[1:]}.", FAILED
        except Exception:  # the loop boundary of this thread: the run says that it stopped
            log.exception("%s %s of %s failed", req.kind, run.id, req.device_id)
            error, state = ("The replay stopped on an unexpected error; see the appliance's log "
                            "(journalctl -u storewatch)."), FAILED
        run.result, run.error, run.finished_at = result, error, time.time()
        run.state = state  # last: a reader that sees it ended sees all of it
