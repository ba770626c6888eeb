"""scripts/bench-replay runs end to end (a short span) and prints its figures beside the decode,
and scripts/bench runs it with the others."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import REPO
from support.scripts import load_script


@pytest.mark.slow  # runs a benchmark script end to end: scripts/test --fast leaves it out
def test_the_replay_bench_prints_storage_replay_and_latency_beside_the_decode() -> None:
    done = subprocess.run([sys.executable, "scripts/bench-replay", "--frames", "240", "--size", "640x480",
                           "--latency-s", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for line in ("burst (2 fps):", "baseline (1 per 30 s):", "reduced decode (baseline)", "keep for replay",
                 "replay of the hour: 240 frames", "beside the reduced decode of the same frames",
                 "the legs' reports equal the serial ones in every field: yes",
                 "no replay", "replay on a nice-10 thread", "storewatch replay (own process, nice 10)"):
        assert line in out, out


def test_scripts_bench_runs_the_replay_bench_and_keeps_its_hand_written_section(tmp_path, monkeypatch) -> None:
    bench = load_script("bench")
    ran: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(bench, "run_script", lambda name, args, timeout: (ran.append((name, args)), ("(not run)", 0.0))[1])
    monkeypatch.setattr(bench, "nbody_ratio", lambda steps: (1.0, 5.0))
    out = tmp_path / "PERFORMANCE.md"
    out.write_text((REPO / "docs" / "PERFORMANCE.md").read_text())
    monkeypatch.setattr(sys, "argv", ["bench", "--quick", "--out", str(out)])
    assert bench.main() == 0
    assert ("bench-replay", ["--frames", "1200", "--size", "640x480", "--latency-s", "5"]) in ran
    text = out.read_text().splitlines()
    assert "## Replay, this run: `scripts/bench-replay`" in text
    assert "## Replay: `scripts/bench-replay`" in text and any(line.startswith("## The panel's replays") for line in text)
