"""The systemd units and install-pi say what the device side needs."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = ("storewatch.service", "storewatch-camera.service")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((ROOT / "systemd" / name).read_text())
    return parser


@pytest.mark.parametrize("name", UNITS)
def test_unit_is_notify_with_watchdog_and_restarts_forever(name):
    unit = _unit(name)
    service = unit["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "always" and unit["Unit"]["StartLimitIntervalSec"] == "0"
    assert service["User"] == "storewatch" and service["SupplementaryGroups"] == "video"
    assert service["StateDirectory"] == "storewatch"
    assert "STOREWATCH_DATA_DIR=/var/lib/storewatch" in (ROOT / "systemd" / name).read_text()


@pytest.mark.parametrize("name", UNITS)
def test_unit_is_hardened_but_keeps_the_camera_devices(name):
    text = (ROOT / "systemd" / name).read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "DeviceAllow=char-video4linux rw", "DeviceAllow=char-media rw", "DeviceAllow=char-dma_heap rw"):
        assert line in text.splitlines()
    assert "PrivateDevices=yes" not in text


def test_camera_unit_runs_the_standalone_client_with_a_credential():
    exec_start = _unit("storewatch-camera.service")["Service"]["ExecStart"]
    assert exec_start.startswith("/opt/storewatch/venv/bin/storewatch camera ")
    for option in ("--server", "--device-id", "--token-file %d/token", "--source", "--auth"):
        assert option in exec_start


def test_appliance_unit_runs_storewatch_run_with_the_pi_camera_named():
    exec_start = _unit("storewatch.service")["Service"]["ExecStart"]
    assert " run " in exec_start and "--camera picamera2" in exec_start and "auto" not in exec_start


def test_camera_unit_defaults_to_the_pi_camera():
    text = (ROOT / "systemd" / "storewatch-camera.service").read_text()
    assert "Environment=STOREWATCH_SOURCE=picamera2" in text.splitlines()


def test_install_pi_is_valid_bash_and_makes_a_system_site_packages_venv():
    script = ROOT / "scripts" / "install-pi"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "python3-picamera2" in text and "--system-site-packages" in text and "/opt/storewatch/venv" in text
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(script)], check=True)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_finds_nothing_but_the_missing_install(name):
    result = subprocess.run(["systemd-analyze", "verify", str(ROOT / "systemd" / name)],
                            capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and "/opt/storewatch/venv/bin/storewatch is not executable" not in line]
    assert problems == []
