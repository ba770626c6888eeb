"""The device's own health for heartbeats: CPU temperature and free disk."""

from __future__ import annotations

import shutil
from pathlib import Path

THERMAL_ZONES = Path("/sys/class/thermal")


def cpu_temp_c(zones: Path = THERMAL_ZONES) -> float | None:
    """The CPU temperature from the kernel's thermal zones, where the machine has them."""
    candidates = sorted(zones.glob("thermal_zone*/temp")) if zones.is_dir() else []
    for path in candidates:
        kind = path.with_name("type")
        label = kind.read_text().strip().lower() if kind.exists() else ""
        if label and "cpu" not in label and "soc" not in label and len(candidates) > 1:
            continue
        try:
            return round(int(path.read_text().strip()) / 1000.0, 1)
        except (OSError, ValueError):
            continue
    return None


def disk_free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None
