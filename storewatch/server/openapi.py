"""The OpenAPI 3.1 document of the API, built from the rules the server itself enforces.

Request and answer schemas come from their one source: the contract's field rules
(`FRAME_META_RULES`, `HEARTBEAT_RULES`), its dataclasses (`DeviceConfig`, `IngestResult`)
and the settings registries. Operations are one `Operation` entry each (see
`openapi_routes.OPERATIONS`); what an entry leaves out — path parameters, who may call,
the error answers every such route can give — the builder fills in from the path.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from storewatch import contract
from storewatch.contract import ConfigField, FieldRule
from storewatch.server.admin_auth import ADMIN_PREFIX, COOKIE, CSRF_HEADER, SAFE_METHODS
from storewatch.settings import Setting

Schema = dict[str, Any]

ERROR_REF = {"$ref": "#/components/schemas/Error"}
DEVICE_ID_SCHEMA: Schema = {"type": "string", "pattern": contract.DEVICE_ID_PATTERN.pattern,
                            "maxLength": 64}

# Path parameters that mean the same everywhere; any other takes its converter's type.
PARAM_SCHEMAS: dict[str, Schema] = {"device_id": DEVICE_ID_SCHEMA}
_CONVERTER_SCHEMAS: dict[str, Schema] = {
    "str": {"type": "string", "pattern": "^[^/]+$"},
    "path": {"type": "string"},
    "int": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
}
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?}")

# Who may call: a security requirement list per kind of caller.
DEVICE_AUTH = "device"
ADMIN_AUTH = "admin"
NO_AUTH = "none"
METRICS_AUTH = "metrics"  # an admin API token, or nothing when the metrics_open setting is on
_SECURITY = {
    DEVICE_AUTH: [{"deviceBearer": []},
                  {"hmacDeviceId": [], "hmacTimestamp": [], "hmacNonce": [], "hmacSignature": []}],
    ADMIN_AUTH: [{"adminSession": []}, {"adminToken": []}],
    ADMIN_AUTH + "-unsafe": [{"adminSession": [], "adminCsrf": []}, {"adminToken": []}],
    METRICS_AUTH: [{"adminToken": []}, {}],
    NO_AUTH: [],
}

_STATUS_TEXT = {
    400: "The request is malformed (not JSON, not an object, not the expected form).",
    401: "Missing, unknown or wrong credentials.",
    403: "The credentials do not allow this (another device's, a disabled device, a wrong CSRF token).",
    404: "No such resource.",
    408: "The request body did not arrive within the body deadline.",
    409: "The request conflicts with what is stored.",
    413: "The request body is over its limit.",
    415: "The payload's media type is not accepted.",
    422: "A field is missing, of the wrong type or out of range; one entry per bad field.",
    429: "Too many attempts; wait Retry-After seconds.",
    503: "The appliance is shutting down or busy; retry after Retry-After seconds.",
    507: "The appliance is below its disk reserve; nothing stored, keep the data and retry later.",
}


@dataclass(frozen=True)
class Operation:
    """One route and method of the API, as the document describes it.

    Only `method`, `path` (the Starlette path, converters included) and `summary` are
    required; the rest default to what the path implies.
    """

    method: str
    path: str
    summary: str
    auth: str | None = None  # DEVICE_AUTH / ADMIN_AUTH / NO_AUTH; None: from the path
    body: Schema | None = None  # a JSON body's schema, or {"content": {...}} for other media
    query: tuple[Schema, ...] = ()  # OpenAPI parameter objects (in: query / header)
    params: dict[str, Schema] = field(default_factory=dict)  # path parameter schemas, by name
    answers: dict[int, Any] = field(default_factory=lambda: {200: {"type": "object"}})
    errors: dict[int, str] = field(default_factory=dict)  # status -> when; added to the defaults
    tag: str = ""
    description: str = ""

    @property
    def caller(self) -> str:
        if self.auth is not None:
            return self.auth
        if self.path.startswith(ADMIN_PREFIX):
            return ADMIN_AUTH
        return NO_AUTH


def openapi_path(route_path: str) -> str:
    """`/events/{event_id:int}` -> `/events/{event_id}`: the document's form of a route path."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", route_path)


