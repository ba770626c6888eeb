"""Schemathesis against a real `storewatch run`: every documented operation, bounded.

For each operation of the served OpenAPI document, valid and invalid requests drawn from
it are sent with no, wrong or right credentials. Whatever is sent: no 5xx; every error in
the one error shape; answers true to the document (status, media type, schema); no
capture row, job row or staging file left behind by a rejected request; nothing under
/api/v1/admin/ (nor /metrics) answers 2xx without credentials.

Bounded: FUZZ_EXAMPLES requests per operation and a FUZZ_SECONDS budget for the whole
module (the rest of the operations then run at a minimum), all to 127.0.0.1.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import apsw
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from storewatch.appliance import Appliance
from storewatch.server.openapi import ADMIN_AUTH, DEVICE_AUTH, METRICS_AUTH, openapi_path
from storewatch.server.openapi_routes import OPENAPI_PATH, OPERATIONS
from storewatch.settings import APPLIANCE_SETTINGS
from conftest import LiveServer, make_jpeg, prepare_data_dir, start_live_server

FUZZ_EXAMPLES = int(os.environ.get("STOREWATCH_FUZZ_EXAMPLES", "30"))
FUZZ_SECONDS = float(os.environ.get("STOREWATCH_FUZZ_SECONDS", "60"))
MIN_EXAMPLES = 5
SETTINGS_PATH = "/api/v1/admin/settings"
JPEG = make_jpeg(64, 48)
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Device operations go first: the admin ones may change settings the ingest depends on.
LABELS = [f"{op.method.upper()} {openapi_path(op.path)}"
          for op in sorted(OPERATIONS, key=lambda op: op.caller != DEVICE_AUTH)]
CALLER = {f"{op.method.upper()} {openapi_path(op.path)}": op.caller for op in OPERATIONS}


@dataclass
class Target:
    server: LiveServer
    schema: schemathesis.BaseSchema
    device_id: str
    device_token: str
    admin_token: str
    started: float


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    data_dir.mkdir()
    prepare_data_dir(data_dir)
    opened = Appliance(data_dir)
    try:
        device_id, device_token = opened.devices.add("fuzz cam", "fuzz-cam")
        admin_token = opened.admins.create_token()
    finally:
        opened.close()
    server = start_live_server(data_dir)
    try:
        schema = schemathesis.openapi.from_url(server.url + OPENAPI_PATH)
        yield Target(server, schema, device_id, device_token, admin_token, time.monotonic())
    finally:
        server.stop()


def traces(data_dir: Path) -> tuple[int, int, frozenset[str]]:
    """What a request can leave: the newest capture and job row ids, and the staging files."""
    conn = apsw.Connection(str(data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        capture = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM captures").fetchone()[0]
        job = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM jobs").fetchone()[0]
    finally:
        conn.close()
    staging = data_dir / "staging"
    files = frozenset(str(p) for p in staging.rglob("*") if p.is_file()) if staging.exists() else frozenset()
    return capture, job, files


def _claim_device(case: schemathesis.Case, device_id: str) -> None:
    """Point a generated request at the fuzzing device, so it gets past the 403 into validation;
    a frame also gets a real JPEG of the size its meta claims, so some are stored."""
    for name in [h for h in (case.headers or {}) if h.lower().startswith("x-")]:
        del case.headers[name]  # generated HMAC headers would take precedence over the bearer token
    if isinstance(case.body, dict):
        meta = case.body.get("meta")
        if isinstance(meta, dict):
            meta |= {"device_id": device_id, "width": 64, "height": 48}
            case.body["image"] = JPEG
        elif "device_id" in case.body or "ts" in case.body:
            case.body["device_id"] = device_id
    if case.query and "device_id" in case.query:
        case.query["device_id"] = device_id
    if case.path_parameters and "device_id" in case.path_parameters:
        case.path_parameters["device_id"] = device_id


def _credentials(caller: str, target: Target, who: str) -> dict[str, str]:
    if who == "none":
        return {}
    if caller == DEVICE_AUTH:
        token = target.device_token if who == "right" else "x" * 43
    elif caller in (ADMIN_AUTH, METRICS_AUTH):
        token = target.admin_token if who == "right" else "swa_000000000000_wrong"
    else:
        return {}
    return {"Authorization": f"Bearer {token}"}


def _restore_settings(target: Target) -> None:
    """Undo a fuzzed settings change (metrics_open, the disk reserve...) before the next case."""
    defaults = {name: setting.default for name, setting in APPLIANCE_SETTINGS.items()}
    answer = httpx.patch(target.server.url + SETTINGS_PATH, json=defaults, timeout=10,
                         headers={"Authorization": f"Bearer {target.admin_token}"})
    assert answer.status_code == 200, answer.text


def _assert_error_shape(response) -> None:  # noqa: ANN001 - a requests.Response
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)
    assert isinstance(error["details"], list)


def _examples(target: Target, caller: str) -> int:
    if time.monotonic() - target.started > FUZZ_SECONDS:
        return MIN_EXAMPLES
    return FUZZ_EXAMPLES * (3 if caller == DEVICE_AUTH else 1)  # the contract gets the most


@pytest.mark.parametrize("label", LABELS)
def test_fuzz_operation(target: Target, label: str) -> None:
    method, path = label.split(" ", 1)
    operation = target.schema[path][method]
    caller = CALLER[label]
    strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    data_dir = target.server.data_dir

    @settings(max_examples=_examples(target, caller), deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy, who=st.sampled_from(["right", "right", "none", "wrong"]), claim=st.sampled_from([True, True, False]))
    def fuzz(case: schemathesis.Case, who: str, claim: bool) -> None:
        if claim and who == "right":  # half of the credentialed requests
            _claim_device(case, target.device_id)
        headers = _credentials(caller, target, who)
        before = traces(data_dir)
        response = case.call(base_url=target.server.url, headers=headers, timeout=30)
        after = traces(data_dir)
        context = f"{label} [{who}] -> {response.status_code} {response.content[:300]!r}"
        assert response.status_code < 500, context
        if response.status_code >= 400:
            _assert_error_shape(response)
        if not 200 <= response.status_code < 300:
            assert after[:2] == before[:2] and after[2] <= before[2], f"a rejected request left traces: {context}"
        if caller in (ADMIN_AUTH, METRICS_AUTH) and who != "right":
            assert response.status_code == 401, context
        if label == f"PATCH {SETTINGS_PATH}" and who == "right":
            _restore_settings(target)
        case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()

