"""The cell scoring's fast path gives the very bits of numpy's general one, on real frames.

The reference below is the scoring as it was written before the fast path (numpy's mean over
a cell's two strided axes, np.median, np.clip): a replay is exact only if the live worker
and the replay agree to the last bit, and so must every version of this code that kept
states and events were made with.
"""

from __future__ import annotations

import numpy as np
import pytest

from storewatch.analysis import scoring
from storewatch.analysis.decode import decode_gray
from storewatch.analysis.roi_mask import polygon_mask, roi_grid
from storewatch.analysis.thresholds import Thresholds
from storewatch.camera.scenarios import scenario
from storewatch.camera.scene import ScriptRenderer

CAMERA_SIZE, ANALYSIS_WIDTH = (1640, 1232), 320


def _reference_mean(img: np.ndarray) -> np.ndarray:
    rows, cols = scoring.grid_shape(img.shape)
    return img[: rows * scoring.CELL, : cols * scoring.CELL].reshape(
        rows, scoring.CELL, cols, scoring.CELL).mean(axis=(1, 3), dtype=np.float32)


def _reference_compare(ref: np.ndarray, img: np.ndarray, weights: np.ndarray,
                       thr: Thresholds) -> tuple[np.ndarray, np.ndarray]:
    m_r, m_i = _reference_mean(ref), _reference_mean(img)
    v_r = np.maximum(_reference_mean(ref * ref) - m_r * m_r, 0.0)
    v_i = np.maximum(_reference_mean(img * img) - m_i * m_i, 0.0)
    reg = thr.flat_contrast ** 2
    corr = (_reference_mean(ref * img) - m_r * m_i + reg) / np.sqrt((v_r + reg) * (v_i + reg))
    d_struct = np.clip(1.0 - corr, 0.0, 1.0)
    struct_ok = (m_r > thr.dark_level) & (m_i > thr.dark_level) & (m_r < 250.0) & (m_i < 250.0)
    bright_ok = ((m_r > thr.dark_level) | (m_i > thr.dark_level)) & (weights > 0)
    eps = max(thr.dark_level, 1.0)
    log_ratio = np.log((m_i + eps) / (m_r + eps))
    preserved = struct_ok & (d_struct < 0.2) & (weights > 0)
    if np.count_nonzero(preserved) >= 3:
        gain = float(np.median(log_ratio[preserved]))
    else:
        gain = float(np.median(log_ratio[bright_ok])) if bright_ok.any() else 0.0
    d_bright = (np.abs(log_ratio - gain) > thr.brightness_change).astype(np.float32)
    d = np.where(struct_ok, np.maximum(d_struct, d_bright), np.where(bright_ok, d_bright, 0.0))
    return d.astype(np.float32), struct_ok | bright_ok


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Frames as the worker decodes them: a take, noise, and the lights switching."""
    found = []
    for name in ("noisy-take", "lights-switch"):
        script = scenario(name)
        renderer = ScriptRenderer(script, CAMERA_SIZE)
        times = script.times(2.0)
        found += [decode_gray(renderer.jpeg(times[i], i), ANALYSIS_WIDTH) for i in range(0, len(times), 4)]
    return found


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_cell_stats_of_decoded_frames_take_the_fast_path_and_match_numpys_mean_bit_for_bit(frames) -> None:
    grid = roi_grid(polygon_mask(scenario("noisy-take").rois[1][1], frames[0].shape))
    for frame in frames:
        for img in (frame, np.ascontiguousarray(grid.crop(frame))):
            stats = scoring.cell_stats(img)
            assert stats.whole
            mean = _reference_mean(img)
            assert _same_bits(stats.mean, mean)
            assert _same_bits(stats.var, np.maximum(_reference_mean(img * img) - mean * mean, 0.0))


def test_compare_on_decoded_frames_gives_the_reference_bits(frames) -> None:
    thr = Thresholds()
    grids = [roi_grid(polygon_mask(polygon, frames[0].shape)) for _, polygon in scenario("noisy-take").rois]
    checked = 0
    for grid in grids:
        crops = [np.ascontiguousarray(grid.crop(frame)) for frame in frames]
        stats = [scoring.cell_stats(crop) for crop in crops]
        for i in range(1, len(crops)):
            for j in (0, i - 1):  # against the first frame (a reference) and the previous one
                diff = scoring.compare(crops[j], stats[j], crops[i], stats[i], grid.weights, thr)
                d, judged = _reference_compare(crops[j], crops[i], grid.weights, thr)
                assert _same_bits(diff.d, d) and _same_bits(diff.judged, judged), (i, j)
                checked += int(np.count_nonzero(diff.d > thr.cell_change))
    assert checked > 0  # the frames hold changed cells, not only sameness


def test_an_image_of_other_values_takes_numpys_mean() -> None:
    rng = np.random.default_rng(7)
    fractional = (rng.random((48, 64)) * 255).astype(np.float32)
    out_of_range = np.full((48, 64), 300.0, np.float32)
    with_nan = np.ones((48, 64), np.float32)
    with_nan[3, 5] = np.nan
    for img in (fractional, out_of_range, with_nan):
        stats = scoring.cell_stats(img)
        assert not stats.whole
        assert np.array_equal(stats.mean, _reference_mean(img), equal_nan=True)


@pytest.mark.parametrize("size", [1, 2, 3, 380, 381, 1200])
def test_median_is_numpys_median(size: int) -> None:
    rng = np.random.default_rng(size)
    values = np.log(rng.random(size).astype(np.float32) * 200 + 12) - np.float32(3.0)
    assert scoring.median(values) == float(np.median(values))
    values[size // 2] = np.nan
    assert np.isnan(scoring.median(values)) and np.isnan(np.median(values))
