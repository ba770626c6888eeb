"""Keep a long-running process's memory close to what it uses (glibc's allocator).

Frames are decoded and rendered into multi-megabyte buffers from several threads. With
glibc's defaults each thread gets its own arena and the mmap threshold grows after the
first large free, so freed frame buffers stay inside the heap and RSS creeps up by tens
of megabytes. Two arenas and a fixed mmap threshold return those buffers to the kernel
at once. Environment variables cannot do this for us: glibc reads them before Python
starts, so a systemd unit or a shell would each have to remember them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("storewatch.ops.memory")

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD_BYTES = 256 * 1024
ARENAS = 2


def tune_allocator() -> bool:
    """Apply the settings where the C library is glibc; True when applied."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, macOS: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = all(mallopt(option, value) == 1 for option, value in (
        (M_ARENA_MAX, ARENAS), (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_BYTES)))
    log.debug("allocator tuning %s", "applied" if applied else "refused")
    return applied
