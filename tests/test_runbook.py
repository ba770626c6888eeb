"""Every `storewatch …` command in docs/RUNBOOK.md's and README.md's code blocks runs, in order,
on a scratch data dir.

Commands marked `# needs: …` (systemd, a Pi, a terminal, running forever) are checked only
for their command path and options existing. `# exit: 0,1` allows those exit codes.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from storewatch.appliance import Appliance
from storewatch.cli import main
from support import REPO
from support.frames import make_jpeg
from support.servers import start_live_server

RUNBOOK = REPO / "docs" / "RUNBOOK.md"
README = REPO / "README.md"
NEEDS = re.compile(r"#\s*needs:\s*([\w-]+)")
EXIT = re.compile(r"#\s*exit:\s*([\d,]+)")
SCRATCH_PREFIXES = ("/tmp/", "/var/backups/", "/media/usb/")


@dataclass(frozen=True)
class DocCommand:
    doc: str
    line_no: int
    text: str
    words: tuple[str, ...]
    needs: str | None
    exits: tuple[int, ...]


def doc_commands(doc: Path) -> list[DocCommand]:
    commands, in_block = [], False
    for line_no, line in enumerate(doc.read_text().splitlines(), 1):
        if line.startswith("```"):
            in_block = not in_block
            continue
        if not in_block or not line.startswith("storewatch "):
            continue
        needs, exits = NEEDS.search(line), EXIT.search(line)
        words = tuple(shlex.split(line, comments=True))[1:]
        commands.append(DocCommand(doc.name, line_no, line, words, needs.group(1) if needs else None,
                                   tuple(int(c) for c in exits.group(1).split(",")) if exits else (0,)))
    return commands


RUNBOOK_COMMANDS = doc_commands(RUNBOOK)
COMMANDS = [*RUNBOOK_COMMANDS, *doc_commands(README)]


def test_the_runbook_shows_the_commands_it_promises():
    shown = [" ".join(c.words) for c in RUNBOOK_COMMANDS]
    for promised in ("status", "doctor", "camera-test", "queue status", "queue retry --all-dead",
                     "retention run --dry-run", "db backup", "db check", "db restore", "device rotate-token",
                     "device add", "events export", "run "):
        assert any(line.startswith(promised) for line in shown), promised
    assert len(RUNBOOK_COMMANDS) >= 20


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A data directory with what the runbook's examples name: device pi-cam-1, frames, a dead job."""
    root = tmp_path_factory.mktemp("runbook")
    opened = Appliance(root / "data")
    try:
        opened.devices.add("Pi camera", "pi-cam-1")
        for seq in range(3):
            meta = {"device_id": "pi-cam-1", "capture_ts": "2026-11-24T05:47:30Z", "seq": seq, "width": 16,
                    "height": 16, "jpeg_quality": 80}
            opened.captures.store(meta, bytes([seq]) * 500)
        with opened.db.write() as conn:
            conn.execute("UPDATE jobs SET state = 'dead', last_error = 'example' WHERE seq = 0")
            conn.execute("INSERT INTO events (device_id, roi_name, type, start_ts, decision, created_at) VALUES"
                         " ('pi-cam-1', 'top', 'interaction_detected', '2026-11-24T05:47:30.000Z', 'changed', 'x')")
    finally:
        opened.close()
    return root


