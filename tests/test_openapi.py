"""The OpenAPI document: true to the app's routes, to the contract's rules, and served openly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storewatch import contract
from storewatch.server.app import create_app
from storewatch.server.openapi import ADMIN_AUTH, DEVICE_AUTH, METRICS_AUTH, NO_AUTH, openapi_path
from storewatch.server.openapi_routes import OPENAPI_PATH, OPERATIONS, document, routed
from storewatch.settings import APPLIANCE_SETTINGS, DEVICE_SETTINGS
from support import ADMIN_PASSWORD, REPO
from support.frames import capture_ts, make_jpeg

CONTRACT_MD = REPO.parent / "shared" / "CONTRACT.md"
DOCUMENTED_PREFIXES = ("/api/", "/metrics")


def _documented(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def _operation(doc: dict, method: str, path: str) -> dict:
    return doc["paths"][path][method.lower()]


def _json_schema(doc: dict, schema: dict) -> jsonschema_rs.Validator:
    """A validator for a schema of the document, its $refs resolved against the document."""
    return jsonschema_rs.validator_for({**schema, "components": doc["components"]})


# --- the document and the routes -------------------------------------------------------------


def test_every_api_route_is_documented_and_every_documented_route_exists(appliance):
    app = create_app(appliance)
    routes = {(m, p) for m, p in routed(app.routes) if p.startswith(DOCUMENTED_PREFIXES)}
    documented = _documented(document())
    missing = sorted(routes - documented)
    stale = sorted(documented - routes)
    assert not missing, ("routes without an Operation in storewatch/server/openapi_routes.py: "
                         + ", ".join(f"{m} {p}" for m, p in missing))
    assert not stale, "documented operations the app does not route: " + ", ".join(f"{m} {p}" for m, p in stale)


def test_the_catalogue_has_one_entry_per_operation():
    keys = [(op.method.upper(), openapi_path(op.path)) for op in OPERATIONS]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]


def test_the_document_is_valid_openapi_3_1():
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    doc = document()
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in OPENAPI_31_VALIDATOR.iter_errors(doc)]
    assert not errors, errors[:10]
    assert doc["openapi"].startswith("3.1")
    for path, item in doc["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for method, operation in item.items():
            declared = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert declared == names, f"{method.upper()} {path}"
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_operation_declares_who_may_call_and_the_error_shape():
    doc = document()
    schemes = doc["components"]["securitySchemes"]
    for op in OPERATIONS:
        operation = _operation(doc, op.method, openapi_path(op.path))
        names = {name for requirement in operation["security"] for name in requirement}
        assert names <= set(schemes)
        if op.caller == ADMIN_AUTH:
            assert {"adminSession", "adminToken"} <= names and "401" in operation["responses"]
            if op.method.upper() not in ("GET", "HEAD"):
                assert {"adminSession", "adminCsrf"} in [set(r) for r in operation["security"]]
                assert "403" in operation["responses"]
        elif op.caller == DEVICE_AUTH:
            assert {"deviceBearer", "hmacSignature", "hmacNonce", "hmacTimestamp", "hmacDeviceId"} == names
        elif op.caller == METRICS_AUTH:
            assert operation["security"] == [{"adminToken": []}, {}] and "401" in operation["responses"]
        else:
            assert op.caller == NO_AUTH and operation["security"] == []
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


# --- one source of truth: the contract's rules ---------------------------------------------


def _contract_statuses(heading: str) -> set[int]:
    """The statuses listed in shared/CONTRACT.md's table under `heading`."""
    text = CONTRACT_MD.read_text()
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| (\d{3}) \|", section, re.MULTILINE)}


@pytest.mark.skipif(not CONTRACT_MD.exists(), reason=f"{CONTRACT_MD} not found: ../shared is not beside the "
                    "repository, so the ingest statuses CONTRACT.md lists are not checked against the OpenAPI document")
