"""Real clips (../shared/footage): what its README says storewatch must do."""

from __future__ import annotations

import pytest

from support.footage import QUADRANTS, WHOLE, rect, replay

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
