"""Replays scored against the owner's review, the suggestion search, and `storewatch replay`
on the command line, over a session recorded by a real worker (Huey consumer threads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO
from support import replay as rig
from support.worker import running_worker, wait_finished

from storewatch.appliance import Appliance
from storewatch.errors import DeviceNotFound, InvalidInput, NoFramesKept, RoiNotFound
from storewatch.replay import ReplayCancelled, replay, suggest

CONFIRMED, FALSE_ALARMS = (1, 2, 3), (4, 5)  # the takes and the place; the touch and the passer
SILENT = {"start_threshold": 1.0, "min_active_frames": 20}  # 10 s of a whole ROI changing: no reach is that


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):
    session = rig.render()
    appliance = Appliance(tmp_path_factory.mktemp("replay-review") / "data")
    device_id = appliance.devices.add("cam", "cam")[0]
    rig.add_rois(appliance, device_id)
    with running_worker(appliance):
        rig.store(appliance, device_id, session, range(len(session.jpegs)))
        wait_finished(appliance, len(session.jpegs), timeout=120)
    yield appliance, device_id, session
    appliance.close()


def reviewed(appliance: Appliance) -> None:
    for event_id in CONFIRMED:
        appliance.events.review(event_id, reviewed=True)
    for event_id in FALSE_ALARMS:
        appliance.events.review(event_id, false_alarm=True)


def unreviewed(appliance: Appliance) -> None:
    for event_id in CONFIRMED + FALSE_ALARMS:
        appliance.events.review(event_id, reviewed=False)


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), "replay", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.mark.slow  # a suggestion replays the session up to 40 times: scripts/test --fast leaves it out
def test_without_reviews_a_suggestion_says_it_needs_some(recorded) -> None:
    appliance, device_id, session = recorded
    unreviewed(appliance)
    found = suggest(appliance, device_id, rig.START, session.end + 1)
    assert found.rests_on == 0 and found.overrides == {} and "needs reviewed events" in found.message


def expected_review(report) -> tuple[int, int, int, int]:
    """The counts read off the comparison's pairs, checking each pair's kind by its times."""
    def overlaps(a: dict, b: dict) -> bool:
        return a["start_epoch"] <= b["end_epoch"] and b["start_epoch"] <= a["end_epoch"]
    for entry in report.comparison:
        if entry["kind"] == "gone":  # a new one overlapping it would have been its pair
            assert not any(overlaps(entry["live"], n["replayed"]) for n in report.comparison if n["kind"] == "new")
        if entry["kind"] in ("same", "verdict_changed"):
            assert overlaps(entry["live"], entry["replayed"])
    lives = [e["live"] for e in report.comparison if e["live"]]
    gone = [e["live"] for e in report.comparison if e["kind"] == "gone"]
    return (sum(e["review"] is not None for e in lives), sum(e["review"] == "false_alarm" for e in gone),
            sum(e["review"] == "confirmed" for e in gone), sum(e["kind"] == "new" for e in report.comparison))


def test_the_review_counts_false_alarms_gone_confirmed_lost_and_new_events(recorded) -> None:
    appliance, device_id, session = recorded
    reviewed(appliance)
    report = replay(appliance, device_id, rig.START, session.end + 1, SILENT)
    r = report.review
    counts = (r.reviewed, r.false_alarms_gone, r.confirmed_lost, r.new_unseen)
    assert counts == expected_review(report) and r.reviewed == 5
    assert r.false_alarms_gone + r.confirmed_lost > 0  # these thresholds do lose events
    assert report.summary == (f"with these settings: {len(report.replayed)} event{'s' * (len(report.replayed) != 1)}"
                              f" instead of 5; {r.false_alarms_gone} false alarm{'s' * (r.false_alarms_gone != 1)}"
                              f" gone, {r.confirmed_lost} confirmed lost"
                              + (f", {r.confirmed_changed} confirmed with another verdict" if r.confirmed_changed else "")
                              + (f"; {r.new_unseen} new nobody has seen" if r.new_unseen else ""))
    shape = report.to_json()
    assert set(shape) >= {"device_id", "since", "until", "overrides", "frames", "replayed", "live", "comparison",
                          "review", "scores", "summary"}
    assert [e["review"] for e in shape["live"]] == ["confirmed"] * 3 + ["false_alarm"] * 2


@pytest.mark.slow  # a suggestion replays the session up to 40 times: scripts/test --fast leaves it out
def test_the_suggestion_keeps_every_confirmed_event_and_what_it_claims_holds(recorded) -> None:
    appliance, device_id, session = recorded
    reviewed(appliance)
    calls: list[tuple[int, int]] = []
    found = suggest(appliance, device_id, rig.START, session.end + 1, progress=lambda d, t: calls.append((d, t)))
    assert found.rests_on == 5 and found.kept_confirmed == 3
    assert "rests on 5 reviewed events" in found.message
    assert 1 < found.replays <= 40 and calls and all(d <= t for d, t in calls)
    check = replay(appliance, device_id, rig.START, session.end + 1, found.overrides)
    assert check.review.confirmed_lost == 0 and check.review.confirmed_changed == 0
    assert check.review.false_alarms_gone == found.dropped_false_alarms
    best = max(t["dropped_false_alarms"] for t in found.tried if t["kept_confirmed"] == 3)
    assert found.dropped_false_alarms == best  # no candidate it tried did better


def test_roi_restricts_the_overrides_and_the_comparison_to_that_roi(recorded) -> None:
    appliance, device_id, session = recorded
    roi = appliance.db.scalar("SELECT id FROM rois WHERE name = 'shelf 2'")
    report = replay(appliance, device_id, rig.START, session.end + 1, SILENT, roi)
    assert report.live and all(any(r["roi_id"] == roi for r in e["rois"]) for e in report.live)
    assert {p["roi_id"] for p in report.scores} == {roi}
    untouched = replay(appliance, device_id, rig.START, rig.START + 30, SILENT, roi)
    assert untouched.live == []  # shelf 1's visits (before 30 s) do not touch shelf 2


def test_a_replay_is_cancelled_at_the_next_look_and_reports_progress(recorded) -> None:
    appliance, device_id, session = recorded
    calls: list[tuple[int, int]] = []
    with pytest.raises(ReplayCancelled):
        replay(appliance, device_id, rig.START, session.end + 1, progress=lambda d, t: calls.append((d, t)),
               cancelled=lambda: len(calls) >= 2)
    assert len(calls) == 2 and calls[-1][1] == len(session.jpegs)


def test_bad_requests_are_refused_with_a_clear_error(recorded) -> None:
    appliance, device_id, session = recorded
    with pytest.raises(DeviceNotFound):
        replay(appliance, "nope", rig.START, session.end)
    with pytest.raises(InvalidInput, match="since must be before until"):
        replay(appliance, device_id, session.end, rig.START)
    with pytest.raises(InvalidInput, match="unknown threshold 'start'"):
        replay(appliance, device_id, rig.START, session.end, {"start": 0.1})
    with pytest.raises(InvalidInput, match="start_threshold must be a number between"):
        replay(appliance, device_id, rig.START, session.end, {"start_threshold": 7})
    with pytest.raises(InvalidInput, match="end_threshold .* must not exceed start_threshold"):
        replay(appliance, device_id, rig.START, session.end, {"start_threshold": 0.01})
    with pytest.raises(RoiNotFound):
        replay(appliance, device_id, rig.START, session.end, roi_id=999)
    with pytest.raises(NoFramesKept, match="no frames of cam kept for replay lie in this span; they run from"
                                           " 2026-09-21T14:13:20.000Z to 2026-09-21T14:14:47.000Z"):
        replay(appliance, device_id, session.end + 3600, session.end + 7200)


def test_the_command_prints_the_events_side_by_side_and_json(recorded) -> None:
    appliance, device_id, session = recorded
    reviewed(appliance)
    span = ["--device", device_id, "--since", str(int(rig.START)), "--until", str(int(session.end + 1))]
    shown = cli(appliance.data_dir, *span)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("  same ") == 5 and "[false alarm]" in shown.stdout
    assert "with these settings: 5 events instead of 5; 0 false alarms gone, 0 confirmed lost" in shown.stdout
    as_json = cli(appliance.data_dir, *span, "--set", "start_threshold=1", "--set", "min_active_frames=20", "--json")
    shown_json = json.loads(as_json.stdout)
    assert shown_json["review"] == replay(appliance, device_id, rig.START, session.end + 1, SILENT).review.to_json()
    bad = cli(appliance.data_dir, *span, "--set", "start_threshold=lots")
    assert bad.returncode == 2 and "'lots' is not a number" in bad.stderr
    unknown = cli(appliance.data_dir, "--device", "nope", "--since", "1h")
    assert unknown.returncode == 1 and "no device 'nope'" in unknown.stderr


def test_a_long_replay_shows_a_progress_bar_on_stderr(recorded, monkeypatch) -> None:
    from click.testing import CliRunner

    from storewatch.cli import main
    from storewatch.cli import replay as command

    appliance, device_id, session = recorded
    monkeypatch.setattr(command, "PROGRESS_FROM", 100)  # the session is 175 frames; a real long one is 600+
    done = CliRunner().invoke(main, ["--data-dir", str(appliance.data_dir), "replay", "--device", device_id,
                                     "--since", str(int(rig.START)), "--until", str(int(session.end + 1))])
    assert done.exit_code == 0, done.output
    assert "replaying" in done.stderr and "replaying" not in done.stdout
    assert "with these settings: 5 events instead of 5" in done.stdout
