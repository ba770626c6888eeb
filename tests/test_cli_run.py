"""`storewatch run` as a real process: first-start password, the admin URL, a clean SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import REPO
from support.servers import free_port

pytestmark = pytest.mark.slow  # storewatch run from the command line, started and stopped as a user does: scripts/test --fast leaves it out


class Run:
    """A `storewatch run` process whose output is read line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, command: list[str] | None = None,
                 cwd: Path = REPO):
        self.process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "storewatch"]), *args], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if found := re.search(pattern, line):
                return found
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.kill()


def start(runs: list[Run], data_dir: Path | None, port: int, env: dict | None = None) -> Run:
    args = ["--data-dir", str(data_dir)] if data_dir else []
    run = Run([*args, "run", "--host", "127.0.0.1", "--port", str(port), "--camera", "none"], env)
    runs.append(run)
    return run


def test_first_start_prints_a_password_once_then_the_url_and_stops_on_sigterm(
        data_dir: Path, runs: list[Run]) -> None:
    port = free_port()
    run = start(runs, data_dir, port)
    password = run.wait_for(r"First start: the admin password is\s+(\S+)").group(1)
    # The hint names this data directory: a bare `storewatch admin set-password` would set the
    # password of the default one.
    run.wait_for(rf"Lost it\? `storewatch --data-dir '?{re.escape(str(data_dir))}'? admin set-password` sets a new one")
    url = run.wait_for(r"open (http://\S+) for the admin panel").group(1)
    assert url == f"http://127.0.0.1:{port}/"
    answer = httpx.post(f"{url}api/v1/admin/login", json={"password": password})
    assert answer.status_code == 200, answer.text
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0
    assert run.lines[-1] == "storewatch stopped."
    assert "Traceback" not in "\n".join(run.lines)

    again = start(runs, data_dir, port)
    again.wait_for(r"open http://")
    assert not any("password" in line for line in again.lines)
    again.process.send_signal(signal.SIGINT)
    assert again.finish() == 0
    assert not any("password" in line for line in again.lines)


def test_sigterm_waits_for_a_request_in_flight(data_dir: Path, runs: list[Run]) -> None:
    port = free_port()
    run = start(runs, data_dir, port)
    run.wait_for(r"open http://")
    # A slow upload: the body trickles in; SIGTERM arrives half way; the server drains it.
    body_started = threading.Event()
    result: dict = {}

    def slow_body() -> Iterator[bytes]:
        yield b'{"password": "'
        body_started.set()
        time.sleep(1.0)
        yield b'wrong password"}'

    def post() -> None:
        result["answer"] = httpx.post(f"http://127.0.0.1:{port}/api/v1/admin/login",
                                      content=slow_body(), headers={"content-type": "application/json"},
                                      timeout=20)

    client = threading.Thread(target=post)
    client.start()
    assert body_started.wait(10)
    time.sleep(0.2)
    run.process.send_signal(signal.SIGTERM)
    client.join(20)
    assert result["answer"].status_code == 401  # answered, not cut off
    assert run.finish() == 0


def test_the_data_directory_comes_from_the_environment(tmp_path: Path, runs: list[Run]) -> None:
    run = start(runs, None, free_port(), env={"STOREWATCH_DATA_DIR": str(tmp_path / "env-data")})
    run.wait_for(rf"data directory {re.escape(str(tmp_path / 'env-data'))}$")
    run.wait_for(r"open http://")
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0
    assert (tmp_path / "env-data" / "storewatch.db").exists()


