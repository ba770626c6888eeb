"""What the analysis reports besides scores: interactions starting and ending, lighting."""

from __future__ import annotations

from dataclasses import dataclass

from storewatch.analysis.inventory import InventoryDecision


@dataclass(frozen=True)
class InteractionStarted:
    """Activity confirmed in an ROI; `ts`/`frame_id` are its first active frame."""

    roi_id: int
    ts: float
    frame_id: int


@dataclass(frozen=True)
class InteractionCancelled:
    """A just-started interaction was really the onset of a lighting change.

    The first frames of a lighting change can look like activity before most of the
    frame has changed; the interaction started at `start_ts` never happened.
    """

    roi_id: int
    start_ts: float
    ts: float
    frame_id: int


@dataclass(frozen=True)
class LightingChange:
    """The whole scene's lighting started changing at this frame (device-wide)."""

    ts: float
    frame_id: int


@dataclass(frozen=True)
class LightingSettled:
    """The lighting change that started at `start_ts` is over: the scene is steady again.

    `before_frame_id` is the last frame before it began, `after_frame_id` the first
    steady frame after it (the lighting event's Before and After pictures).
    """

    start_ts: float
    ts: float
    before_frame_id: int | None
    after_frame_id: int


@dataclass(frozen=True)
class VisitStarted:
    """Something became active in the device's view: a visit began (device-wide)."""

    ts: float
    frame_id: int
    roi_ids: tuple[int, ...]


@dataclass(frozen=True)
class RoiOutcome:
    """One ROI a visit touched, and its net result over the whole visit.

    `decision` compares this ROI in the visit's clean Before with its clean After, so a
    take and a return in one visit net to moved or unchanged. `start_ts`/`end_ts` are
    this ROI's first and last active frames (they may differ from the visit's).
    """

    roi_id: int
    start_ts: float
    end_ts: float
    peak_score: float
    peak_frame_id: int
    decision: InventoryDecision | None

    @property
    def verdict(self) -> str | None:
        return None if self.decision is None else self.decision.verdict


@dataclass(frozen=True)
class VisitEnded:
    """A visit is over: every touched ROI settled and nobody is in view.

    `end_ts` is the last active frame's time, `ts`/`frame_id` the frame on which the
    visit was found over (the event is written then). `pre_frame_id` is the clean Before
    (the last frame in which every touched ROI was settled with nobody in it) and
    `post_frame_id` the clean After (the first frame after all left and settled).
    `forced`: it hit max_duration_seconds instead.
    """

    start_ts: float
    start_frame_id: int
    end_ts: float
    ts: float
    frame_id: int
    pre_frame_id: int
    post_frame_id: int
    rois: tuple[RoiOutcome, ...]
    forced: bool = False


@dataclass(frozen=True)
class VisitDropped:
    """ROIs leave the open visit that started at `start_ts` without a verdict: cancelled as a
    lighting change's onset, turned restless (`RoiRestless`), or removed or changed by the owner.

    `over`: none of its ROIs is left, so the visit ends here with no event (the end signal
    of a started visit that makes none); else it goes on with the others. Either way
    whatever showed these ROIs as touched since the visit's start can clear them.
    """

    start_ts: float
    start_frame_id: int
    ts: float
    frame_id: int
    roi_ids: tuple[int, ...]
    over: bool


@dataclass(frozen=True)
class RoiRestless:
    """This ROI has been busy without a break since `since_ts` (a screen, a plant in a draught,
    people passing behind): from this frame on it starts no visit, holds none open and makes
    no event, until it has been calm again for RESTLESS_CALM_SECONDS (`RoiCalm`)."""

    roi_id: int
    since_ts: float
    ts: float
    frame_id: int


@dataclass(frozen=True)
class RoiCalm:
    """A restless ROI has been calm long enough: it watches for visits again from this frame."""

    roi_id: int
    ts: float
    frame_id: int


Transition = (InteractionStarted | InteractionCancelled | LightingChange | LightingSettled
              | VisitStarted | VisitEnded | VisitDropped | RoiRestless | RoiCalm)
