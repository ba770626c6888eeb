from __future__ import annotations

import pytest

from storewatch.analysis.thresholds import BOUNDS, HELP, Thresholds


def test_defaults_lie_within_their_bounds_and_are_documented() -> None:
    for name, value in Thresholds().to_dict().items():
        low, high = BOUNDS[name]
        assert low <= value <= high, name
        assert HELP[name]


def test_overrides_apply_and_round_trip() -> None:
    thr = Thresholds.from_overrides({"start_threshold": 0.1, "min_active_frames": 3.0})
    assert thr.start_threshold == 0.1 and thr.min_active_frames == 3
    assert Thresholds.from_overrides(thr.to_dict()) == thr


@pytest.mark.parametrize("overrides, words", [
    ({"start_threshold": 2}, ["start_threshold", "0.001", "1"]),
    ({"quiet_seconds": -1}, ["quiet_seconds", "between 0 and 600"]),
    ({"min_active_frames": 1.5}, ["min_active_frames", "whole number"]),
    ({"merge_gap_seconds": "5"}, ["merge_gap_seconds"]),
    ({"dark_level": True}, ["dark_level"]),
    ({"start_threshold": float("nan")}, ["start_threshold"]),
    ({"bogus": 1}, ["unknown threshold", "bogus"]),
    ({"start_threshold": 0.02, "end_threshold": 0.05}, ["end_threshold", "start_threshold"]),
])
def test_bad_overrides_name_the_field_and_range(overrides: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        Thresholds.from_overrides(overrides)
    for word in words:
        assert word in str(err.value)
