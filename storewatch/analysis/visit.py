"""A visit to a device's view: from the first ROI that becomes active until all have settled.

Each ROI's tracker (`tracker.py`) finds its own activity and settles on its own; a visit
groups them. It starts on the frame on which any ROI becomes active (`VisitStarted`),
takes in every ROI that becomes active before it ends, and ends on the first frame on
which every touched ROI has settled, no ROI is about to start, the lighting is steady
and no arm reaches into a touched ROI (`VisitEnded`, with each touched ROI's net
decision: its Before from before the visit against that very frame). So an arm across
two shelves to a third is one visit, a take and a return in it net out, and two visits
a few quiet seconds apart stay two.

The arm test for ROIs that settled earlier runs only once every touched ROI is quiet (as
a rule, once per visit); a visit still open after the touched ROIs' max_duration_seconds
is ended anyway (`forced`), on whatever the frame shows.

An ROI busy without a break (a screen, see `tracker.RESTLESS_SECONDS`) leaves the visit as
it turns restless (`RoiRestless`) and holds no visit open while it stays so; if it calms
within its max_duration_seconds, what it had been part of ends then as a visit of its own.

Every visit that started ends: with `VisitEnded`, or -- when ROIs leave it without a verdict
(restless, a start cancelled as a lighting change's onset, removed) -- with `VisitDropped`
naming them, `over` once nothing of it is left (no event then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from storewatch.analysis.lighting import LightingStatus
from storewatch.analysis.tracker import ACTIVE, HOLD_SECONDS, RoiTracker
from storewatch.analysis.transitions import (RoiOutcome, RoiRestless, Transition, VisitDropped, VisitEnded,
                                             VisitStarted)


@dataclass
class Visit:
    """An open visit: when and where it started, and the ROIs it touched (in the order they joined)."""

    start_ts: float
    start_frame_id: int
    touched: list[int] = field(default_factory=list)


class VisitKeeper:
    """The device's open visit, advanced once per frame after every ROI's tracker."""

    def __init__(self) -> None:
        self.current: Visit | None = None

    @staticmethod
    def holds_references(trackers: Mapping[int, RoiTracker], visit: Visit | None) -> bool:
        """Should idle ROIs keep their references this frame (a visit is open or about to start)?"""
        return visit is not None or any(t.cand_count > 0 for t in trackers.values())

    def update(self, trackers: Mapping[int, RoiTracker], frame: np.ndarray, ts: float, frame_id: int,
               light: LightingStatus) -> list[Transition]:
        events = self._advance(trackers, frame, ts, frame_id, light)
        for roi_id, tracker in trackers.items():
            if tracker.turned_restless is not None:
                events.append(RoiRestless(roi_id, tracker.turned_restless, ts, frame_id))
            if tracker.calmed is not None:  # what a restless ROI had been part of, decided on its own
                outcome, start_frame_id, pre_frame_id = tracker.calmed
                events.append(VisitEnded(outcome.start_ts, start_frame_id, outcome.end_ts, ts, frame_id,
                                         pre_frame_id, frame_id, (outcome,)))
        return events

    def _advance(self, trackers: Mapping[int, RoiTracker], frame: np.ndarray, ts: float, frame_id: int,
                 light: LightingStatus) -> list[Transition]:
        events: list[Transition] = []
        engaged = [roi_id for roi_id, t in trackers.items() if t.engaged]
        visit = self.current
        if visit is None:
            if not engaged:
                return events
            first = min((trackers[r].current for r in engaged), key=lambda i: i.start_ts)
            visit = self.current = Visit(first.start_ts, first.start_frame_id, sorted(engaged))
            events.append(VisitStarted(visit.start_ts, visit.start_frame_id, tuple(visit.touched)))
        else:
            visit.touched += [r for r in engaged if r not in visit.touched]
            # An ROI cancelled as a lighting change's onset, turned restless, removed or restarted
            # leaves the visit, and says so: whoever showed it touched since the start clears it.
            left = [r for r in visit.touched if r not in trackers or not trackers[r].engaged]
            if left:
                visit.touched = [r for r in visit.touched if r not in left]
                events.append(VisitDropped(visit.start_ts, visit.start_frame_id, ts, frame_id, tuple(left),
                                           over=not visit.touched))
            if not visit.touched:
                self.current = None  # nothing of it is left to decide: no event
                return events
        touched = [trackers[r] for r in visit.touched]
        if ts - visit.start_ts >= min(t.thr.max_duration_seconds for t in touched):
            events.append(self._end(visit, touched, frame, ts, frame_id, forced=True))
        elif self._over(trackers, touched, frame, ts, light):
            events.append(self._end(visit, touched, frame, ts, frame_id, forced=False))
        return events

    def _over(self, trackers: Mapping[int, RoiTracker], touched: list[RoiTracker], frame: np.ndarray, ts: float,
              light: LightingStatus) -> bool:
        """All touched ROIs settled, none about to start, steady light, and nobody reaching in."""
        if light.lighting or any(t.state == ACTIVE or t.cand_count > 0 for t in trackers.values()):
            return False
        settled = [t.current.settled_ts for t in touched]
        if ts - max(settled) >= HOLD_SECONDS:
            return True  # someone stands at the edge without coming in: decide anyway
        # ROIs that settled on this frame have just passed their own arm test.
        return not any(t.arm_in_view(frame, ts) for t in touched if t.current.settled_ts < ts)

    def _end(self, visit: Visit, touched: list[RoiTracker], frame: np.ndarray, ts: float, frame_id: int,
             forced: bool) -> VisitEnded:
        pre_frame_id = _before(visit, touched)
        outcomes: list[RoiOutcome] = []
        for tracker in sorted(touched, key=lambda t: t.roi_id):
            outcome = tracker.finish(frame, ts, forced)
            if outcome is not None:
                outcomes.append(outcome)
        self.current = None
        end_ts = max((o.end_ts for o in outcomes), default=visit.start_ts)
        return VisitEnded(visit.start_ts, visit.start_frame_id, end_ts, ts, frame_id, pre_frame_id, frame_id,
                          tuple(outcomes), forced)


def _before(visit: Visit, touched: list[RoiTracker]) -> int:
    """The visit's clean Before: the newest of the touched ROIs' pre images taken before it began.

    Each ROI held its reference unchanged from then until it joined, so that frame shows
    every touched ROI settled with nobody in it. A pre image taken during the visit (an
    idle ROI re-based by a lighting change) may show the arm in another ROI, so it is not
    chosen while an older one exists.
    """
    interactions = [t.current for t in touched]
    earlier = [i for i in interactions if i.pre_ts is not None and i.pre_ts <= visit.start_ts]
    if earlier:
        return max(earlier, key=lambda i: i.pre_ts).pre_frame_id
    return interactions[0].pre_frame_id
