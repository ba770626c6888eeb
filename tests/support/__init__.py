"""What the tests share: helpers, not tests (pytest collects nothing here).

- `support` itself: REPO, ARTIFACTS (screenshots and logs a run keeps), ADMIN_PASSWORD.
- frames: make_jpeg, capture_ts.
- servers: free_port, LiveServer / start_live_server (`storewatch run` in a subprocess, for
  socket, raw-ESP32, crash and browser tests), in_process_server (a real uvicorn in a thread),
  AppClient / app_client (the app in this process through httpx.ASGITransport: no socket).
- api: assert_error (the API's one error shape, server/errors.py).
- waiting: wait_for (bounded polling).
- scripts: load_script (a scripts/ file without a .py ending as a module).
- load: the twenty-camera soak and the burst memory run (a test and its benchmark share them).
- browser, raw_http, mosquitto, mounts, reliability, notify, worker, shelf_scenes, footage,
  jpeg_bombs, detection_bench, fake_picamera2: the rigs of the suites that use them (replay
  and verdict_matrix belong to the replay and verdict work).

tests/ is on sys.path while pytest runs (rootdir conftest), so tests import `support.x`.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
ADMIN_PASSWORD = "correct horse battery"