def test_a_port_in_use_stops_the_start_saying_which_and_what_to_do(data_dir: Path, runs: list[Run]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = start(runs, data_dir, port)
        code = run.finish(timeout=30)
    assert code != 0
    said = "\n".join(run.lines)
    # Was uvicorn's bare "ERROR: [Errno 98] error while attempting to bind ...", and no next step.
    assert f"port {port} is already in use" in said and f"--port {port + 1}" in said, said
    assert "Errno" not in said and "Traceback" not in said, said
    assert not (data_dir / "server-address.json").exists()


def test_a_second_run_on_the_same_data_directory_names_the_one_running(data_dir: Path, runs: list[Run]) -> None:
    port = free_port()
    first = start(runs, data_dir, port)
    first.wait_for(r"open http://")
    second = start(runs, data_dir, port)
    assert second.finish(timeout=30) != 0
    said = "\n".join(second.lines)
    assert f"storewatch already runs on this data directory (process {first.process.pid}" in said, said
    first.process.send_signal(signal.SIGTERM)
    assert first.finish() == 0


def test_the_start_names_the_address_other_computers_open(data_dir: Path, runs: list[Run]) -> None:
    # Listening on 0.0.0.0 the local URL (127.0.0.1) opens nothing from a phone on the shop's
    # network; the address receivers are given ($STOREWATCH_PUBLIC_URL here) is printed too.
    run = start(runs, data_dir, free_port(), env={"STOREWATCH_PUBLIC_URL": "http://shop-pi.local:8080"})
    run.wait_for(r"open http://127\.0\.0\.1:\d+/ for the admin panel")
    run.wait_for(r"^From another computer or phone on the network: http://shop-pi\.local:8080/$")
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0


def test_only_the_local_address_is_printed_when_no_other_reaches_the_appliance(monkeypatch) -> None:
    from storewatch.cli.run import lan_url

    monkeypatch.delenv("STOREWATCH_PUBLIC_URL", raising=False)

    assert lan_url("127.0.0.1", 8080, "http://127.0.0.1:8080") is None
    assert lan_url("192.168.1.20", 8080, "http://192.168.1.20:8080") is None


def test_an_unknown_camera_source_is_refused_before_anything_starts(data_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), "run",
                           "--port", str(free_port()), "--camera", "webcam"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2 and "unknown frame source 'webcam'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_camera_tuning_options_reach_the_pi_camera(tmp_path: Path) -> None:
    from storewatch.camera.service import build_camera_client
    from storewatch.cli.camera import camera, tuning
    from storewatch.cli.run import run

    parsed = run.make_context("run", ["--camera", "picamera2", "--lock-exposure", "--mains-hz", "60"]).params
    options = tuning(parsed["lock_exposure"], parsed["lock_white_balance"], parsed["mains_hz"])
    assert options == {"lock_exposure": True, "lock_white_balance": False, "mains_hz": 60}
    client = build_camera_client(f"http://127.0.0.1:{free_port()}", "cam", "token", "picamera2", tmp_path,
                                 **options)
    assert (client.source.lock_exposure, client.source.lock_white_balance, client.source.mains_hz) == (True, False, 60)
    client.stop(0.1)
    standalone = camera.make_context("camera", ["--server", "http://x", "--device-id", "d", "--token-file",
                                                __file__, "--lock-white-balance", "--mains-hz", "50"]).params
    assert standalone["lock_white_balance"] and standalone["mains_hz"] == "50"
    with pytest.raises(Exception, match="'55' is not one of '50', '60'"):
        run.make_context("run", ["--mains-hz", "55"])


def test_a_start_that_fails_sets_no_password_so_the_next_start_shows_one(data_dir: Path, runs: list[Run]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        failed = start(runs, data_dir, taken.getsockname()[1])
        assert failed.finish(timeout=30) != 0
    assert not any("password" in line for line in failed.lines)
    run = start(runs, data_dir, free_port())
    password = run.wait_for(r"First start: the admin password is\s+(\S+)").group(1)
    url = run.wait_for(r"open (http://\S+) for the admin panel").group(1)
    assert httpx.post(f"{url}api/v1/admin/login", json={"password": password}).status_code == 200
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0


def test_run_records_its_address_for_doctor_and_removes_it_on_a_clean_stop(data_dir: Path, runs: list[Run]) -> None:
    from storewatch.ops import server_address

    port = free_port()
    run = start(runs, data_dir, port)
    run.wait_for(r"open http://")
    recorded = data_dir / server_address.FILE_NAME
    assert recorded.stat().st_mode & 0o777 == 0o600
    assert json.loads(recorded.read_text()) == {"url": f"http://127.0.0.1:{port}", "pid": run.process.pid}
    doctor = subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), "doctor", "--json",
                             "--camera", "none"], capture_output=True, text=True, cwd=REPO, timeout=60)
    [check] = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "server"]
    assert (check["status"], check["message"]) == ("OK", f"http://127.0.0.1:{port} answers"), doctor.stdout
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0
    assert not recorded.exists()

    killed = start(runs, data_dir, port)  # killed: the file stays, naming a process that is gone
    killed.wait_for(r"open http://")
    killed.kill()
    left = server_address.read(data_dir)
    assert left is not None and left.url == f"http://127.0.0.1:{port}" and not left.running


def test_the_readmes_first_run_example_needs_nothing_outside_the_clone() -> None:
    from storewatch.camera.sources import check_spec

    readme = (REPO / "README.md").read_text()
    example = re.search(r"for example\s+`scripts/run ([^`]*)`", readme)
    assert example is not None
    camera = re.search(r"--camera (\S+)", example.group(1)).group(1)
    check_spec(camera)  # refuses a name it does not know
    assert not camera.startswith("dir:"), "a folder example needs files a fresh clone may not have"
    assert "../shared" not in example.group(1)


def test_scripts_run_takes_the_data_directory_as_the_readme_says(tmp_path: Path, runs: list[Run]) -> None:
    # README: "Its arguments go to `storewatch run`" and "--data-dir DIR"; `--data-dir` is the
    # storewatch command's own option, so `scripts/run --data-dir DIR` was "No such option".
    # scripts/run as shipped, in a tree whose .venv runs this checkout (no venv is made).
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "run", tmp_path / "scripts" / "run")
    (tmp_path / "scripts" / "_venv.sh").write_text("ensure_venv() { :; }\n")
    (tmp_path / "setup.cfg").write_text("")
    storewatch = tmp_path / ".venv" / "bin" / "storewatch"
    storewatch.parent.mkdir(parents=True)
    storewatch.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m storewatch "$@"\n')
    storewatch.chmod(0o755)
    data_dir = tmp_path / "caller" / "given data"
    data_dir.parent.mkdir()
    # Given relative, it is the caller's directory's, though scripts/run moves to the checkout.
    run = Run(["--port", str(free_port()), "--data-dir", "given data", "--host", "127.0.0.1", "-v",
               "--camera", "none"], command=[str(tmp_path / "scripts" / "run")], cwd=data_dir.parent)
    runs.append(run)
    run.wait_for(rf"^storewatch: data directory {re.escape(str(data_dir))}$")
    run.wait_for(r"open http://")
    assert any(" DEBUG " in line for line in run.lines), "-v reaches storewatch too"
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0
    assert (data_dir / "storewatch.db").exists()
