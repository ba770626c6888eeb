"""ModeState: the server's config and word, burst holds, local motion bursts."""

from __future__ import annotations

from storewatch.camera.modes import DEFAULT_CONFIG, ModeState, clean_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_clean_config_keeps_the_fallback_for_bad_fields():
    config = clean_config({"config_version": "c2", "mode": "sideways", "baseline_interval_s": -1,
                           "burst_interval_s": 0.25, "width": True, "jpeg_quality": 101, "extra": 1},
                          DEFAULT_CONFIG)
    assert config.config_version == "c2" and config.mode == "baseline"
    assert config.baseline_interval_s == DEFAULT_CONFIG.baseline_interval_s and config.burst_interval_s == 0.25
    assert config.width == DEFAULT_CONFIG.width and config.jpeg_quality == DEFAULT_CONFIG.jpeg_quality


def test_server_burst_switches_interval_and_wakes_the_capture_loop():
    clock = Clock()
    modes = ModeState(monotonic=clock)
    assert modes.interval_s() == 30.0
    modes.server_says("burst", None)
    assert modes.changed.is_set() and modes.mode == "burst" and modes.interval_s() == 0.5
    clock.now += 19
    assert modes.mode == "burst"
    clock.now += 2  # burst_hold_s (20) passed without a confirmation: back to baseline
    assert modes.mode == "baseline"


def test_a_newer_config_version_asks_for_a_refetch():
    modes = ModeState(clean_config({"config_version": "c1"}, DEFAULT_CONFIG))
    modes.server_says("baseline", "c1")
    assert not modes.refetch.is_set() and not modes.changed.is_set()
    modes.server_says("baseline", "c2")
    assert modes.refetch.is_set()


def test_server_baseline_ends_its_burst_but_not_a_motion_burst():
    clock = Clock()
    modes = ModeState(monotonic=clock)
    modes.server_says("burst", None)
    modes.server_says("baseline", None)
    assert modes.mode == "baseline"
    modes.motion_seen()
    modes.server_says("baseline", None)
    assert modes.mode == "burst"
    clock.now += 21
    assert modes.mode == "baseline"


def test_capture_params_follow_the_config():
    modes = ModeState()
    modes.changed.clear()
    modes.apply_config(clean_config({"width": 800, "height": 600, "jpeg_quality": 70}, DEFAULT_CONFIG))
    params = modes.capture_params()
    assert (params.width, params.height, params.jpeg_quality) == (800, 600, 70) and modes.changed.is_set()


# Values the appliance's settings registry refuses, which the camera used to take from a
# config because its own bounds were wider (burst interval up to 3600 s, hold from 0, ...).
OUT_OF_BOUNDS = [("baseline_interval_s", 0.05), ("burst_interval_s", 61), ("burst_interval_s", 3600),
                 ("burst_hold_s", 0), ("burst_hold_s", 7200), ("config_poll_interval_s", 7200),
                 ("heartbeat_interval_s", 1), ("heartbeat_interval_s", 86400)]


def test_the_camera_refuses_a_config_value_the_appliance_would_refuse():
    for name, value in OUT_OF_BOUNDS:
        config = clean_config({name: value}, DEFAULT_CONFIG)
        assert getattr(config, name) == getattr(DEFAULT_CONFIG, name), (name, value)


def test_the_camera_refuses_a_fraction_for_a_whole_number_field():
    config = clean_config({"jpeg_quality": 70.5, "width": 800.0}, DEFAULT_CONFIG)
    assert config.jpeg_quality == DEFAULT_CONFIG.jpeg_quality  # not truncated to 70
    assert config.width == 800 and isinstance(config.width, int)


def test_the_camera_drops_a_motion_trigger_value_of_the_wrong_type_or_out_of_bounds():
    config = clean_config({"motion_trigger": {"enabled": "no", "threshold": 0.00001, "rois": []}}, DEFAULT_CONFIG)
    assert config.motion_trigger == {"rois": []}
    config = clean_config({"motion_trigger": {"enabled": False, "threshold": 0.5}}, DEFAULT_CONFIG)
    assert config.motion_trigger == {"enabled": False, "threshold": 0.5}