def path_parameters(route_path: str, schemas: dict[str, Schema] | None = None) -> list[Schema]:
    params = []
    for name, converter in _PARAM.findall(route_path):
        schema = ((schemas or {}).get(name) or PARAM_SCHEMAS.get(name)
                  or _CONVERTER_SCHEMAS.get(converter or "str", {"type": "string"}))
        params.append({"name": name, "in": "path", "required": True, "schema": dict(schema)})
    return params


# --- schemas from the rules ---------------------------------------------------------------


def rule_schema(rule: FieldRule) -> Schema:
    """The JSON Schema of one contract field rule."""
    kinds = rule.kind if isinstance(rule.kind, tuple) else (rule.kind,)
    schema: Schema = {"type": "integer" if kinds == (int,) else "string" if str in kinds else "number"}
    if rule.minimum is not None:
        schema["minimum"] = number(rule.minimum)
    if rule.maximum is not None:
        schema["maximum"] = number(rule.maximum)
    if rule.max_length is not None:
        schema["maxLength"] = rule.max_length
    if rule.choices is not None:
        schema["enum"] = list(rule.choices)
    if rule.timestamp:
        schema["format"] = "date-time"
        schema["description"] = "RFC 3339 with an offset, e.g. 2026-11-24T05:47:30.120Z" + (
            f"; {rule.note}" if rule.note else "")
    if rule.name == "device_id":
        schema["pattern"] = contract.DEVICE_ID_PATTERN.pattern
    return schema


def rules_schema(rules: tuple[FieldRule, ...], description: str = "") -> Schema:
    """An object schema for a rule set; unknown fields are allowed (and ignored by the server)."""
    schema: Schema = {
        "type": "object",
        "properties": {rule.name: rule_schema(rule) for rule in rules},
        "required": [rule.name for rule in rules if rule.required],
    }
    if description:
        schema["description"] = description
    return schema


def setting_schema(setting: Setting | ConfigField) -> Schema:
    kind = {bool: "boolean", int: "integer", float: "number"}.get(setting.kind, "string")
    schema: Schema = {"type": kind, "default": setting.default}
    if setting.minimum is not None:
        schema["minimum"] = number(setting.minimum)
    if setting.maximum is not None:
        schema["maximum"] = number(setting.maximum)
    if setting.help:
        schema["description"] = setting.help
    return schema


def settings_schema(registry: dict[str, Setting], description: str = "") -> Schema:
    """A partial update of settings: any subset of the registry's names, each in its bounds."""
    schema: Schema = {"type": "object", "additionalProperties": False,
                      "properties": {name: setting_schema(s) for name, s in registry.items()}}
    if description:
        schema["description"] = description
    return schema


def dataclass_schema(cls: type, overrides: dict[str, Schema] | None = None) -> Schema:
    """An object schema from a dataclass's annotated fields: all of them are always present."""
    hints = typing.get_type_hints(cls)
    properties = {f.name: (overrides or {}).get(f.name) or _type_schema(hints[f.name])
                  for f in dataclasses.fields(cls)}
    return {"type": "object", "properties": properties, "required": list(properties)}


def _type_schema(hint: Any) -> Schema:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [_type_schema(arg) for arg in typing.get_args(hint)]
        return {"type": [m["type"] for m in members]}
    origin = typing.get_origin(hint) or hint
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean",
                     dict: "object", list: "array", type(None): "null"}[origin]}


def number(value: float) -> float | int:
    """2.0 -> 2, for a tidy document."""
    return int(value) if float(value).is_integer() else value


# --- the document -------------------------------------------------------------------------


def error_response(status: int, when: str = "") -> Schema:
    return {"description": when or _STATUS_TEXT.get(status, "An error."),
            "content": {"application/json": {"schema": ERROR_REF}}}


def _answer(status: int, answer: Any) -> Schema:
    """An answer entry: a schema (JSON), a ready response object (has `description`), or None."""
    if answer is None:
        return {"description": "No body."}
    if "description" in answer:
        return answer
    return {"description": "Success.", "content": {"application/json": {"schema": answer}}}