def _scratch_path(word: str, root: Path) -> str:
    for prefix in SCRATCH_PREFIXES:
        if word.startswith(prefix):
            target = root / "scratch" / word[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            return str(target)
    return word


def _resolve(words: tuple[str, ...]) -> tuple[list[str], click.Command, list[str]]:
    """(command path, the leaf command, the words after it)."""
    command: click.Command = main
    path: list[str] = []
    rest = list(words)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return path, command, rest


@pytest.mark.parametrize("doc", COMMANDS, ids=[f"{c.doc}:{c.line_no}" for c in COMMANDS])
def test_runbook_command(doc: DocCommand, scratch: Path, monkeypatch):
    path, command, rest = _resolve(doc.words)
    assert path and not isinstance(command, click.Group), f"{doc.text!r}: not a storewatch command"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in rest:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"{doc.text!r}: {command.name} has no option {word}"
    runner = CliRunner()
    env = {"STOREWATCH_DATA_DIR": str(scratch / "data")}
    if doc.needs:
        done = runner.invoke(main, [*path, "--help"], env=env)
        assert done.exit_code == 0, done.output
        return
    monkeypatch.chdir(scratch)
    words = [_scratch_path(word, scratch) for word in doc.words]
    done = runner.invoke(main, words, env=env)
    assert done.exit_code in doc.exits, f"{doc.text!r} exited {done.exit_code}:\n{done.output}\n{done.exception!r}"
    assert not isinstance(done.exception, Exception) or isinstance(done.exception, SystemExit), done.exception


def frame_curl(doc: Path) -> str:
    """The shown shell lines that post a frame: from `TS=` to the ingest URL."""
    text = doc.read_text()
    start = text.index("\nTS=$(date") + 1
    end = text.index("/api/v1/ingest/frame\n", start) + len("/api/v1/ingest/frame")
    return text[start:end]


@pytest.mark.parametrize("doc, device_id, size", [(README, "shelf-cam-2", (1640, 1232)),
                                                   (RUNBOOK, "esp32-door", (800, 600))],
                         ids=["README", "RUNBOOK"])
def test_the_shown_curl_posts_a_frame_the_appliance_stores(doc: Path, device_id: str, size: tuple[int, int],
                                                          tmp_path: Path):
    # Run as shown, in bash with curl: a fixed capture_ts there would go stale after 30 days.
    opened = Appliance(tmp_path / "data")
    try:
        _, token = opened.devices.add("Shown camera", device_id)
    finally:
        opened.close()
    (tmp_path / "frame.jpg").write_bytes(make_jpeg(*size))
    server = start_live_server(tmp_path / "data")
    try:
        shown = frame_curl(doc).replace("http://appliance:8080", server.url)
        done = subprocess.run(["bash", "-c", shown], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "TOKEN": token},
                              capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["device_id"] == device_id and answer["duplicate"] is False, answer


def _section(doc: Path, heading: str) -> str:
    text = doc.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def doctor_table() -> dict[str, str]:
    """The rows of the runbook's 'What each doctor failure means': check name (its ' …' dropped) -> row."""
    rows = [line for line in _section(RUNBOOK, "What each doctor failure means").splitlines()
            if line.startswith("| ") and not line.startswith(("| check ", "|---"))]
    return {line.split("|")[1].strip().removesuffix(" …"): line for line in rows}


def _row_of(name: str, table: dict[str, str]) -> str | None:
    return next((row for key, row in table.items() if name == key or name.startswith(key + " ")), None)


def test_every_check_doctor_can_warn_or_fail_on_has_a_row_in_the_runbook(tmp_path: Path):
    # `shelf areas cam-1` (a camera that watches no ROI) came to doctor with no row to say what it means.
    from storewatch.ops import doctor

    def systemctl(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(command, 3, "failed\n", "")

    opened = Appliance(tmp_path / "data")
    try:
        opened.devices.add("Shelf cam 2", "cam-1")  # never seen, and no shelf area
        checks = [*doctor.run_all(opened, None, camera="simulated", run=systemctl),
                  doctor.check_clock(systemctl, present=lambda: True),
                  *doctor.check_services(run=systemctl, present=lambda: True)]
    finally:
        opened.close()
    table = doctor_table()
    names = {check.name for check in checks if check.status != doctor.SKIP}
    assert {"shelf areas cam-1", "device cam-1", "service storewatch", "clock", "server"} <= names, names
    assert [name for name in sorted(names) if _row_of(name, table) is None] == []


def test_the_runbook_says_what_doctor_says_when_storewatch_run_is_not_running(tmp_path: Path):
    # The runbook said doctor asked http://127.0.0.1:8080 when no address was recorded; it says
    # 'storewatch run is not running on DATA_DIR' instead (and asks no default port).
    from storewatch.ops import doctor

    said = doctor.check_server_of(tmp_path, None).message.split(" (")[0].replace(str(tmp_path), "this data directory")
    assert said == "storewatch run is not running on this data directory"
    assert said in _row_of("server", doctor_table())
    first_look = " ".join(_section(RUNBOOK, "First look: status and doctor").split())  # as read, not as wrapped
    assert said in first_look and "127.0.0.1:8080" not in first_look
