"""Shared by the crash, client-fault, load and memory tests and by the benchmarks.

Frames (real JPEGs with known bytes), posting clients that record every answer, a TCP
proxy that can refuse, cut or stall connections, process-tree RSS and CPU sampling from
/proc, and the consistency checks run on a data directory after the appliance stopped.
"""

from __future__ import annotations

import collections
import hashlib
import os
import random
import select
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from storewatch import contract
from storewatch.store import Database
from storewatch.store.images import EVENTS, STAGING
from storewatch.durable import TEMP_PREFIX
from support.waiting import wait_for

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- frames ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    seq: int
    epoch: float
    jpeg: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jpeg).hexdigest()

    def meta(self, device_id: str) -> dict[str, Any]:
        stamp = contract.format_timestamp(datetime.fromtimestamp(self.epoch, timezone.utc))
        return {"device_id": device_id, "seq": self.seq, "capture_ts": stamp, "width": self.width,
                "height": self.height, "jpeg_quality": 85}


def frames_from(jpegs: Iterable[bytes], size: tuple[int, int], start_epoch: float, step_s: float = 0.5,
                first_seq: int = 1) -> list[Frame]:
    return [Frame(first_seq + i, start_epoch + i * step_s, data, *size) for i, data in enumerate(jpegs)]


# --- a device posting frames -------------------------------------------------------------


@dataclass
class PostLog:
    acked: dict[int, int] = field(default_factory=dict)  # seq -> first 2xx status
    statuses: collections.Counter = field(default_factory=collections.Counter)  # status or error name
    latencies_s: list[float] = field(default_factory=list)  # of the 2xx answers
    sent_at: dict[int, float] = field(default_factory=dict)  # seq -> wall time of the acked POST


class FramePoster(threading.Thread):
    """One device uploading its frames in seq order, like a camera: every frame is retried
    (network errors, 5xx, 429, 507) until a 2xx, then the next. `interval_s` paces the
    frames (a camera's rate); every answer is recorded."""

    def __init__(self, base_url: str, device_id: str, token: str, frames: list[Frame],
                 interval_s: float = 0.0, timeout_s: float = 10.0, retry_s: float = 0.1,
                 give_up: threading.Event | None = None):
        super().__init__(name=f"poster-{device_id}", daemon=True)
        self.base_url, self.device_id, self.token = base_url, device_id, token
        self.frames, self.interval_s, self.timeout_s, self.retry_s = frames, interval_s, timeout_s, retry_s
        self.give_up = give_up or threading.Event()
        self.log = PostLog()
        self.refused: list[tuple[int, int, str]] = []  # (seq, status, body) of 4xx other than 429/507

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s,
                          headers={"Authorization": f"Bearer {self.token}"}) as client:
            next_due = time.monotonic()
            for frame in self.frames:
                if self.interval_s:
                    time.sleep(max(0.0, next_due - time.monotonic()))
                    next_due = max(next_due + self.interval_s, time.monotonic() - self.interval_s)
                if not self._deliver(client, frame):
                    return

    def _deliver(self, client: httpx.Client, frame: Frame) -> bool:
        files = {"meta": (None, contract.encode_meta(frame.meta(self.device_id)), "application/json"),
                 "image": ("frame.jpg", frame.jpeg, "image/jpeg")}
        while not self.give_up.is_set():
            started = time.monotonic()
            try:
                answer = client.post(contract.INGEST_FRAME_PATH, files=files)
            except httpx.HTTPError as exc:
                self.log.statuses[type(exc).__name__] += 1
                self.give_up.wait(self.retry_s * random.uniform(1, 2))
                continue
            self.log.statuses[answer.status_code] += 1
            if answer.is_success:
                self.log.acked.setdefault(frame.seq, answer.status_code)
                self.log.latencies_s.append(time.monotonic() - started)
                self.log.sent_at.setdefault(frame.seq, time.time())
                return True
            if answer.status_code in contract.RETRYABLE_STATUSES or answer.status_code >= 500:
                self.give_up.wait(self.retry_s * random.uniform(1, 2))
                continue
            self.refused.append((frame.seq, answer.status_code, answer.text[:300]))
            return True
        return False


# --- a TCP proxy that fails on command ---------------------------------------------------


