"""Real clips (../shared/footage): what its README says storewatch must do."""

from __future__ import annotations

import pytest

from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.transitions import VisitStarted
from support.detection_bench import WARM_UP_FRAMES
from support.footage import FPS, QUADRANTS, WHOLE, load_clip, rect, replay

pytestmark = pytest.mark.slow  # replays the real footage in ../shared/footage: scripts/test --fast leaves it out

ANYWHERE = {"whole": WHOLE, **QUADRANTS}
NO_PEOPLE = ["alternating-light2", "light-dark", "dark-light"]


@pytest.mark.parametrize("clip", NO_PEOPLE)
def test_clips_without_people_give_no_interaction_anywhere(clip: str) -> None:
    rois = {**ANYWHERE, "door": rect(0.2, 0.1, 0.85, 0.95)}
    result = replay(clip, rois)
    for name in rois:
        assert result.interactions(name) == 0, (name, result.peak(name))
        assert result.ended[name] == []


@pytest.mark.parametrize("clip", NO_PEOPLE + ["lightout-after-movement"])
def test_light_switching_is_reported_as_lighting(clip: str) -> None:
    assert replay(clip, {"whole": WHOLE}).lighting_changes


def test_lightout_after_movement_gives_one_interaction_over_the_doorway() -> None:
    result = replay("lightout-after-movement", {"door": rect(0.2, 0.15, 0.85, 0.95)})
    (ended,) = result.ended["door"]
    assert result.interactions("door") == 1
    assert 245 <= ended.peak_frame_id <= 545  # while the person is there
    assert ended.end_ts < 545 / 25.0  # over before the light goes out
    assert any(c.frame_id >= 545 for c in result.lighting_changes)


def test_walking_to_gives_interactions_where_the_person_is() -> None:
    rois = {"centre": rect(0.3, 0.3, 0.7, 0.8), "bottom-right": QUADRANTS["bottom-right"],
            "right-jamb": rect(0.95, 0.0, 1.0, 1.0)}
    result = replay("walking-to", rois)
    assert result.interactions("centre") >= 1
    assert result.interactions("bottom-right") >= 1
    # The right door jamb only changes brightness (auto exposure) until the head
    # reaches it at about frame 230.
    jamb = dict(result.scores["right-jamb"])
    assert max(jamb[n] for n in range(150, 230, 5)) < 0.02
    assert all(s.frame_id >= 230 for s in result.started["right-jamb"])


def visits_of(clip: str, rois: dict[str, tuple[tuple[float, float], ...]], every: int = 1, first: int = 0) -> int:
    """How many visits the clip makes (each VisitStarted, ended or still open at the end), fed
    every `every`-th frame from the `first`-th on (the warm-up ramp left out, as the bench does)."""
    analyzer = DeviceAnalyzer([RoiSpec(i, polygon) for i, polygon in enumerate(rois.values())])
    frames = [(n, gray) for n, gray in load_clip(clip) if n >= WARM_UP_FRAMES][first::every]
    return sum(isinstance(t, VisitStarted) for n, gray in frames for t in analyzer.feed(gray, n / FPS, n).transitions)


@pytest.mark.parametrize("every, first", [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)],
                         ids=["5fps", "2.5fps-even", "2.5fps-odd", "1.7fps-0", "1.7fps-1", "1.7fps-2"])
def test_walking_to_is_one_visit_while_the_person_stays_in_view(every: int, first: int) -> None:
    # The person walks up, then stands at the table in the background (still but for a shift now
    # and then, from frame ~345 to ~415) and moves again: still there, so still the same visit.
    assert visits_of("walking-to", QUADRANTS, every, first) == 1