def _default_errors(op: Operation) -> dict[int, str]:
    errors: dict[int, str] = {}
    if op.caller == DEVICE_AUTH:
        errors |= {401: _STATUS_TEXT[401], 403: "The token is another device's, or the device is disabled.",
                   503: _STATUS_TEXT[503]}
    elif op.caller == METRICS_AUTH:
        errors[401] = "No valid admin API token, and the metrics_open setting is off."
    elif op.caller == ADMIN_AUTH:
        errors[401] = "Not logged in and no valid admin API token."
        if op.method.upper() not in SAFE_METHODS:
            errors[403] = "A session without the right X-CSRF-Token header."
    if _PARAM.search(op.path):
        errors[404] = _STATUS_TEXT[404]
    if op.body is not None:
        errors |= {400: _STATUS_TEXT[400], 408: _STATUS_TEXT[408], 413: _STATUS_TEXT[413],
                   422: _STATUS_TEXT[422]}
    return errors


def _operation_object(op: Operation) -> Schema:
    unsafe = op.caller == ADMIN_AUTH and op.method.upper() not in SAFE_METHODS
    operation: Schema = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "tags": [op.tag or _tag_of(op)],
        "security": _SECURITY[op.caller + ("-unsafe" if unsafe else "")],
        "responses": {},
    }
    if op.description:
        operation["description"] = op.description
    parameters = path_parameters(op.path, op.params) + [dict(p) for p in op.query]
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        content = op.body["content"] if "content" in op.body else {"application/json": {"schema": op.body}}
        operation["requestBody"] = {"required": True, "content": content}
    responses = {str(status): _answer(status, answer) for status, answer in op.answers.items()}
    for status, when in sorted((_default_errors(op) | op.errors).items()):
        responses[str(status)] = error_response(status, when)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _operation_id(op: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", openapi_path(op.path).removeprefix(contract.API_PREFIX))
    return op.method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


def _tag_of(op: Operation) -> str:
    if op.caller == DEVICE_AUTH:
        return "device"
    if op.path.startswith(ADMIN_PREFIX):
        return "admin"
    return "appliance"


def error_schema() -> Schema:
    detail = {"type": "object", "required": ["field", "message"],
              "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}
    return {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "description": "The one error shape of every 4xx/5xx answer of the API.",
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "details"],
            "properties": {"code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                           "message": {"type": "string"},
                           "details": {"type": "array", "items": detail}}}},
    }


def security_schemes() -> Schema:
    def header(name: str, what: str) -> Schema:
        return {"type": "apiKey", "in": "header", "name": name, "description": what}

    return {
        "deviceBearer": {"type": "http", "scheme": "bearer",
                         "description": "A device's token, issued by `storewatch device add`."},
        "hmacDeviceId": header("X-Device-Id", "HMAC scheme: the device's id."),
        "hmacTimestamp": header("X-Timestamp", f"HMAC scheme: unix seconds, within "
                                f"{contract.HMAC_WINDOW_S} s of the appliance's clock."),
        "hmacNonce": header("X-Nonce", f"HMAC scheme: {contract.NONCE_MIN}-{contract.NONCE_MAX} "
                            "characters, never reused inside the time window."),
        "hmacSignature": header("X-Signature", "HMAC scheme: hex(hmac_sha256(token, METHOD \\n PATH "
                                "\\n TIMESTAMP \\n NONCE \\n hex(sha256(body))))."),
        "adminSession": {"type": "apiKey", "in": "cookie", "name": COOKIE,
                         "description": "The session cookie set by POST /api/v1/admin/login."},
        "adminCsrf": header(CSRF_HEADER.title(), "The session's CSRF token, on every state-changing "
                            "request of a cookie session."),
        "adminToken": {"type": "http", "scheme": "bearer", "bearerFormat": "swa_<id>_<secret>",
                       "description": "An admin API token from `storewatch admin token`."},
    }


def build_document(operations: typing.Iterable[Operation], version: str) -> Schema:
    paths: dict[str, Schema] = {}
    for op in operations:
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = _operation_object(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "storewatch", "version": version,
                 "description": "The device contract (v1) and the admin API of a storewatch appliance."},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"Error": error_schema()}, "securitySchemes": security_schemes()},
    }
