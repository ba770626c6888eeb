"""The device contract (shared/CONTRACT.md) against a real `storewatch run` on 127.0.0.1."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import apsw
import httpx
import pytest

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.camera.modes import DEFAULT_CONFIG, clean_config
from support.frames import capture_ts, make_jpeg
from support.servers import LiveServer, Requests, start_live_server
from support.api import assert_error

FRAME = contract.INGEST_FRAME_PATH


def meta_for(device_id: str, seq: int, width: int = 64, height: int = 48, **extra) -> dict:
    return {"device_id": device_id, "capture_ts": capture_ts(), "seq": seq,
            "width": width, "height": height, "jpeg_quality": 85, **extra}


def post_frame(server: Requests, token: str, meta: dict | str | bytes, image: bytes | None,
               headers: dict | None = None) -> httpx.Response:
    files: dict = {}
    if meta is not None:
        raw = meta if isinstance(meta, (str, bytes)) else json.dumps(meta)
        files["meta"] = (None, raw, "application/json")
    if image is not None:
        files["image"] = ("frame.jpg", image, "image/jpeg")
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return server.post(FRAME, files=files, headers={**auth, **(headers or {})}, timeout=30)


def stored(server: Requests) -> tuple[int, int, list[Path]]:
    """(capture rows, job rows, staging files) as they are on disk now."""
    conn = apsw.Connection(str(server.data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        captures = conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
        jobs = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    finally:
        conn.close()
    staging = server.data_dir / "staging"
    files = sorted(p for p in staging.rglob("*") if p.is_file()) if staging.exists() else []
    return captures, jobs, files


def assert_nothing_stored(server: Requests) -> None:
    assert stored(server) == (0, 0, [])


# --- success and idempotency -------------------------------------------------------------


def test_a_frame_is_stored_with_its_job_and_the_answer_carries_mode(app, app_device):
    device_id, token = app_device
    image = make_jpeg(64, 48)
    answer = post_frame(app, token, meta_for(device_id, 7, rssi=-60, mode="baseline"), image)
    assert answer.status_code == 201
    body = answer.json()
    assert body["device_id"] == device_id and body["seq"] == 7 and body["duplicate"] is False
    assert body["mode"] == "baseline" and body["config_version"].startswith("c")
    assert isinstance(body["capture_id"], int)
    captures, jobs, files = stored(app)
    assert (captures, jobs) == (1, 1)
    assert len(files) == 1 and files[0].read_bytes() == image


def test_an_exact_resend_answers_the_first_result_as_duplicate(app, app_device):
    device_id, token = app_device
    image = make_jpeg()
    first = post_frame(app, token, meta_for(device_id, 1), image)
    again = post_frame(app, token, meta_for(device_id, 1), image)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert stored(app)[:2] == (1, 1)


def test_the_same_seq_with_other_bytes_is_a_conflict_that_stores_nothing(app, app_device):
    device_id, token = app_device
    post_frame(app, token, meta_for(device_id, 1), make_jpeg(seed=1))
    before = stored(app)
    assert_error(post_frame(app, token, meta_for(device_id, 1), make_jpeg(seed=2)), 409,
                 "seq_conflict")
    assert stored(app) == before


def test_concurrent_duplicates_store_one_frame(app, app_device):
    device_id, token = app_device
    image = make_jpeg(seed=5)
    results: list[int] = []

    def send() -> None:
        results.append(post_frame(app, token, meta_for(device_id, 3), image).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200] * 7 + [201]
    captures, jobs, files = stored(app)
    assert (captures, jobs, len(files)) == (1, 1, 1)


def test_concurrent_conflicting_uploads_keep_exactly_one(app, app_device):
    device_id, token = app_device
    results: list[int] = []

    def send(seed: int) -> None:
        results.append(post_frame(app, token, meta_for(device_id, 4), make_jpeg(seed=seed)).status_code)

    threads = [threading.Thread(target=send, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [201] + [409] * 5
    captures, jobs, files = stored(app)
    assert (captures, jobs, len(files)) == (1, 1, 1)


# --- 400: the form itself ----------------------------------------------------------------


@pytest.mark.parametrize("case", ["json_body", "no_meta", "no_image", "meta_not_json", "meta_array",
                                  "truncated", "no_boundary"])
def test_malformed_forms_are_400_and_store_nothing(app, app_device, case):
    device_id, token = app_device
    auth = {"Authorization": f"Bearer {token}"}
    image = make_jpeg()
    if case == "json_body":
        answer = app.post(FRAME, json=meta_for(device_id, 1), headers=auth)
    elif case == "no_meta":
        answer = post_frame(app, token, None, image)
    elif case == "no_image":
        answer = post_frame(app, token, meta_for(device_id, 1), None)
    elif case == "meta_not_json":
        answer = post_frame(app, token, b"{not json", image)
    elif case == "meta_array":
        answer = post_frame(app, token, "[1, 2]", image)
    elif case == "truncated":
        body, content_type = _multipart(meta_for(device_id, 1), image)
        answer = app.post(FRAME, content=body[: len(body) - 40],
                          headers={**auth, "Content-Type": content_type})
    else:
        body, _ = _multipart(meta_for(device_id, 1), image)
        answer = app.post(FRAME, content=body,
                          headers={**auth, "Content-Type": "multipart/form-data"})
    assert_error(answer, 400)
    assert_nothing_stored(app)


def _multipart(meta: dict, image: bytes, boundary: str = "storewatchBOUNDARY") -> tuple[bytes, str]:
    """A body built by hand, as an ESP32 does: fixed boundary, meta first, file part last."""
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\n"
        f"Content-Type: application/json\r\n\r\n{json.dumps(meta)}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n"
    ).encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_too_many_parts_is_refused(app, app_device):
    device_id, token = app_device
    boundary = "b0und"
    extra = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"x{i}\"\r\n\r\nv\r\n"
                    for i in range(20))
    body, content_type = _multipart(meta_for(device_id, 1), make_jpeg(), boundary)
    answer = app.post(FRAME, content=extra.encode() + body,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    assert_error(answer, 400, "too_many_parts")
    assert_nothing_stored(app)


# --- 401 / 403: who is calling -----------------------------------------------------------


def test_missing_or_unknown_credentials_are_401(app, app_device):
    device_id, _ = app_device
    assert_error(post_frame(app, "", meta_for(device_id, 1), make_jpeg()), 401)
    assert_error(post_frame(app, "swd_not-a-real-token", meta_for(device_id, 1), make_jpeg()), 401)
    assert_error(post_frame(app, "", meta_for(device_id, 1), make_jpeg(),
                            headers={"Authorization": "Basic abc"}), 401)
    assert_nothing_stored(app)


def test_a_token_for_another_device_is_403(app, app_device):
    _, token = app_device
    other, _ = app.add_device("other")
    assert_error(post_frame(app, token, meta_for(other, 1), make_jpeg()), 403, "wrong_device")
    assert_nothing_stored(app)


def test_a_disabled_device_is_403_until_enabled(app, app_device):
    device_id, token = app_device
    with app.admin_client() as admin:
        admin.patch(f"/api/v1/admin/devices/{device_id}", json={"enabled": False}).raise_for_status()
        assert_error(post_frame(app, token, meta_for(device_id, 1), make_jpeg()), 403,
                     "device_disabled")
        assert_nothing_stored(app)
        admin.patch(f"/api/v1/admin/devices/{device_id}", json={"enabled": True}).raise_for_status()
    assert post_frame(app, token, meta_for(device_id, 1), make_jpeg()).status_code == 201


# --- HMAC ---------------------------------------------------------------------------------


def _signed_post(server: Requests, device_id: str, key: str, seq: int, *, now: float | None = None,
                 nonce: str | None = None, tamper: bool = False) -> httpx.Response:
    body, content_type = _multipart(meta_for(device_id, seq), make_jpeg(seed=seq))
    headers = contract.hmac_headers(device_id, key, "POST", FRAME, body,
                                    time.time() if now is None else now,
                                    nonce or secrets.token_hex(16))
    sent = body.replace(b"jpeg_quality\": 85", b"jpeg_quality\": 84") if tamper else body
    return server.post(FRAME, content=sent, headers={**headers, "Content-Type": content_type})


def test_hmac_signed_uploads_are_accepted(app):
    device_id, token = app.add_device("signer", "hmac")
    assert _signed_post(app, device_id, token, 1).status_code == 201


def test_hmac_rejects_stale_replayed_wrong_key_and_tampered(app):
    device_id, token = app.add_device("signer", "hmac")
    assert_error(_signed_post(app, device_id, token, 1, now=time.time() - 301), 401)
    # Ahead by more than the 300 s window with room to spare: the server reads its clock only when the
    # request arrives, and a request 1 s ahead of the limit reached a loaded server inside it.
    assert_error(_signed_post(app, device_id, token, 1, now=time.time() + 330), 401)
    assert_error(_signed_post(app, device_id, "swd_wrong", 1), 401)
    assert_error(_signed_post(app, device_id, token, 1, tamper=True), 401)
    assert_error(_signed_post(app, device_id, token, 1, nonce="short"), 401)
    assert_nothing_stored(app)
    nonce = secrets.token_hex(16)
    assert _signed_post(app, device_id, token, 2, nonce=nonce).status_code == 201
    assert_error(_signed_post(app, device_id, token, 3, nonce=nonce), 401)  # replay
    assert stored(app)[0] == 1


def test_an_hmac_device_may_not_use_its_token_as_bearer(app):
    device_id, token = app.add_device("signer", "hmac")
    assert_error(post_frame(app, token, meta_for(device_id, 1), make_jpeg()), 401)


# --- 413 / 415 / 422 ---------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_by_header_and_while_streaming(app, app_device):
    device_id, token = app_device
    big = make_jpeg() + b"\0" * (10 * 1024 * 1024)
    assert_error(post_frame(app, token, meta_for(device_id, 1), big), 413)

    def chunks():
        body, _ = _multipart(meta_for(device_id, 2), make_jpeg())
        yield body[:200]
        for _ in range(12):
            yield b"\0" * (1024 * 1024)

    _, content_type = _multipart(meta_for(device_id, 2), make_jpeg())
    answer = app.post(FRAME, content=chunks(),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    assert_error(answer, 413)
    assert_nothing_stored(app)


@pytest.mark.parametrize("image", [b"not a jpeg at all", b"\xff\xd8\xff\xe0garbage", "truncated", "png"])
def test_an_image_that_is_not_a_decodable_jpeg_is_415(app, app_device, image):
    device_id, token = app_device
    if image == "truncated":
        image = make_jpeg(640, 480)[:3000]
    elif image == "png":
        import io

        from PIL import Image
        out = io.BytesIO()
        Image.new("RGB", (64, 48)).save(out, format="PNG")
        image = out.getvalue()
    assert_error(post_frame(app, token, meta_for(device_id, 1), image), 415, "not_a_jpeg")
    assert_nothing_stored(app)


def test_a_jpeg_bomb_is_refused_before_decoding(app, app_device):
    device_id, token = app_device
    header = bytearray(make_jpeg(64, 48))
    sof = header.find(b"\xff\xc0")
    header[sof + 5:sof + 9] = (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")
    answer = post_frame(app, token, meta_for(device_id, 1, width=8192, height=8192), bytes(header))
    assert_error(answer, 415)
    assert_nothing_stored(app)


@pytest.mark.parametrize("field,value", [
    ("seq", -1), ("seq", 2**63), ("seq", "1"), ("seq", 1.5), ("seq", True),
    ("width", 15), ("height", 8193), ("jpeg_quality", 0), ("jpeg_quality", 101),
    ("capture_ts", "2026-11-24 05:47"), ("capture_ts", "2026-11-24T05:47:30"), ("capture_ts", 5),
    ("rssi", 1), ("rssi", -128), ("fw_version", "x" * 65), ("notes", "n" * 513), ("mode", "turbo"),
])
def test_bad_meta_fields_are_422_with_one_entry_per_field(app, app_device, field, value):
    device_id, token = app_device
    meta = {**meta_for(device_id, 1), field: value}
    error = assert_error(post_frame(app, token, meta, make_jpeg()), 422)
    assert [d["field"] for d in error["details"]] == [field]
    assert_nothing_stored(app)


def test_missing_fields_are_each_reported(app, app_device):
    device_id, token = app_device
    error = assert_error(post_frame(app, token, {"device_id": device_id}, make_jpeg()), 422)
    assert {d["field"] for d in error["details"]} == {"capture_ts", "seq", "width", "height", "jpeg_quality"}


def test_dimensions_must_match_the_jpeg(app, app_device):
    device_id, token = app_device
    error = assert_error(post_frame(app, token, meta_for(device_id, 1, width=65, height=49),
                                    make_jpeg(64, 48)), 422)
    assert {d["field"] for d in error["details"]} == {"width", "height"}
    assert_nothing_stored(app)


def test_unknown_meta_fields_are_ignored(app, app_device):
    device_id, token = app_device
    answer = post_frame(app, token, meta_for(device_id, 1, future_field={"x": 1}), make_jpeg())
    assert answer.status_code == 201


# --- 507 ----------------------------------------------------------------------------------


def test_below_the_disk_reserve_ingest_is_507_and_writes_nothing(app, app_device):
    device_id, token = app_device
    with app.admin_client() as admin:
        answer = admin.patch("/api/v1/admin/settings", json={"disk_reserve_bytes": 2**49})
        answer.raise_for_status()
        error = assert_error(post_frame(app, token, meta_for(device_id, 1), make_jpeg()), 507)
        assert error["code"] == "disk_reserve"
        assert_nothing_stored(app)
        admin.patch("/api/v1/admin/settings", json={"disk_reserve_bytes": 0}).raise_for_status()
    assert post_frame(app, token, meta_for(device_id, 1), make_jpeg()).status_code == 201


# --- config and heartbeat -----------------------------------------------------------------


def test_config_has_an_etag_and_answers_304_when_unchanged(app, app_device):
    device_id, token = app_device
    auth = {"Authorization": f"Bearer {token}"}
    first = app.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                    headers=auth)
    assert first.status_code == 200
    config = first.json()
    assert first.headers["etag"] == f'"{config["config_version"]}"'
    assert config["mode"] == "baseline" and config["motion_trigger"]["rois"] == []
    assert set(contract.DeviceConfig.__dataclass_fields__) <= set(config)
    again = app.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                    headers={**auth, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    with app.admin_client() as admin:
        admin.patch(f"/api/v1/admin/devices/{device_id}",
                    json={"settings": {"jpeg_quality": 70}}).raise_for_status()
        device_row = admin.get(f"/api/v1/admin/devices/{device_id}").json()
    assert device_row["last_config_fetch"] is not None
    changed = app.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                      headers={**auth, "If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["jpeg_quality"] == 70
    assert changed.json()["config_version"] != config["config_version"]


def _config_at(server: Requests, device_id: str, token: str, edge: str) -> tuple[dict, dict]:
    """Set every capture setting to its lowest or highest value; the config that follows."""
    settings = {rule.name: getattr(rule, edge) for rule in contract.CONFIG_FIELDS if rule.kind is not bool}
    with server.admin_client() as admin:
        admin.patch(f"/api/v1/admin/devices/{device_id}", json={"settings": settings}).raise_for_status()
    config = server.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                        headers={"Authorization": f"Bearer {token}"}).json()
    return settings, config


def test_a_config_at_any_bound_the_admin_can_set_is_taken_whole_by_the_camera(app, app_device):
    device_id, token = app_device
    for edge in ("minimum", "maximum"):
        settings, config = _config_at(app, device_id, token, edge)
        applied = clean_config(config, DEFAULT_CONFIG)
        for rule in contract.CONFIG_FIELDS:
            value = config
            for key in rule.json_path:
                value = value[key]
            assert rule.accepts(value), (edge, rule.name, value)
            if rule.name in settings:
                assert value == settings[rule.name], (edge, rule.name)
                shown = applied.motion_trigger[rule.json_path[-1]] if len(rule.json_path) > 1 else getattr(
                    applied, rule.name)
                assert shown == settings[rule.name], (edge, rule.name)
    with app.admin_client() as admin:
        refused = admin.patch(f"/api/v1/admin/devices/{device_id}", json={"settings": {"burst_interval_s": 61}})
    assert refused.status_code == 422 and "burst_interval_s must be at most 60" in refused.text


def test_config_requires_the_callers_own_device_id(app, app_device):
    device_id, token = app_device
    auth = {"Authorization": f"Bearer {token}"}
    url = contract.DEVICE_CONFIG_PATH
    assert_error(app.get(url, headers=auth), 422)
    assert_error(app.get(url, params={"device_id": "someone-else"}, headers=auth), 403)
    assert_error(app.get(url, params={"device_id": device_id}), 401)


def test_burst_requested_by_the_admin_shows_in_the_next_ingest_answer(app, app_device):
    device_id, token = app_device
    first = post_frame(app, token, meta_for(device_id, 1), make_jpeg(seed=1)).json()
    with app.admin_client() as admin:
        admin.post(f"/api/v1/admin/devices/{device_id}/burst").raise_for_status()
    second = post_frame(app, token, meta_for(device_id, 2), make_jpeg(seed=2)).json()
    assert first["mode"] == "baseline" and second["mode"] == "burst"
    assert second["config_version"] != first["config_version"]
    config = app.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                     headers={"Authorization": f"Bearer {token}"}).json()
    assert config["mode"] == "burst" and contract.parse_timestamp(config["mode_until"])


def test_heartbeat_records_health_and_answers_mode(app, app_device):
    device_id, token = app_device
    beat = {"device_id": device_id, "ts": "2026-11-24T05:47:30Z", "uptime_s": 12.5, "last_seq": 9,
            "mode": "baseline", "spool_frames": 2, "spool_bytes": 1000, "dropped_frames": 0,
            "cpu_temp_c": 51.2, "disk_free_bytes": 10**9, "rssi": -61, "fw_version": "1.2",
            "last_error": "", "unknown": "ignored"}
    answer = app.post(contract.HEARTBEAT_PATH, json=beat,
                      headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert set(answer.json()) == {"config_version", "mode", "server_time"}
    with app.admin_client() as admin:
        shown = admin.get(f"/api/v1/admin/devices/{device_id}").json()
    assert shown["health"]["spool_frames"] == 2 and shown["health"]["cpu_temp_c"] == 51.2
    assert "unknown" not in shown["health"] and shown["last_seen"] and shown["fw_version"] == "1.2"


def test_bad_heartbeats_are_refused(app, app_device):
    device_id, token = app_device
    url = contract.HEARTBEAT_PATH
    auth = {"Authorization": f"Bearer {token}"}
    assert_error(app.post(url, json={"device_id": device_id}, headers=auth), 422)
    assert_error(app.post(url, json={"device_id": device_id, "ts": "x"}, headers=auth), 422)
    assert_error(app.post(url, json={"device_id": device_id, "ts": "2026-11-24T05:47:30Z",
                          "spool_frames": -1}, headers=auth), 422)
    assert_error(app.post(url, content=b"[]", headers=auth), 400)
    assert_error(app.post(url, json={"device_id": "other", "ts": "2026-11-24T05:47:30Z"}, headers=auth), 403)


def test_unknown_api_paths_use_the_error_shape(app):
    assert_error(app.get("/api/v1/nothing-here"), 404)
    assert_error(app.get(FRAME), 405)


# --- other clients -------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_can_post_a_frame(live_server, device, tmp_path):
    device_id, token = device
    image_path = tmp_path / "frame.jpg"
    image_path.write_bytes(make_jpeg())
    result = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {token}",
         "-F", f"meta={json.dumps(meta_for(device_id, 1))};type=application/json",
         "-F", f"image=@{image_path};type=image/jpeg", live_server.url + FRAME],
        capture_output=True, text=True, timeout=30, check=True)
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "201" and json.loads(body)["seq"] == 1


def test_a_raw_socket_upload_as_an_esp32_sends_it(live_server, device):
    device_id, token = device
    body, content_type = _multipart(meta_for(device_id, 1), make_jpeg())
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        for start in range(0, len(body), 1024):  # small writes, as a microcontroller's TCP stack does
            sock.sendall(body[start:start + 1024])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 201 Created"
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["seq"] == 1


# --- restarts -----------------------------------------------------------------------------


@pytest.mark.slow  # stops and restarts storewatch run
def test_a_restart_keeps_everything_and_cleans_crash_leftovers(data_dir):
    server = start_live_server(data_dir)
    try:
        device_id, token = server.add_device("cam")
        image = make_jpeg(seed=9)
        first = post_frame(server, token, meta_for(device_id, 1), image).json()
    finally:
        assert server.stop() == 0
    folder = next((data_dir / "staging" / device_id).iterdir())
    (folder / ".tmp-abandoned").write_bytes(b"half a file")
    (folder / "000000000099-deadbeef0000.jpg").write_bytes(make_jpeg(seed=99))  # rename, no commit
    server = start_live_server(data_dir)
    try:
        again = post_frame(server, token, meta_for(device_id, 1), image)
        assert again.status_code == 200 and again.json()["capture_id"] == first["capture_id"]
        captures, jobs, files = stored(server)
        assert (captures, jobs) == (1, 1) and [f.name for f in files] == [
            next(folder.glob("000000000001-*.jpg")).name]
    finally:
        assert server.stop() == 0


def test_while_shutting_down_ingest_answers_503_with_retry_after(appliance):
    """The 503 path, on a real uvicorn in this process so the test can flip the switch."""
    from support.servers import in_process_server

    device_id, token = appliance.devices.add("cam")
    with in_process_server(appliance) as (url, app):
        app.state.stopping = True
        answer = httpx.post(f"{url}{FRAME}", headers={"Authorization": f"Bearer {token}"},
                            files={"meta": (None, json.dumps(meta_for(device_id, 1))),
                                   "image": ("f.jpg", make_jpeg(), "image/jpeg")})
        assert_error(answer, 503, "shutting_down")
        assert answer.headers["retry-after"]
        assert appliance.captures.list(device_id) == []


@pytest.mark.slow  # stops and restarts storewatch run
def test_every_rejection_is_counted_by_reason_and_survives_a_restart(data_dir):
    server = start_live_server(data_dir)
    try:
        device_id, token = server.add_device("cam")
        post_frame(server, token, meta_for(device_id, 1), make_jpeg())
        post_frame(server, token, meta_for(device_id, 1), make_jpeg())
        post_frame(server, "", meta_for(device_id, 2), make_jpeg())
        post_frame(server, token, meta_for(device_id, 2), b"nope")
        post_frame(server, token, meta_for(device_id, 2), b"nope")
        post_frame(server, token, {**meta_for(device_id, 2), "seq": -5}, make_jpeg())
        httpx.post(server.url + contract.HEARTBEAT_PATH, json={"device_id": device_id},
                   headers={"Authorization": f"Bearer {token}"})
    finally:
        assert server.stop() == 0
    conn = apsw.Connection(str(data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
    counts = {(name, label): value for name, label, value in conn.execute("SELECT * FROM counters")}
    conn.close()
    assert counts[("ingest_frames", "accepted")] == 1
    assert counts[("ingest_frames", "duplicate")] == 1
    assert counts[("ingest_rejected", "unauthorized")] == 1
    assert counts[("ingest_rejected", "not_a_jpeg")] == 2
    assert counts[("ingest_rejected", "validation_failed")] == 1
    assert counts[("heartbeat_rejected", "validation_failed")] == 1


def test_without_credentials_the_upload_is_refused_before_its_body_is_read(live_server):
    """The server answers 401 while the client is still sending, so it never holds the body."""
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {9 * 1024 * 1024}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"--x\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401")


# --- the clock and the seq a device may have lost (issue 12 A7) -----------------------------------


def _config(server: Requests, device_id: str, token: str, **headers: str) -> httpx.Response:
    return server.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                      headers={"Authorization": f"Bearer {token}", **headers})


def _near_now(text: str) -> bool:
    assert text.endswith("Z") and len(text) == len("2026-11-24T05:47:31.004Z")
    return abs((contract.parse_timestamp(text) - contract.utc_now()).total_seconds()) < 5


def test_config_gives_server_time_and_the_last_stored_seq(live_server, device):
    """On the real server: the Date header of the 304 is uvicorn's."""
    device_id, token = device
    first = _config(live_server, device_id, token)
    assert first.json()["last_seq"] is None and _near_now(first.json()["server_time"])
    for seq in (7, 9):
        assert post_frame(live_server, token, meta_for(device_id, seq), make_jpeg(seed=seq)).status_code == 201
    second = _config(live_server, device_id, token)
    assert second.json()["last_seq"] == 9 and _near_now(second.json()["server_time"])
    # A new reading is not a new config: the ETag holds, and the 304 (no body) carries the clock as Date.
    assert second.headers["etag"] == first.headers["etag"]
    for tag in (first.headers["etag"], "W/" + first.headers["etag"]):
        again = _config(live_server, device_id, token, **{"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["date"]


def test_heartbeat_answer_gives_server_time(app, app_device):
    device_id, token = app_device
    answer = app.post(contract.HEARTBEAT_PATH, headers={"Authorization": f"Bearer {token}"},
                      json={"device_id": device_id, "ts": contract.format_timestamp(contract.utc_now())})
    assert answer.status_code == 200 and _near_now(answer.json()["server_time"])


# --- times no device can mean (issue 12 B8) ------------------------------------------------------

IMPOSSIBLE_TIMES = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]


def test_impossible_capture_ts_and_heartbeat_ts_are_422_and_change_nothing(app, app_device):
    device_id, token = app_device
    for seq, text in enumerate(IMPOSSIBLE_TIMES, start=1):
        answer = post_frame(app, token, meta_for(device_id, seq, capture_ts=text), make_jpeg(seed=seq))
        error = assert_error(answer, 422, "validation_failed")
        assert [d["field"] for d in error["details"]] == ["capture_ts"]
        beat = app.post(contract.HEARTBEAT_PATH, headers={"Authorization": f"Bearer {token}"},
                        json={"device_id": device_id, "ts": text})
        assert [d["field"] for d in assert_error(beat, 422, "validation_failed")["details"]] == ["ts"]
    assert_nothing_stored(app)
    with app.admin_client() as admin:
        assert admin.get(f"/api/v1/admin/devices/{device_id}").json()["health"] == {}


def test_an_x_timestamp_of_400_digits_or_other_digits_is_401_not_500(app):
    device_id, token = app.add_device("signer", "hmac")
    good = contract.hmac_headers(device_id, token, "GET", contract.DEVICE_CONFIG_PATH, b"", time.time(),
                                 secrets.token_hex(16))
    # "²" as one latin-1 byte (0xB2) is what Starlette hands over as "²": str.isdigit() says yes.
    for bad in (b"1" * 400, "²".encode("latin-1"), "١٧٦٤٠٠٠٠٠٠".encode(), b"1764000000.0", b"-1"):
        answer = app.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                         headers={**good, "X-Timestamp": bad})
        assert_error(answer, 401, "unauthorized")


