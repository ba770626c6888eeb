"""A long replay in parts at once, stitched into exactly the serial run.

The serial run feeds every frame from its start state on. A part (a *leg*) can start at a
later kept state (an `A` record) instead, in a process of its own (`leg.py`). Where the run
before it meets it -- the same analyzer state before the same record (`Feeder.digest`,
taken every CHECKPOINT records) -- everything after is the same as well, so the stitched
run takes the earlier leg up to there and the later one from there. Without overrides they
meet at the state itself (it is the live analyzer's, which the run reproduces); an override
restarts the ROIs it changes at every leg's state, and those meet again once both runs have
settled on the same frame (the end of a visit, say): each leg runs OVERLAP frames into the
next one's to find that. Where two have not met by then, the run goes on here from the
earlier leg's end, serially, until it meets a later leg or ends: a slower answer, never a
different one.

The legs inherit the replay's priority (the nice of the thread that starts them) and hold
one frame at a time each; the parts' steps (a frame's scores, no pixels) are kept until they
are stitched.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import storewatch
from storewatch.replay import segments
from storewatch.replay.engine import CHECK_EVERY, Feeder, Fold, Position, Run, Step, _check, _Start, positioned

log = logging.getLogger("storewatch.replay")

LEG_MODULE = "storewatch.replay.leg"
MAX_LEGS = 2          # parts at once (each a process of about 50 MB)
MIN_LEG = 2 * segments.STATE_EVERY  # frames per part, at least: shorter runs stay serial
OVERLAP = segments.STATE_EVERY      # frames a leg runs into the next one's to meet it
CHECKPOINT = 20       # records between two digests of a run's state

Bound = tuple[Position, int]  # stop once this many frames past this position are fed


@dataclass
class LegResult:
    """What one part of the run fed, and where it could be met or gone on from."""

    steps: list[Step]
    digests: dict[Position, bytes]
    ended: bool                   # the run ends in it (its stop, or the last kept frame)
    saved: bytes | None = None    # the Feeder at its end (when not ended), to go on from
    next_pos: Position | None = None
    met: Position | None = None   # where it met the run it was told to look for
    bound: Bound | None = None


def default_legs() -> int:
    """One leg per idle core, at most MAX_LEGS. The legs share their replay's scheduler group
    (a nice of 10 below the live appliance's, see server/replay_runner.py), so cores that other
    work keeps busy give them no more time than one leg gets, only the legs' extra work."""
    cores = os.cpu_count() or 1
    try:
        idle = cores - os.getloadavg()[0]
    except OSError:
        idle = cores
    return max(1, min(cores, MAX_LEGS, int(idle + 0.5)))


def splits(start: _Start, until: float, legs: int) -> list[Position]:
    """Where legs 2.. start: kept states about evenly far apart in frames ([] to stay serial)."""
    if legs < 2 or start.total < 2 * MIN_LEG:
        return []
    states, count = [], 0
    for n, path in enumerate(start.files):
        for index, record in enumerate(segments.scan(path, payloads="")):
            if n == 0 and index <= start.skip:
                continue
            if record.kind == "A" and record.ts < until and MIN_LEG <= count <= start.total - MIN_LEG:
                states.append((count, (n, index)))
            count += record.kind == "F" and record.ts < until
    chosen: list[Position] = []
    for k in range(1, legs):
        later = [(abs(frames - k * start.total / legs), pos) for frames, pos in states
                 if not chosen or pos > chosen[-1]]
        if later:
            chosen.append(min(later)[1])
    return chosen


def run_leg(feeder: Feeder, records: Iterator, until: float, bound: Bound | None,
            meet: dict[Position, bytes] | None, tick: Callable[[int], None],
            seen: Callable[[Position, bytes], None] | None = None) -> LegResult:
    """Feed from `records` until the run ends, `bound` is reached, or a digest is in `meet`
    (which another leg may still be filling); `seen` is told each digest taken."""
    steps: list[Step] = []
    digests: dict[Position, bytes] = {}
    past = 0
    for pos, record, frame in records:
        if bound is not None and pos >= bound[0] and past >= bound[1]:
            return LegResult(steps, digests, False, feeder.save(), pos, bound=bound)
        if record.kind == "F" and pos[1] % CHECKPOINT == 0:
            digest = feeder.digest()
            if digest is not None:
                digests[pos] = digest
                if seen is not None:
                    seen(pos, digest)
                if meet is not None and meet.get(pos) == digest:
                    return LegResult(steps, digests, False, feeder.save(), pos, met=pos, bound=bound)
        fed = feeder.take(pos, record, frame)
        past += len(fed) if bound is not None and pos >= bound[0] else 0
        if _ended(fed, steps, until, tick):
            return LegResult(steps, digests, True, bound=bound)
    _ended(feeder.rest(), steps, until, tick)
    return LegResult(steps, digests, True, bound=bound)


def _ended(fed: list[Step], steps: list[Step], until: float, tick: Callable[[int], None]) -> bool:
    for step in fed:
        steps.append(step)
        tick(len(steps))
        if step.ends_run(until):
            return True
    return False


def run(start: _Start, starts: list[Position], feeder: Feeder, fold: Fold) -> Run:
    """The run in len(starts) + 1 legs: the first here, the others in processes; stitched."""
    bounds: list[Bound | None] = [(pos, OVERLAP) for pos in starts] + [None]
    children = [_Child(_request(start.files, pos, None, feeder, bounds[i + 1])) for i, pos in enumerate(starts)]
    try:
        tick = _Ticker(fold, children)
        current = run_leg(feeder, positioned(start.files, 0, start.skip), feeder.until, bounds[0],
                          children[0].digests, tick)
        for child, bound in zip(children, bounds[1:]):
            if current.ended:
                break
            current = _meet(current, child.wait(tick), bound, start.files, feeder, fold, tick)
        for step in current.steps:
            fold.add(step, report=False)
    finally:
        for child in children:
            child.stop()
    return fold.finish(feeder.started_ts)


def _meet(current: LegResult, later: LegResult | None, bound: Bound | None, files: list[Path], feeder: Feeder,
          fold: Fold, tick: "_Ticker") -> LegResult:
    """Fold `current` up to where it meets `later` (the leg that ends at `bound`, None if it
    failed) and go on with `later`; else go on here, through that leg's part of the run."""
    if later is not None and current.met is not None:  # met as it ran, on the digests the leg sent
        return _take_from(current, later, current.met, fold)
    if later is not None:
        shared = [pos for pos, digest in sorted(current.digests.items()) if later.digests.get(pos) == digest]
        if shared:
            return _take_from(current, later, shared[0], fold)
    for step in current.steps:
        fold.add(step, report=False)
    if current.ended:
        return current
    go_on = Feeder(feeder.since, feeder.until, feeder.overrides, feeder.roi_id, feeder.names, feeder.lost)
    go_on.resume(current.saved)
    where = current.next_pos
    records = positioned(files, where[0], _state_before(files[where[0]], where[1]), where[1], specs_before=False)
    found = run_leg(go_on, records, feeder.until, bound, later.digests if later is not None else None, tick)
    if found.met is not None:
        return _take_from(found, later, found.met, fold)
    return found


def _take_from(current: LegResult, later: LegResult, pos: Position, fold: Fold) -> LegResult:
    fold.found.parts += 1
    for step in current.steps:
        if step.pos >= pos:
            break
        fold.add(step, report=False)
    return replace(later, steps=[s for s in later.steps if s.pos >= pos])


def _state_before(path: Path, index: int) -> int:
    """The last state record at or before `index` (a difference frame is read from there)."""
    return max((i for i, r in enumerate(segments.scan(path, payloads="")) if i <= index and r.kind == "A"),
               default=0)


def _request(files: list[Path], pos: Position, saved: bytes | None, feeder: Feeder, bound: Bound | None) -> dict:
    return {"files": [str(p) for p in files], "pos": pos, "saved": saved, "bound": bound,
            "since": feeder.since, "until": feeder.until, "overrides": feeder.overrides,
            "roi_id": feeder.roi_id, "names": feeder.names, "lost": feeder.lost}


class _Ticker:
    """Progress over all legs (frames fed, overlaps included) and the looks at `cancelled`."""

    def __init__(self, fold: Fold, children: list["_Child"]):
        self.fold, self.children = fold, children
        self.here = 0

    def __call__(self, fed: int | None = None) -> None:
        if fed is not None:
            self.here += 1
            if self.here % CHECK_EVERY:
                return
        _check(self.fold.cancelled)
        if self.fold.progress is not None:
            done = self.here + sum(child.fed for child in self.children)
            self.fold.progress(min(done, self.fold.total), self.fold.total)


class _Child:
    """One leg in a process of its own: python -m storewatch.replay.leg, pickles both ways."""

    def __init__(self, request: dict[str, Any]):
        here = str(Path(storewatch.__file__).resolve().parents[1])  # this storewatch, installed or not
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen([sys.executable, "-m", LEG_MODULE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.fed = 0
        self.digests: dict[Position, bytes] = {}  # as they come: the leg before may meet it while both run
        self.result: LegResult | None = None
        self.thread = threading.Thread(target=self._read, args=(request,), daemon=True)
        self.thread.start()

    def _read(self, request: dict[str, Any]) -> None:
        try:
            pickle.dump(request, self.proc.stdin)
            self.proc.stdin.close()
            while True:
                kind, value = pickle.load(self.proc.stdout)
                if kind == "fed":
                    self.fed = value
                elif kind == "digest":
                    self.digests[value[0]] = value[1]
                elif kind == "done":
                    self.result = value
                    return
        except (EOFError, OSError, pickle.UnpicklingError):  # it failed: the run goes on without it
            return

    def wait(self, tick: _Ticker) -> LegResult | None:
        while self.thread.is_alive():
            self.thread.join(0.1)
            tick()
        if self.result is None:
            log.warning("a part of the replay ended without its answer (exit status %s); it is run here instead",
                        self.proc.wait())
        return self.result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