class TcpProxy:
    """127.0.0.1:port -> upstream, with the failures a LAN has.

    `down()` closes the listener and every connection (connection refused); `up()` listens
    again on the same port; `cut()` resets the open connections mid-request; `stall(True)`
    keeps accepting but forwards nothing, so clients time out.
    """

    def __init__(self, upstream_port: int, port: int = 0):
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = port
        self.stalled = False
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="proxy-accept").start()

    def down(self) -> None:
        if self._listener is not None:
            # close() alone leaves the kernel socket listening while accept() blocks on it
            # in another thread; shutdown() wakes that accept() and stops new connections.
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        self.cut()

    def cut(self) -> None:
        with self._lock:
            victims, self._open = list(self._open), set()
        for sock in victims:
            _reset(sock)

    def stall(self, on: bool) -> None:
        self.stalled = on

    def close(self) -> None:
        self._closed.set()
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:  # the server is down: the client sees its connection reset
                _reset(client)
                continue
            with self._lock:
                self._open |= {client, upstream}
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.1)
                if self.stalled:
                    continue
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open -= {a, b}
            for sock in (a, b):
                sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a dropped link or a crashed peer looks."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    except OSError:
        pass


# --- processes: RSS and CPU from /proc ---------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc/*/stat parent pids)."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += parents.get(current, [])
    return tree


def rss_kb(pid: int) -> int:
    """VmRSS of one process, in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> int:
    return sum(rss_kb(p) for p in process_tree(pid))


def cpu_s(pid: int) -> float:
    """utime + stime of a process so far, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_s(pid: int) -> float:
    return sum(cpu_s(p) for p in process_tree(pid))


class Sampler(threading.Thread):
    """Calls `probe()` every `every_s` and keeps (seconds since start, value) pairs."""

    def __init__(self, probe: Callable[[], float], every_s: float = 1.0):
        super().__init__(daemon=True, name="sampler")
        self.probe, self.every_s = probe, every_s
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while True:
            self.samples.append((time.monotonic() - self._t0, self.probe()))
            if self._halt.wait(self.every_s):
                return

    def stop(self) -> list[tuple[float, float]]:
        self._halt.set()
        self.join(5)
        return self.samples

    def values(self, since_s: float = 0.0, until_s: float = float("inf")) -> list[float]:
        return [value for at, value in self.samples if since_s <= at <= until_s]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary_ms(values_s: list[float]) -> str:
    if not values_s:
        return "no samples"
    ms = [v * 1000 for v in values_s]
    return (f"n={len(ms)} p50={percentile(ms, 50):.1f} p95={percentile(ms, 95):.1f} "
            f"p99={percentile(ms, 99):.1f} max={max(ms):.1f} mean={statistics.fmean(ms):.1f} ms")


# --- the data directory after a run ------------------------------------------------------


def open_db(data_dir: Path) -> Database:
    return Database(Path(data_dir) / "storewatch.db", migrate_schema=False)


def pending_jobs(db: Database) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running', 'failed')"))


