"""Which board this is: on a Raspberry Pi, `auto` means the Pi camera and nothing else."""

from __future__ import annotations

from pathlib import Path

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def raspberry_pi_model(model_file: Path = DEVICE_TREE_MODEL) -> str | None:
    """The board's model ("Raspberry Pi 4 Model B Rev 1.5") when it is a Pi, else None."""
    try:
        text = Path(model_file).read_bytes().rstrip(b"\0").decode("utf-8", "replace").strip()
    except OSError:
        return None
    return text if "Raspberry Pi" in text else None