def test_ingest_documents_every_status_the_contract_lists():
    listed = _contract_statuses("POST /api/v1/ingest/frame")
    assert {200, 201, 400, 401, 403, 409, 413, 415, 422, 503, 507} <= listed
    documented = {int(s) for s in _operation(document(), "POST", contract.INGEST_FRAME_PATH)["responses"]}
    assert listed <= documented, listed - documented


def test_device_schemas_carry_every_contract_rule():
    doc = document()
    form = _operation(doc, "POST", contract.INGEST_FRAME_PATH)["requestBody"]["content"]["multipart/form-data"]
    meta = form["schema"]["properties"]["meta"]
    beat = _operation(doc, "POST", contract.HEARTBEAT_PATH)["requestBody"]["content"]["application/json"]["schema"]
    for schema, rules in ((meta, contract.FRAME_META_RULES), (beat, contract.HEARTBEAT_RULES)):
        assert set(schema["properties"]) == {r.name for r in rules}
        assert set(schema["required"]) == {r.name for r in rules if r.required}
        for rule in rules:
            prop = schema["properties"][rule.name]
            assert prop.get("minimum") == rule.minimum and prop.get("maximum") == rule.maximum, rule.name
            assert prop.get("maxLength") == rule.max_length and prop.get("enum") == (
                list(rule.choices) if rule.choices else None), rule.name
    assert "300 s ahead" in meta["properties"]["capture_ts"]["description"]
    assert "30 days" in meta["properties"]["capture_ts"]["description"]
    assert form["encoding"]["meta"]["contentType"] == "application/json"
    config = _operation(doc, "GET", contract.DEVICE_CONFIG_PATH)["responses"]["200"]["content"]
    config_schema = config["application/json"]["schema"]
    assert config_schema["required"] == list(contract.DeviceConfig.__dataclass_fields__)
    assert config_schema["properties"]["jpeg_quality"]["maximum"] == DEVICE_SETTINGS["jpeg_quality"].maximum


def test_settings_bodies_come_from_the_settings_registries():
    doc = document()
    patch = _operation(doc, "PATCH", "/api/v1/admin/settings")["requestBody"]["content"]["application/json"]
    assert set(patch["schema"]["properties"]) == set(APPLIANCE_SETTINGS)
    device = _operation(doc, "PATCH", "/api/v1/admin/devices/{device_id}")["requestBody"]["content"]
    assert set(device["application/json"]["schema"]["properties"]["settings"]["properties"]) == set(DEVICE_SETTINGS)


def _meta_schema() -> dict:
    form = _operation(document(), "POST", contract.INGEST_FRAME_PATH)["requestBody"]["content"]
    return form["multipart/form-data"]["schema"]["properties"]["meta"]


def _heartbeat_schema() -> dict:
    return _operation(document(), "POST", contract.HEARTBEAT_PATH)["requestBody"]["content"]["application/json"][
        "schema"]


RULE_SETS = {
    "meta": (_meta_schema, contract.FRAME_META_RULES, {
        "device_id": "cam-1", "capture_ts": "2026-11-24T05:47:30.120Z", "seq": 1, "width": 64, "height": 48,
        "jpeg_quality": 85}),
    "heartbeat": (_heartbeat_schema, contract.HEARTBEAT_RULES, {"device_id": "cam-1", "ts": "2026-11-24T05:47:30Z"}),
}


def _known_difference(rule: contract.FieldRule, value: object) -> bool:
    """Where JSON Schema cannot say what the contract says: 1.0 is a JSON Schema integer but
    not a contract one, and the contract also takes RFC 3339's space for the T separator."""
    integral_float = isinstance(value, float) and value.is_integer() and rule.kind is int
    spaced_time = rule.timestamp and isinstance(value, str) and " " in value
    return integral_float or spaced_time