def traces(data_dir: Path) -> tuple[int, int, frozenset[str]]:
    """What a request can leave: the newest capture and job row ids, and the staging files."""
    import apsw

    conn = apsw.Connection(str(data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        capture = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM captures").fetchone()[0]
        job = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM jobs").fetchone()[0]
    finally:
        conn.close()
    staging = data_dir / "staging"
    files = frozenset(str(p) for p in staging.rglob("*") if p.is_file()) if staging.exists() else frozenset()
    return capture, job, files


def image_files(data_dir: Path) -> tuple[set[str], list[str]]:
    """(image files under staging/ and events/ as relative paths, temp files left behind)."""
    files, temps = set(), []
    for top in (STAGING, EVENTS):
        for path in (Path(data_dir) / top).rglob("*"):
            if path.is_file():
                relative = str(path.relative_to(data_dir))
                (temps.append(relative) if path.name.startswith(TEMP_PREFIX) else files.add(relative))
    return files, temps


def disk_and_database_problems(data_dir: Path, db: Database) -> list[str]:
    """Every disagreement between the image files and the rows that name them."""
    problems = []
    check = db.query("PRAGMA integrity_check")
    if [next(iter(row.values())) for row in check] != ["ok"]:
        problems.append(f"integrity_check: {check}")
    files, temps = image_files(data_dir)
    if temps:
        problems.append(f"{len(temps)} temp files left: {temps[:5]}")
    rows = {r["path"]: r for r in db.query("SELECT path, sha256, 'capture' AS kind FROM captures")}
    rows.update({r["path"]: r for r in db.query("SELECT path, NULL AS sha256, 'event' AS kind FROM event_images")})
    orphans = sorted(files - set(rows))
    if orphans:
        problems.append(f"{len(orphans)} files without a row: {orphans[:5]}")
    missing = sorted(set(rows) - files)
    if missing:
        problems.append(f"{len(missing)} rows without a file: {missing[:5]}")
    for path, row in rows.items():
        if row["sha256"] and path in files:
            actual = hashlib.sha256((Path(data_dir) / path).read_bytes()).hexdigest()
            if actual != row["sha256"]:
                problems.append(f"{path}: sha256 {actual[:12]} but the row says {row['sha256'][:12]}")
    return problems


# --- load: many devices at a steady rate -------------------------------------------------


@dataclass
class LoadResult:
    devices: int
    rate_hz: float
    duration_s: float
    frames_sent: int
    frames_acked: int
    refused: int
    ingest_latencies_s: list[float]
    analysis_latencies_s: list[float]  # captures.received_at -> jobs.finished_at
    queue_depth: list[tuple[float, float]]  # (s, unfinished jobs)
    rss_kb: list[tuple[float, float]]  # (s, server tree VmRSS)
    cpu_s: float  # server tree utime+stime during the load and its drain
    drain_s: float  # after the last upload, until every job was finished
    statuses: collections.Counter

    @property
    def cpu_ms_per_frame(self) -> float:
        return self.cpu_s * 1000 / max(1, self.frames_acked)

    def rss_mb(self, since_s: float = 0.0, until_s: float = float("inf")) -> list[float]:
        return [kb / 1024 for at, kb in self.rss_kb if since_s <= at <= until_s]

    def lines(self) -> list[str]:
        depth = [d for _, d in self.queue_depth]
        rss = self.rss_mb()
        return [
            f"{self.devices} devices x {self.rate_hz:g} frame/s for {self.duration_s:.0f} s: "
            f"{self.frames_acked}/{self.frames_sent} acknowledged, {self.refused} refused, answers {dict(self.statuses)}",
            f"ingest latency: {summary_ms(self.ingest_latencies_s)}",
            f"received -> analysed: {summary_ms(self.analysis_latencies_s)}",
            f"queue depth (unfinished jobs, sampled each second): max {max(depth, default=0):.0f}, "
            f"mean {statistics.fmean(depth) if depth else 0:.1f}; drained {self.drain_s:.1f} s after the last upload",
            f"server RSS: first {rss[0]:.1f} MB, max {max(rss):.1f} MB, last {rss[-1]:.1f} MB" if rss else "no RSS",
            f"server CPU: {self.cpu_s:.1f} s = {self.cpu_ms_per_frame:.1f} ms per frame (ingest + analysis)",
        ]


def run_load(data_dir: Path, url: str, pid: int, tokens: dict[str, str], jpegs: list[bytes],
             size: tuple[int, int], rate_hz: float, duration_s: float, drain_timeout_s: float = 60.0) -> LoadResult:
    """Every device posts `rate_hz` frames a second for `duration_s` (the JPEGs cycled),
    starts staggered over one interval; then waits for the analysis to catch up."""
    count = int(duration_s * rate_hz)
    start_epoch = time.time()
    posters = []
    for i, (device_id, token) in enumerate(tokens.items()):
        frames = frames_from((jpegs[(i + k) % len(jpegs)] for k in range(count)), size, start_epoch,
                             step_s=1 / rate_hz)
        posters.append(FramePoster(url, device_id, token, frames, interval_s=1 / rate_hz, timeout_s=30))
    db = open_db(data_dir)
    depth = Sampler(lambda: pending_jobs(db))
    rss = Sampler(lambda: tree_rss_kb(pid))
    cpu_before = tree_cpu_s(pid)
    depth.start()
    rss.start()
    for i, poster in enumerate(posters):
        threading.Timer(i / len(posters) / rate_hz, poster.start).start()
    time.sleep(1 / rate_hz + 0.1)
    for poster in posters:
        poster.join(duration_s * 3 + 60)
    uploaded = time.monotonic()
    wait_for(lambda: pending_jobs(db) == 0, drain_timeout_s, "the analysis to catch up")
    drain_s = time.monotonic() - uploaded
    cpu = tree_cpu_s(pid) - cpu_before
    depth.stop()
    rss.stop()
    rows = db.query("SELECT c.received_at, j.finished_at FROM jobs j JOIN captures c ON c.id = j.capture_id"
                    " WHERE j.finished_at IS NOT NULL")
    db.close()
    analysed = [(contract.parse_timestamp(r["finished_at"]) - contract.parse_timestamp(r["received_at"]))
                .total_seconds() for r in rows]
    statuses: collections.Counter = collections.Counter()
    for poster in posters:
        statuses.update(poster.log.statuses)
    return LoadResult(
        devices=len(tokens), rate_hz=rate_hz, duration_s=duration_s, frames_sent=count * len(posters),
        frames_acked=sum(len(p.log.acked) for p in posters), refused=sum(len(p.refused) for p in posters),
        ingest_latencies_s=[v for p in posters for v in p.log.latencies_s], analysis_latencies_s=analysed,
        queue_depth=depth.samples, rss_kb=rss.samples, cpu_s=cpu, drain_s=drain_s, statuses=statuses)


def shelf_jpegs(count: int, size: tuple[int, int] = (1640, 1232)) -> list[bytes]:
    """`count` frames of the still rendered shelf (each with its own sensor noise)."""
    from support import shelf_scenes

    return shelf_scenes.Sequence([shelf_scenes.Frame()] * count, shelf_scenes.uniform_times(count), size).render().jpegs
