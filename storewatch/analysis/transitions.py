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
class InteractionEnded:
    """An interaction closed: settled and not continued within the merge gap (or forced).

    `end_ts` is the last active frame's time; `pre_frame_id` is the settled frame the
    decision compared against, `post_frame_id` the first settled frame after it.
    `forced` means it hit max_duration_seconds instead of settling.
    """

    roi_id: int
    start_ts: float
    end_ts: float
    peak_score: float
    peak_frame_id: int
    pre_frame_id: int
    post_frame_id: int
    decision: InventoryDecision
    forced: bool = False

    @property
    def verdict(self) -> str | None:
        """What happened in the ROI (taken, placed, moved, unchanged); None without a decision."""
        return None if self.decision is None else self.decision.verdict


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


Transition = InteractionStarted | InteractionEnded | InteractionCancelled | LightingChange