@pytest.mark.parametrize("body", sorted(RULE_SETS))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_the_document_accepts_the_contract_accepts_and_vice_versa(body, data):
    """Agreement both ways on single-field changes of a valid body, drawn near each bound."""
    schema_of, rules, base = RULE_SETS[body]
    validator = jsonschema_rs.validator_for(schema_of(), validate_formats=True)
    rule = data.draw(st.sampled_from(rules))
    value = data.draw(st.one_of(
        st.integers(min_value=-(2**64), max_value=2**64), st.floats(allow_nan=False), st.booleans(),
        st.none(), st.text(max_size=600), st.sampled_from(list(contract.MODES)), st.just(64.0),
        st.sampled_from(["2026-11-24T05:47:30.120Z", "2026-11-24T05:47:30+01:00", "2026-11-24 05:47",
                         "2026-11-24 05:47:30Z", "2026-11-24T05:47:30", "bad/id", "cam..1"]),
        st.integers(min_value=-130, max_value=130), st.integers(min_value=8180, max_value=8200),
        st.integers(min_value=2**63 - 2, max_value=2**63 + 1)))
    payload = {**base, rule.name: value}
    if value is None:
        del payload[rule.name]
    try:
        contract.validate(payload, rules)
        contract_ok = True
    except contract.ContractError:
        contract_ok = False
    if not _known_difference(rule, value):
        assert validator.is_valid(payload) == contract_ok, (rule.name, value)


# --- served by the app (in this process, through its whole middleware) -------------------------


def test_the_document_is_served_without_credentials_and_holds_no_secret(app, app_device):
    _, token = app_device
    answer = app.get(OPENAPI_PATH, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    served = answer.json()
    assert _documented(served) == _documented(document())
    text = answer.text
    assert token not in text and ADMIN_PASSWORD not in text
    assert not re.search(r"swa_[0-9a-f]{12}_", text)


def test_real_answers_match_their_documented_schemas(app, app_device):
    device_id, token = app_device
    doc = document()
    auth = {"Authorization": f"Bearer {token}"}

    def check(method: str, path: str, answer: httpx.Response) -> None:
        response = _operation(doc, method, path)["responses"][str(answer.status_code)]
        if answer.status_code == 304:
            return
        schema = response["content"]["application/json"]["schema"]
        errors = [e.message for e in _json_schema(doc, schema).iter_errors(answer.json())]
        assert not errors, (method, path, answer.status_code, errors)

    meta = {"device_id": device_id, "capture_ts": capture_ts(), "seq": 1,
            "width": 64, "height": 48, "jpeg_quality": 85}
    files = {"meta": (None, json.dumps(meta), "application/json"), "image": ("f.jpg", make_jpeg(), "image/jpeg")}
    check("POST", contract.INGEST_FRAME_PATH, app.post(contract.INGEST_FRAME_PATH, files=files, headers=auth))
    check("POST", contract.INGEST_FRAME_PATH, app.post(contract.INGEST_FRAME_PATH, files=files, headers=auth))
    check("POST", contract.INGEST_FRAME_PATH, app.post(contract.INGEST_FRAME_PATH,
                                                       files={"meta": (None, "{}")}, headers=auth))
    beat = {"device_id": device_id, "ts": "2026-11-24T05:47:30Z", "uptime_s": 5}
    check("POST", contract.HEARTBEAT_PATH, app.post(contract.HEARTBEAT_PATH, json=beat, headers=auth))
    config = app.get(contract.DEVICE_CONFIG_PATH, params={"device_id": device_id}, headers=auth)
    check("GET", contract.DEVICE_CONFIG_PATH, config)
    with app.admin_client() as admin:
        for path in ("/api/v1/admin/devices", "/api/v1/admin/settings", "/api/v1/admin/session"):
            check("GET", path, admin.get(path))
        for real in (device_id, "nope"):
            check("GET", "/api/v1/admin/devices/{device_id}", admin.get(f"/api/v1/admin/devices/{real}"))
    check("GET", "/api/v1/admin/devices", app.get("/api/v1/admin/devices"))
