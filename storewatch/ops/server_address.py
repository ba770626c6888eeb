"""Where the running appliance listens, so `storewatch doctor` (and a person) can find it.

`storewatch run` writes DATA_DIR/server-address.json once it serves (0600, temp+fsync+rename,
so a power cut leaves the old file or the new one) and removes it on a clean stop. A file
left by a killed process names a pid that is gone: it still says which address the
appliance used, and `running` says it is not running now.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from storewatch.durable import atomic_write

FILE_NAME = "server-address.json"


@dataclass(frozen=True)
class ServerAddress:
    url: str
    pid: int

    @property
    def running(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
        return True


def url_for(host: str, port: int) -> str:
    """The URL a local client uses for a server bound to `host`."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def write(data_dir: Path, host: str, port: int, pid: int | None = None) -> ServerAddress:
    address = ServerAddress(url_for(host, port), os.getpid() if pid is None else pid)
    atomic_write(Path(data_dir) / FILE_NAME, json.dumps({"url": address.url, "pid": address.pid}).encode())
    return address


def read(data_dir: Path) -> ServerAddress | None:
    """The recorded address, or None when there is none (or it cannot be read)."""
    try:
        body = json.loads((Path(data_dir) / FILE_NAME).read_text())
        url, pid = body["url"], body["pid"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(url, str) or not url.startswith("http") or type(pid) is not int or pid <= 0:
        return None
    return ServerAddress(url, pid)


def remove(data_dir: Path, pid: int | None = None) -> None:
    """Remove the file if it is this process's (a second `run` that failed leaves the first's)."""
    found = read(data_dir)
    if found is not None and found.pid == (os.getpid() if pid is None else pid):
        (Path(data_dir) / FILE_NAME).unlink(missing_ok=True)