# --- signed uploads refused before their body (issue 12 B4) ---------------------------------------


def _held_upload(server: LiveServer, headers: dict[str, str]) -> bytes:
    """Send only the head and a first line of a 9 MiB upload; what the server answers meanwhile."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"{lines}Content-Length: {9 * 1024 * 1024}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode() + b"--x\r\n")
        answer = sock.recv(65536)
        head_part, _, body = answer.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head_part.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length and (chunk := sock.recv(65536)):
            body += chunk
        return head_part + b"\r\n\r\n" + body


def test_a_bogus_signed_upload_is_refused_before_its_body_is_read(live_server):
    device_id, token = live_server.add_device("signer", "hmac")
    used = secrets.token_hex(16)
    assert _signed_post(live_server, device_id, token, 1, nonce=used).status_code == 201

    def signed(**changes: str) -> dict[str, str]:
        headers = contract.hmac_headers(device_id, token, "POST", FRAME, b"whatever", time.time(),
                                        secrets.token_hex(16))
        return {**headers, **changes}

    bogus = {
        "unknown device": signed(**{"X-Device-Id": "nobody"}),
        "stale timestamp": signed(**{"X-Timestamp": str(int(time.time()) - 301)}),
        "timestamp not digits": signed(**{"X-Timestamp": "soon"}),
        "short nonce": signed(**{"X-Nonce": "abc"}),
        "signature not hex": signed(**{"X-Signature": "z" * 64}),
        "replayed nonce": signed(**{"X-Nonce": used}),
        "header missing": {k: v for k, v in signed().items() if k != "X-Nonce"},
    }
    for case, headers in bogus.items():
        assert _held_upload(live_server, headers).startswith(b"HTTP/1.1 401"), case
    assert stored(live_server)[0] == 1


# --- seq going backwards (issue 12 B6) -----------------------------------------------------------


def _wait_until_analysed(server: LiveServer, device_id: str, seq: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = apsw.Connection(str(server.data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            row = conn.execute("SELECT last_applied_seq FROM analysis_state WHERE device_id = ?",
                               (device_id,)).fetchone()
        finally:
            conn.close()
        if row is not None and row[0] >= seq:
            return
        time.sleep(0.1)
    raise AssertionError(f"the worker did not analyse {device_id} up to seq {seq} within {timeout} s")


def _expire_frames(server: LiveServer, seqs: list[int]) -> None:
    """What retention does to a frame it deletes: its row (its job row goes with it), then its file."""
    conn = apsw.Connection(str(server.data_dir / "storewatch.db"))
    try:
        conn.setbusytimeout(10_000)
        conn.execute("PRAGMA foreign_keys=ON")
        marks = ", ".join("?" for _ in seqs)
        paths = [row[0] for row in conn.execute(f"SELECT path FROM captures WHERE seq IN ({marks})", seqs)]
        conn.execute(f"DELETE FROM captures WHERE seq IN ({marks})", seqs)
    finally:
        conn.close()
    for path in paths:
        (server.data_dir / path).unlink()


def test_a_seq_reused_after_retention_is_409_seq_too_old_and_stores_nothing(live_server, device):
    device_id, token = device
    images = {seq: make_jpeg(seed=seq) for seq in range(1, 5)}
    for seq, image in images.items():
        assert post_frame(live_server, token, meta_for(device_id, seq), image).status_code == 201
    _wait_until_analysed(live_server, device_id, 4)
    _expire_frames(live_server, [1, 2, 3])
    before = stored(live_server)
    for seq in (2, 3):  # the ones retention took, with new bytes (and with their old bytes)
        for image in (make_jpeg(seed=100 + seq), images[seq]):
            error = assert_error(post_frame(live_server, token, meta_for(device_id, seq), image), 409, "seq_too_old")
            assert {"field": "last_seq", "message": "4"} in error["details"]
    assert stored(live_server) == before
    # a stored frame re-sent is still a duplicate, or a conflict; the next seq is stored
    assert post_frame(live_server, token, meta_for(device_id, 4), images[4]).status_code == 200
    assert_error(post_frame(live_server, token, meta_for(device_id, 4), make_jpeg(seed=44)), 409, "seq_conflict")
    assert post_frame(live_server, token, meta_for(device_id, 5), make_jpeg(seed=5)).status_code == 201


# --- replays across a restart (issue 12 B9) -------------------------------------------------------


@pytest.mark.slow  # stops and restarts storewatch run
def test_a_signed_request_replayed_after_a_crash_and_restart_is_refused(data_dir):
    server = start_live_server(data_dir)
    try:
        device_id, token = server.add_device("signer", "hmac")
        config_headers = contract.hmac_headers(device_id, token, "GET", contract.DEVICE_CONFIG_PATH, b"",
                                               time.time(), secrets.token_hex(16))
        config_url = server.url + contract.DEVICE_CONFIG_PATH
        assert httpx.get(config_url, params={"device_id": device_id}, headers=config_headers).status_code == 200
        body, content_type = _multipart(meta_for(device_id, 1), make_jpeg(seed=1))
        frame_headers = {**contract.hmac_headers(device_id, token, "POST", FRAME, body, time.time(),
                                                 secrets.token_hex(16)), "Content-Type": content_type}
        assert httpx.post(server.url + FRAME, content=body, headers=frame_headers).status_code == 201
    finally:
        server.stop(signal.SIGKILL)  # a power cut: nothing is saved on the way out
    server = start_live_server(data_dir)
    try:
        replayed = httpx.get(server.url + contract.DEVICE_CONFIG_PATH, params={"device_id": device_id},
                             headers=config_headers)
        assert "replayed" in assert_error(replayed, 401, "unauthorized")["message"]
        assert_error(httpx.post(server.url + FRAME, content=body, headers=frame_headers), 401, "unauthorized")
        assert _signed_post(server, device_id, token, 2).status_code == 201  # fresh nonces still pass
    finally:
        assert server.stop() == 0


def test_forged_signatures_for_a_known_device_hold_at_most_two_bodies(live_server):
    """Well-formed headers with a forged signature need the body to be found out: a device gets
    two such bodies on their way in at once, the next is 503 before its body is read."""
    device_id, token = live_server.add_device("signer", "hmac")

    def forged() -> dict[str, str]:
        return {"X-Device-Id": device_id, "X-Timestamp": str(int(time.time())), "X-Nonce": secrets.token_hex(16),
                "X-Signature": secrets.token_hex(32)}

    lines = "".join
    held = []
    try:
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=5)
            held.append(sock)
            head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                    + lines(f"{k}: {v}\r\n" for k, v in forged().items())
                    + f"Content-Length: {9 * 1024 * 1024}\r\n\r\n")
            sock.sendall(head.encode() + b"--x\r\n")
        time.sleep(0.5)  # both are inside the app, waiting for their bodies
        third = _held_upload(live_server, forged())
        assert third.startswith(b"HTTP/1.1 503") and b'"busy"' in third and b"retry-after" in third.lower()
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while (answer := _signed_post(live_server, device_id, token, 1)).status_code == 503:  # the slots free up
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)
    assert answer.status_code == 201


# --- the capture_ts window: at most 300 s ahead of the server's clock, at most 30 days old ------

DAY_S = 86400


def test_a_capture_ts_outside_the_window_is_422_naming_it_and_stores_nothing(app, app_device):
    device_id, token = app_device
    for seq, seconds_ago in enumerate((-301, 30 * DAY_S + 60), start=1):
        answer = post_frame(app, token, meta_for(device_id, seq, capture_ts=capture_ts(seconds_ago)),
                            make_jpeg(seed=seq))
        error = assert_error(answer, 422, "validation_failed")
        assert [d["field"] for d in error["details"]] == ["capture_ts"], error
    assert_nothing_stored(app)
    for seq, seconds_ago in enumerate((-299, 29 * DAY_S), start=3):
        answer = post_frame(app, token, meta_for(device_id, seq, capture_ts=capture_ts(seconds_ago)),
                            make_jpeg(seed=seq))
        assert answer.status_code == 201, answer.text
    assert stored(app)[0] == 2


def test_an_exact_resend_of_a_frame_stored_before_it_turned_30_days_old_is_still_a_duplicate(app, app_device):
    device_id, token = app_device
    meta, jpeg = meta_for(device_id, 7, capture_ts=capture_ts(31 * DAY_S)), make_jpeg(seed=7)
    opened = Appliance(app.data_dir)  # stored back when it was fresh
    try:
        first = opened.captures.store(contract.validate_frame_meta(meta), jpeg)
    finally:
        opened.close()
    answer = post_frame(app, token, meta, jpeg)
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is True and answer.json()["capture_id"] == first.capture_id
    # Not an exact re-send (other bytes): the window applies, and nothing more is stored.
    other = post_frame(app, token, meta, make_jpeg(seed=8))
    assert [d["field"] for d in assert_error(other, 422, "validation_failed")["details"]] == ["capture_ts"]
    assert stored(app)[0] == 1
