"""The per-ROI state machine: warming -> idle -> active -> settled -> (finished) idle.

Fed one frame at a time with its capture time. Two scores drive it: *change*, the
ROI's changed share against the settled reference (starts an interaction), and
*motion*, the changed share against the previous frame (its absence for
quiet_seconds settles one; a permanent change such as a taken box does not keep
an interaction open). A settled ROI waits for the device's visit to end
(`visit.py`): new activity before then continues the same interaction, and the
visit's end `finish`es it with the inventory decision of the pre image (the
reference from before the visit) against the visit's clean After.

Quiet is not enough to settle while an arm is in the ROI: a hand held still must
neither end the interaction nor be decided on. An arm is connected -- its change
against the clean pre image runs through the ROI's border into the band just outside
it -- while a taken, placed or moved item leaves a change enclosed in the ROI. That
test runs only when the ROI is about to settle (not every frame), and holds the
settling back for at most HOLD_SECONDS of stillness (a bag left across the border
is decided then). The test's cell measure is lighting-blind, so it holds through a
change of light too; for the same reason an arm found reaching in when the lights
switch keeps a young interaction (it is no lighting onset) and keeps an idle ROI's
reference from being re-based on a frame with the arm in it.

Nor is quiet enough while what differs from the pre image still moves a little: a person
standing in view shifts their weight, a taken, placed or moved item does not. A changed
cell of that kind (a fidget, `_fidgets`) holds the settling back for quiet_seconds more,
within the same HOLD_SECONDS; a settled ROI that fidgets, or moves again below
start_threshold, is active again, so the visit does not end on a person still in view.

Activity is measured two ways: over the whole ROI (the share of its area that changed,
the score that is reported) and locally (the most changed block of BLOCK x BLOCK cells).
On a big ROI -- a whole shelf unit -- a thin arm and one item are a few percent of the
area, but they fill a block; a block counts as strongly active at LOCAL_FACTOR times
start_threshold, which on an ROI of about that many blocks' area is the same rule (so a
start_threshold above 1/LOCAL_FACTOR leaves the whole-ROI measure alone).

An ROI that stays busy without a break for RESTLESS_SECONDS (a screen, a plant in a
draught, passers-by behind the shelf) is *restless*: it leaves the visit it was in, starts
and holds none, and reports itself once (`RoiRestless`), until it has been calm again
for RESTLESS_CALM_SECONDS (`RoiCalm`). If it calms within its max_duration_seconds, what
it had been part of is decided then, on its own (a long restocking is late, not lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storewatch.analysis import scoring
from storewatch.analysis.inventory import decide_in_grid
from storewatch.analysis.lighting import LightingStatus
from storewatch.analysis.roi_mask import RoiGrid
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import (InteractionCancelled, InteractionStarted, RoiCalm, RoiOutcome,
                                             Transition)

WARMING, IDLE, ACTIVE, SETTLED, RESTLESS = "warming", "idle", "active", "settled", "restless"
HOLD_SECONDS = 10.0  # longest stillness, beyond quiet_seconds, that an arm in view holds off settling
ARM_RECHECK_SECONDS = 1.0  # while an arm is held still, look again at most this often
BLOCK = 4  # cells per side of the blocks of the local activity measure
LOCAL_FACTOR = 8.0  # a block is strongly active at this many times start_threshold (never above 1/8)
LIT_SHARE = 0.8  # the arm test during a change of light needs this share of lit cells before and after
RESTLESS_SECONDS = 30.0  # busy without a break this long: restless
RESTLESS_CALM_SECONDS = 30.0  # a restless ROI watches again after this long without motion


@dataclass
class _Interaction:
    start_ts: float
    start_frame_id: int
    pre_frame_id: int
    peak_score: float
    peak_frame_id: int
    last_active_ts: float
    settled_ts: float | None = None
    arm_seen_ts: float | None = None  # when an arm was last found reaching in while quiet
    relit: bool = False  # the lighting changed since it started
    pre_ts: float | None = None  # when the pre image was taken (None in a state saved before visits)
    active_since: float | None = None  # when it last became active (None: at start_ts)
    fidget_ts: float | None = None  # when what differs from the pre image last moved, below the motion level


@dataclass(frozen=True)
class _Activity:
    """How much of an ROI changed: over its whole area, and in its most changed block."""

    area: float
    local: float


class _Image:
    """A uint8 crop with its frame id and cached cell statistics."""

    def __init__(self, pixels: np.ndarray, frame_id: int) -> None:
        self.pixels = pixels
        self.frame_id = frame_id
        self.f32 = pixels.astype(np.float32)
        self.stats = scoring.cell_stats(self.f32)


class RoiTracker:
    """State of one ROI; `feed` returns (score, transitions) for each frame."""

    def __init__(self, roi_id: int, grid: RoiGrid, thresholds: Thresholds) -> None:
        self.roi_id = roi_id
        self.grid = grid
        self.thr = thresholds
        self.state = WARMING
        self.ref: _Image | None = None
        self.prev: _Image | None = None
        self.pre: _Image | None = None
        # ref and pre with their margin band (uint8 pixels of grid.wide_crop), for the arm test;
        # None in a state saved before the band existed, which then settles without it.
        self.ref_wide: np.ndarray | None = None
        self.pre_wide: np.ndarray | None = None
        self._frame: np.ndarray | None = None  # the frame being fed
        self._moved: np.ndarray | None = None  # the cells that changed since the previous frame (this frame's)
        self._visiting = False  # a visit is open: an idle ROI holds its reference
        # Idle, but this frame moved and differs from the reference, below start_threshold: the
        # first sign of a visit, perhaps the only frame of it at the baseline rate. Set per frame.
        self.stirring = False
        self.stable_since: float | None = None
        self.refreshed_ts: float | None = None
        self.settled_frame_id: int | None = None
        self.cand_count = 0
        self.cand: _Interaction | None = None
        self.current: _Interaction | None = None
        self._blocks: tuple[np.ndarray, np.ndarray] | None = None  # see _local
        # Set for the frame only: it turned restless (busy since then; see RESTLESS_SECONDS), and
        # what it had been part of, decided when it calmed (outcome, start frame, pre frame).
        self.turned_restless: float | None = None
        self.calmed: tuple[RoiOutcome, int, int] | None = None

    @property
    def busy(self) -> bool:
        """Active, settling, about to start or stirring: the camera should burst."""
        return self.state in (ACTIVE, SETTLED) or self.cand_count > 0 or self.stirring

    @property
    def engaged(self) -> bool:
        """Part of an open visit: active, or settled and waiting for the visit to end."""
        return self.state in (ACTIVE, SETTLED)

    def feed(self, frame: np.ndarray, ts: float, frame_id: int, light: LightingStatus,
             visiting: bool = False) -> tuple[float, list[Transition]]:
        """Advance with a full uint8 gray frame (the analysis size) taken at `ts`.

        `visiting`: a visit is open elsewhere in the view, so an idle ROI keeps its
        reference from before it (the visit's Before) instead of refreshing it.
        """
        if self.grid.weights.size == 0:
            return 0.0, []
        img = _Image(np.ascontiguousarray(self.grid.crop(frame)), frame_id)
        self._moved = None if self.prev is None else self._cells(self.prev, img)
        motion = None if self._moved is None else self._activity(self._moved)
        events: list[Transition] = []
        self._frame = frame
        self._visiting = visiting
        self.stirring = False
        self.turned_restless, self.calmed = None, None
        handler = {WARMING: self._warming, IDLE: self._idle, ACTIVE: self._active, SETTLED: self._settled,
                   RESTLESS: self._restless}[self.state]
        score = handler(img, motion, ts, light, events)
        self.prev = img
        self._frame = None
        return score, events

    def _score(self, ref: _Image, img: _Image) -> "_Activity":
        return self._activity(self._cells(ref, img))

    def _cells(self, ref: _Image, img: _Image) -> np.ndarray:
        diff = scoring.compare(ref.f32, ref.stats, img.f32, img.stats, self.grid.weights, self.thr)
        return scoring.changed_cells(diff, self.thr.cell_change)

    def _activity(self, changed: np.ndarray) -> "_Activity":
        return _Activity(scoring.area_score(changed, self.grid.weights), self._local(changed))

    def _fidgets(self, changed: np.ndarray) -> bool:
        """Did a cell of `changed` (what differs from the pre image) move on this frame?

        A taken, placed or moved item stands still once the hand has gone; a person standing
        in view does not, quite (a shift of weight, a turn of the head), well below the motion
        that keeps an ROI active. Such a fidget keeps the ROI from settling (see HOLD_SECONDS).
        """
        return self._moved is not None and bool((self._moved & changed & (self.grid.weights > 0)).any())

    def _local(self, changed: np.ndarray) -> float:
        """The changed share of the most changed BLOCK x BLOCK window of cells (any position, at
        least half of it inside the ROI); 0 for an ROI too small to hold one."""
        if self._blocks is None:
            total = _window_sums(self.grid.weights.astype(np.float32))
            ok = total >= BLOCK * BLOCK / 2
            self._blocks = (self.grid.weights.astype(np.float32), np.where(ok, 1.0 / np.maximum(total, 1e-6), 0.0))
        weights, scale = self._blocks
        if scale.size == 0 or not scale.any():
            return 0.0
        return float((_window_sums(weights * changed) * scale).max())

    @property
    def _local_start(self) -> float:
        return self.thr.start_threshold * LOCAL_FACTOR

    def _strong(self, a: "_Activity") -> bool:
        """Active enough to start (or continue, in a settled ROI) an interaction."""
        return a.area >= self.thr.start_threshold or a.local >= self._local_start

    def _moving(self, motion: "_Activity | None") -> bool:
        return motion is not None and (motion.area >= self.thr.end_threshold or motion.local >= self._local_start / 2)

    def _differs(self, change: "_Activity") -> bool:
        """Changed from the reference by more than the quiet level (whole ROI or a block)."""
        return change.area >= self.thr.end_threshold or change.local >= self._local_start / 2

    def _warming(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
                 events: list[Transition]) -> float:
        if motion is None or light.lighting or motion.area >= self.thr.end_threshold:
            self.stable_since = ts
        elif ts - self.stable_since >= self.thr.quiet_seconds:
            self.state = IDLE
            self._settle_reference(img, ts)
        self.ref = img
        return 0.0

    def _wide(self) -> np.ndarray:
        return np.array(self.grid.wide_crop(self._frame), dtype=np.uint8, copy=True)

    def _settle_reference(self, img: _Image, ts: float, fed: bool = True) -> None:
        """`img` becomes the reference; `fed`: it is the frame being fed (else: the current ref)."""
        if fed:
            self.ref_wide = self._wide()
        self.ref = img
        self.refreshed_ts = ts
        self.settled_frame_id = img.frame_id
        self.cand_count, self.cand = 0, None

    def _idle(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
              events: list[Transition]) -> float:
        change = self._score(self.ref, img)
        if light.rebase:
            self._settle_reference(img, ts)
        elif light.lighting:
            self.cand_count, self.cand = 0, None
        elif self._starts(change, motion):
            if self._candidate(img, change.area, ts):
                self.state = ACTIVE
                self.current = self.cand
                self.current.active_since = ts
                events.append(InteractionStarted(self.roi_id, self.cand.start_ts, self.cand.start_frame_id))
        else:
            self.cand_count, self.cand = 0, None
            moving = self._moving(motion)
            self.stirring = moving and self._differs(change)
            # An item's gap in a big ROI keeps the reference (a strongly changed block), a little
            # noise in one does not.
            quiet = not moving and change.area < self.thr.end_threshold and change.local < self._local_start
            due = ts - self.refreshed_ts >= self.thr.reference_refresh_seconds
            if quiet and due and not self._visiting:
                self._settle_reference(img, ts)
        return change.area

    def _starts(self, change: "_Activity", motion: "_Activity | None") -> bool:
        """Does this frame count towards starting an interaction?

        A frame at start_threshold begins a candidate; while one runs, a frame at half of
        it (not below end_threshold) continues it. One item on a wide shelf, and the thin
        arm that takes it, are a few percent of the ROI: the take may reach start_threshold
        in one frame only, and the gap it leaves stays below it. The same for a block.
        """
        if self._strong(change):
            return True
        if self.cand_count == 0:
            return False
        return (change.area >= max(self.thr.end_threshold, self.thr.start_threshold / 2)
                or change.local >= self._local_start / 2)

    def _candidate(self, img: _Image, change: float, ts: float) -> bool:
        """Count one frame above start_threshold; True once there are enough in a row."""
        if self.cand_count == 0:
            self.pre, self.pre_wide = self.ref, self.ref_wide
            self.cand = _Interaction(ts, img.frame_id, self.pre.frame_id, change, img.frame_id, ts,
                                     pre_ts=self.refreshed_ts)
        elif change > self.cand.peak_score:
            self.cand.peak_score, self.cand.peak_frame_id = change, img.frame_id
        self.cand.last_active_ts = ts
        self.cand_count += 1
        return self.cand_count >= self.thr.min_active_frames

    def _active(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
                events: list[Transition]) -> float:
        cur = self.current
        changed = self._cells(self.pre, img)
        change = self._activity(changed)
        if light.started and ts - cur.start_ts < self.thr.quiet_seconds:
            # The first frames of a lighting change can look like activity; an arm reaching in does not.
            if not self._arm_against(self.pre_wide):
                events.append(InteractionCancelled(self.roi_id, cur.start_ts, ts, img.frame_id))
                self.state, self.current, self.pre, self.pre_wide = IDLE, None, None, None
                return change.area
        if light.lighting:
            cur.relit = True
            return change.area
        if change.area > cur.peak_score:
            cur.peak_score, cur.peak_frame_id = change.area, img.frame_id
        if self._moving(motion):
            if ts - cur.last_active_ts >= self.thr.quiet_seconds:
                cur.active_since = ts  # after a break held open by a still arm or a fidget: busy from here
            cur.last_active_ts = ts
            since = cur.active_since if cur.active_since is not None else cur.start_ts
            if ts - since >= RESTLESS_SECONDS:
                self._turn_restless(ts)
            return change.area
        if self._fidgets(changed):
            cur.fidget_ts = ts
        if ts - cur.last_active_ts >= self.thr.quiet_seconds:
            if ts - cur.last_active_ts < self.thr.quiet_seconds + HOLD_SECONDS and (
                    self._fidgeted(cur, ts) or self._arm_held(cur, ts)):
                return change.area
            cur.settled_ts = ts
            cur.arm_seen_ts = cur.fidget_ts = None
            self.state = SETTLED
            self.ref, self.ref_wide = img, self._wide()
            self.cand_count, self.cand = 0, None
        return change.area

    def _fidgeted(self, cur: _Interaction, ts: float) -> bool:
        """Has what differs from the pre image moved within the last quiet_seconds?"""
        return cur.fidget_ts is not None and ts - cur.fidget_ts < self.thr.quiet_seconds

    def _turn_restless(self, ts: float) -> None:
        """Busy too long without a break: leave the visit; keep the Before in case it calms soon."""
        cur = self.current
        since = ts if cur is None else (cur.active_since if cur.active_since is not None else cur.start_ts)
        self.state, self.stable_since, self.turned_restless = RESTLESS, ts, since
        self.cand_count, self.cand = 0, None

    def _restless(self, img: _Image, motion: "_Activity | None", ts: float, light: LightingStatus,
                  events: list[Transition]) -> float:
        """Wait for RESTLESS_CALM_SECONDS without motion (and no arm in), then watch again."""
        if light.lighting or self._moving(motion):
            self.stable_since = ts
        change = self._score(self.ref, img) if self.ref is not None else _Activity(0.0, 0.0)
        if ts - self.stable_since < RESTLESS_CALM_SECONDS:
            return change.area
        cur = self.current
        if cur is not None and self.pre_wide is not None and self._arm_against(self.pre_wide):
            self.stable_since = ts  # an arm is held in the ROI: not calm
            return change.area
        events.append(RoiCalm(self.roi_id, ts, img.frame_id))
        if cur is not None and self.pre is not None and ts - cur.start_ts <= self.thr.max_duration_seconds:
            self.prev = img
            self.state = SETTLED  # finish() decides it against this frame
            start_frame_id, pre_frame_id = cur.start_frame_id, cur.pre_frame_id
            outcome = self.finish(self._frame, ts)
            if outcome is not None:
                self.calmed = (outcome, start_frame_id, pre_frame_id)
            return change.area
        self.state, self.current, self.pre, self.pre_wide = IDLE, None, None, None
        self._settle_reference(img, ts)
        return change.area

    def _settled(self, img: _Image, motion: float | None, ts: float, light: LightingStatus,
                 events: list[Transition]) -> float:
        cur = self.current
        change = self._score(self.ref, img)
        if light.rebase:
            self.ref, self.ref_wide = img, self._wide()
        if light.lighting or not self._strong(change):
            self.cand_count, self.cand = 0, None
            if not light.lighting and self._unsettled(img, motion, change, ts):
                self.state = ACTIVE  # not settled after all: quiet_seconds again from this fidget
                cur.settled_ts, cur.fidget_ts = None, ts
            return change.area
        self.cand_count += 1
        cur.last_active_ts = ts
        if change.area > cur.peak_score:
            cur.peak_score, cur.peak_frame_id = change.area, img.frame_id
        if self.cand_count >= self.thr.min_active_frames:
            self.state = ACTIVE  # the same interaction continues
            cur.settled_ts = None
            cur.active_since = ts
            self.cand_count, self.cand = 0, None
        return change.area

    def _unsettled(self, img: _Image, motion: "_Activity | None", change: "_Activity", ts: float) -> bool:
        """Does this settled ROI move again below start_threshold (a person at the back shifting
        their weight)? Moving against the frame it settled on, or fidgeting (see `_fidgets`),
        within HOLD_SECONDS of its last activity; the pre image is compared only on a frame that
        moved at all."""
        if self._moved is None or not self._moved.any() or self.pre is None:
            return False
        if ts - self.current.last_active_ts >= self.thr.quiet_seconds + HOLD_SECONDS:
            return False
        return (self._moving(motion) and self._differs(change)) or self._fidgets(self._cells(self.pre, img))

    def _arm_against(self, before: np.ndarray | None) -> bool:
        """Does an arm reach in now (the frame being fed) against `before`, a wide crop, while the
        light changes? Only where both are lit: out of the dark, everything looks new."""
        if before is None or self._frame is None:
            return False
        inside = self.grid.wide_inside()
        if before.shape != (inside.shape[0] * scoring.CELL, inside.shape[1] * scoring.CELL):
            return False
        now = self.grid.wide_crop(self._frame)
        for crop in (before, now):
            if np.count_nonzero(scoring.cell_mean(crop.astype(np.float32)) > 2 * self.thr.dark_level) < LIT_SHARE * inside.size:
                return False
        return arm_reaches_in(before, now, inside, self.thr)

    def _arm_held(self, cur: _Interaction, ts: float) -> bool:
        """Is an arm still reaching in (seen lately, or now)? Then the ROI must not settle yet."""
        if cur.arm_seen_ts is not None and ts - cur.arm_seen_ts < ARM_RECHECK_SECONDS:
            return True
        # A lighting change since (relit) does not stop the test: its cell measure is lighting-blind,
        # and a hand held still through a change of light must not be decided on either.
        if self.pre_wide is None or self._frame is None:
            return False
        inside = self.grid.wide_inside()
        if self.pre_wide.shape != (inside.shape[0] * scoring.CELL, inside.shape[1] * scoring.CELL):
            return False
        if arm_reaches_in(self.pre_wide, self.grid.wide_crop(self._frame), inside, self.thr):
            cur.arm_seen_ts = ts
            return True
        return False

    def arm_in_view(self, frame: np.ndarray, ts: float) -> bool:
        """Does an arm reach into this settled ROI now (against the frame it settled on)?

        The visit's last check before it ends; seen lately counts as now, so a held-still
        arm is looked at again at most every ARM_RECHECK_SECONDS.
        """
        cur = self.current
        if cur is None or self.state != SETTLED or self.ref_wide is None:
            return False
        if cur.arm_seen_ts is not None and ts - cur.arm_seen_ts < ARM_RECHECK_SECONDS:
            return True
        inside = self.grid.wide_inside()
        if self.ref_wide.shape != (inside.shape[0] * scoring.CELL, inside.shape[1] * scoring.CELL):
            return False
        if arm_reaches_in(self.ref_wide, self.grid.wide_crop(frame), inside, self.thr):
            cur.arm_seen_ts = ts
            return True
        return False

    def finish(self, frame: np.ndarray, ts: float, forced: bool = False) -> RoiOutcome | None:
        """The visit is over: decide the pre image against this frame (the last one fed) and go idle.

        The frame becomes the reference; None if this ROI was not part of a visit. `forced`
        (max_duration_seconds): an ROI still moving then goes restless instead of idle, so that
        it does not start one such visit after the other.
        """
        cur, img = self.current, self.prev
        if cur is None or self.pre is None or img is None:
            return None
        decision = decide_in_grid(self.pre.f32, img.f32, self.grid, self.thr)
        outcome = RoiOutcome(self.roi_id, cur.start_ts, cur.last_active_ts, cur.peak_score, cur.peak_frame_id,
                             decision)
        still_moving = forced and self.state == ACTIVE and ts - cur.last_active_ts < self.thr.quiet_seconds
        since = cur.active_since if cur.active_since is not None else cur.start_ts
        self.state = IDLE
        self.current, self.pre, self.pre_wide = None, None, None
        self._frame, saved = frame, self._frame
        self._settle_reference(img, ts)
        self._frame = saved
        if still_moving:
            self.state, self.stable_since, self.turned_restless = RESTLESS, ts, since
        return outcome


def _window_sums(grid: np.ndarray) -> np.ndarray:
    """Sums over every BLOCK x BLOCK window of a cell grid (empty if the grid is smaller)."""
    rows, cols = grid.shape
    if rows < BLOCK or cols < BLOCK:
        return np.zeros((0, 0), np.float32)
    c = np.zeros((rows + 1, cols + 1), np.float64)
    c[1:, 1:] = grid.cumsum(axis=0).cumsum(axis=1)
    return (c[BLOCK:, BLOCK:] - c[:-BLOCK, BLOCK:] - c[BLOCK:, :-BLOCK] + c[:-BLOCK, :-BLOCK]).astype(np.float32)


def arm_reaches_in(pre: np.ndarray, now: np.ndarray, inside: np.ndarray, thr: Thresholds) -> bool:
    """Does the change from `pre` to `now` (wide crops) run from outside the band into the ROI?

    `inside` marks the ROI's cells in the wide crop's cell grid. True when one connected
    (8-neighbour) region of changed cells holds both an ROI cell and a band cell on the
    wide crop's outer edge: something reaching in from beyond the margin, as an arm
    does. An item's gap, even one at the ROI's border (the foot of a taken bottle on
    the shelf board), stays within the ROI and the first cells of the band.
    """
    a, b = pre.astype(np.float32), now.astype(np.float32)
    everywhere = np.ones(inside.shape, np.float32)
    diff = scoring.compare(a, scoring.cell_stats(a), b, scoring.cell_stats(b), everywhere, thr)
    changed = scoring.changed_cells(diff, thr.cell_change)
    edge = np.zeros_like(changed)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    if not (changed & inside).any():
        return False
    # Flood the changed cells from the band's outer edge (8-neighbour); the grid is small.
    todo = [tuple(cell) for cell in np.argwhere(changed & edge & ~inside)]
    seen = set(todo)
    rows, cols = changed.shape
    while todo:
        r, c = todo.pop()
        if inside[r, c]:
            return True
        for nr in (r - 1, r, r + 1):
            for nc in (c - 1, c, c + 1):
                if 0 <= nr < rows and 0 <= nc < cols and changed[nr, nc] and (nr, nc) not in seen:
                    seen.add((nr, nc))
                    todo.append((nr, nc))
    return False
