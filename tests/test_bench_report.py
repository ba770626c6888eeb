"""scripts/bench rewrites docs/PERFORMANCE.md: the hand-written sections it must carry over."""

from __future__ import annotations

from support import REPO
from support.scripts import load_script


def test_the_detection_section_is_carried_over_word_for_word(tmp_path):
    bench = load_script("bench")
    old = tmp_path / "PERFORMANCE.md"
    old.write_text("# Performance\n\n## Ingest: x\n\nfigures\n\n## Detection: `scripts/bench-detection`\n\n"
                   "| before | after |\n|---|---|\n| 4 | 0 |\n\n## What the reliability tests prove\n\nmore\n")
    kept = bench.kept_sections(old, bench.KEPT_SECTIONS)
    assert kept.splitlines()[0] == "## Detection: `scripts/bench-detection`"
    assert "| 4 | 0 |" in kept
    assert "Ingest" not in kept and "reliability" not in kept


def test_no_old_file_keeps_nothing(tmp_path):
    bench = load_script("bench")
    assert bench.kept_sections(tmp_path / "absent.md", bench.KEPT_SECTIONS) == ""


def test_the_real_performance_page_has_a_detection_section_to_keep():
    bench = load_script("bench")
    assert bench.kept_sections(REPO / "docs" / "PERFORMANCE.md", bench.KEPT_SECTIONS).startswith("## Detection")
